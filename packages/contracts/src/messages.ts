import { BuildRequested, type BuildReason } from './events.js';
import { buildRequestKey } from './keys.js';

export type BuildToAnnounce = {
  buildId: string;
  workspaceId: string;
  transition: 'start' | 'stop' | 'delete';
  templateVersionId: string;
  presetId: string | null;
  parameters: Record<string, string>;
  reason: BuildReason;
};

/** The validated build-requested payload of a build, with its idempotency key: one producer rule for every path. */
export function buildRequestedPayload(build: BuildToAnnounce): BuildRequested {
  // Fields are picked one by one: callers pass wider records, and the schema is strict.
  return BuildRequested.parse({
    buildId: build.buildId,
    workspaceId: build.workspaceId,
    transition: build.transition,
    templateVersionId: build.templateVersionId,
    presetId: build.presetId,
    parameters: build.parameters,
    reason: build.reason,
    idempotencyKey: buildRequestKey(build.buildId),
  });
}
