import { randomUUID } from 'node:crypto';
import { buildRequestKey, type BuildRequested } from '@warmpool/contracts';

/** A valid build-requested payload (a prebuild create by default) with fresh ids; override any field. */
export function buildRequest(overrides: Partial<BuildRequested> = {}): BuildRequested {
  const buildId = randomUUID();
  return {
    buildId,
    workspaceId: randomUUID(),
    transition: 'start',
    templateVersionId: randomUUID(),
    presetId: randomUUID(),
    parameters: {},
    reason: 'prebuild-create',
    idempotencyKey: buildRequestKey(buildId),
    ...overrides,
  };
}
