import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkspaceSchema } from '@warmpool/core';
import type { BuildTarget } from '@warmpool/db';
import { containerConfig, engineMessage, isRetryable, LABEL } from '../src/engine.js';
import { loadDockerOptions } from '../src/index.js';

const target = (): BuildTarget => ({
  buildId: randomUUID(),
  workspaceId: randomUUID(),
  workspaceName: 'prebuild-1',
  organizationId: randomUUID(),
  templateId: randomUUID(),
  templateVersionId: randomUUID(),
  presetId: randomUUID(),
  ownerId: randomUUID(),
  ownerName: 'prebuilds',
  workspace: null,
  active: true,
  frozenAt: null,
});

test('options: defaults, parsing, and errors naming the variable', () => {
  assert.deepEqual(loadDockerOptions({}), { concurrency: 8, instance: 'default', mountPath: '/workspace', stopTimeoutSeconds: 5, lockMs: 30_000 });
  assert.equal(loadDockerOptions({ DOCKER_PROVISIONER_CONCURRENCY: '3', DOCKER_PROVISIONER_INSTANCE: 'ci-1' }).instance, 'ci-1');
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_CONCURRENCY: '0' }), /DOCKER_PROVISIONER_CONCURRENCY/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_INSTANCE: 'a b' }), /DOCKER_PROVISIONER_INSTANCE/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_MOUNT_PATH: 'relative' }), /DOCKER_PROVISIONER_MOUNT_PATH/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_LOCK_MS: '10' }), /DOCKER_PROVISIONER_LOCK_MS/);
});

test('engine errors: the engine message, and 4xx is not retryable while 5xx and connection errors are', () => {
  const missing = Object.assign(new Error('(HTTP code 404) no such container - No such image: x:1 '), { statusCode: 404, json: { message: 'No such image: x:1' } });
  assert.equal(engineMessage(missing), 'No such image: x:1');
  assert.equal(isRetryable(missing), false);
  assert.equal(isRetryable(Object.assign(new Error('bad'), { statusCode: 400 })), false);
  assert.equal(isRetryable(Object.assign(new Error('daemon busy'), { statusCode: 500 })), true);
  assert.equal(isRetryable(Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' })), true);
  assert.equal(engineMessage(new Error('(HTTP code 409) conflict - name in use')), 'name in use');
});

test('container config: labels, substituted env, limits, health check in nanoseconds, volume mount', () => {
  const spec = WorkspaceSchema.parse({
    image: 'busybox:1',
    command: ['sleep', '10'],
    env: { REGION: '${region}', LITERAL: '$${region}' },
    labels: { team: 'x' },
    resources: { cpus: 0.5, memory: '64m' },
    healthcheck: { command: ['true'], interval_seconds: 0.2 },
  });
  const t = target();
  const config = containerConfig(spec, t, { region: 'eu' }, { instance: 'ci', mountPath: '/home' });
  assert.equal(config.name, `warmpool-${t.workspaceId}`);
  assert.deepEqual(config.Cmd, ['sleep', '10']);
  assert.deepEqual(config.Env, ['REGION=eu', 'LITERAL=${region}', `WARMPOOL_WORKSPACE_ID=${t.workspaceId}`]);
  assert.equal(config.Labels?.team, 'x');
  assert.equal(config.Labels?.[LABEL.instance], 'ci');
  assert.equal(config.Labels?.[LABEL.workspace], t.workspaceId);
  assert.equal(config.Labels?.[LABEL.organization], t.organizationId);
  assert.equal(config.Labels?.[LABEL.build], t.buildId);
  assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'true'], Interval: 200_000_000, Timeout: 5_000_000_000, Retries: 3, StartPeriod: 0 });
  assert.equal(config.HostConfig?.NanoCpus, 500_000_000);
  assert.equal(config.HostConfig?.Memory, 64 * 1024 * 1024);
  assert.deepEqual(config.HostConfig?.Mounts, [{ Type: 'volume', Source: `warmpool-${t.workspaceId}`, Target: '/home' }]);
  const bare = containerConfig(WorkspaceSchema.parse({ image: 'busybox' }), t, {}, { instance: 'ci', mountPath: '/w' });
  assert.equal(bare.Healthcheck, undefined);
  assert.equal(bare.Cmd, undefined, 'the image default command');
  assert.equal(bare.HostConfig?.Memory, undefined);
});
