import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkspaceSchema } from '@warmpool/core';
import type { BuildTarget } from '@warmpool/db';
import { containerConfig, engineMessage, isRetryable, LABEL } from '../src/engine.js';
import { loadDockerOptions } from '../src/index.js';
import { BuildRefusal } from '../src/refusal.js';

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
  declarations: [{ name: 'region', required: false, options: ['eu', 'us'] }],
  active: true,
});

const LIMITS = { cpus: { default: 1, max: 4 }, memoryBytes: { default: 1024 ** 3, max: 8 * 1024 ** 3 }, pids: { default: 512, max: 4096 } };
const OPTIONS = { instance: 'ci', mountPath: '/home', limits: LIMITS };

test('options: defaults, parsing, and errors naming the variable', () => {
  assert.deepEqual(loadDockerOptions({}), { concurrency: 8, instance: 'default', mountPath: '/workspace', stopTimeoutSeconds: 5, lockMs: 30_000, limits: LIMITS });
  const set = loadDockerOptions({ DOCKER_PROVISIONER_DEFAULT_CPUS: '0.5', DOCKER_PROVISIONER_MAX_MEMORY: '16g', DOCKER_PROVISIONER_DEFAULT_MEMORY: '256m', DOCKER_PROVISIONER_MAX_PIDS: '100', DOCKER_PROVISIONER_DEFAULT_PIDS: '100' });
  assert.deepEqual(set.limits, { cpus: { default: 0.5, max: 4 }, memoryBytes: { default: 256 * 1024 ** 2, max: 16 * 1024 ** 3 }, pids: { default: 100, max: 100 } });
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_DEFAULT_CPUS: '8' }), /DOCKER_PROVISIONER_DEFAULT_CPUS: must not exceed DOCKER_PROVISIONER_MAX_CPUS/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_MAX_MEMORY: '512m' }), /DOCKER_PROVISIONER_DEFAULT_MEMORY: must not exceed DOCKER_PROVISIONER_MAX_MEMORY/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_MAX_MEMORY: 'lots' }), /DOCKER_PROVISIONER_MAX_MEMORY: must be a size/);
  assert.throws(() => loadDockerOptions({ DOCKER_PROVISIONER_MAX_PIDS: '1.5' }), /DOCKER_PROVISIONER_MAX_PIDS/);
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
  const config = containerConfig(spec, t, { region: 'eu' }, OPTIONS);
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
  assert.equal(config.HostConfig?.PidsLimit, 512, 'the default where the manifest does not say');
  assert.deepEqual(config.HostConfig?.SecurityOpt, ['no-new-privileges:true']);
  assert.deepEqual(config.HostConfig?.Mounts, [{ Type: 'volume', Source: `warmpool-${t.workspaceId}`, Target: '/home' }]);
  const bare = containerConfig(WorkspaceSchema.parse({ image: 'busybox' }), t, {}, { ...OPTIONS, mountPath: '/w' });
  assert.equal(bare.Healthcheck, undefined);
  assert.equal(bare.Cmd, undefined, 'the image default command');
  assert.deepEqual([bare.HostConfig?.NanoCpus, bare.HostConfig?.Memory, bare.HostConfig?.PidsLimit], [1e9, 1024 ** 3, 512], 'the operator defaults without resources');
  assert.deepEqual(bare.HostConfig?.SecurityOpt, ['no-new-privileges:true']);
});

test('container config: resources above the operator ceiling are refused, naming the variable; at the ceiling they pass', () => {
  const spec = (resources: Record<string, unknown>) => WorkspaceSchema.parse({ image: 'busybox', resources });
  const refused = (pattern: RegExp) => (err: unknown) => err instanceof BuildRefusal && pattern.test(err.message);
  assert.throws(() => containerConfig(spec({ cpus: 4.5 }), target(), {}, OPTIONS), refused(/asks for 4\.5 CPUs; this provisioner allows at most 4 \(DOCKER_PROVISIONER_MAX_CPUS\)/));
  assert.throws(() => containerConfig(spec({ memory: '9g' }), target(), {}, OPTIONS), refused(/9216 MiB of memory; .* at most 8192 MiB \(DOCKER_PROVISIONER_MAX_MEMORY\)/));
  assert.throws(() => containerConfig(spec({ pids: 5000 }), target(), {}, OPTIONS), refused(/5000 processes; .* at most 4096 \(DOCKER_PROVISIONER_MAX_PIDS\)/));
  const top = containerConfig(spec({ cpus: 4, memory: '8g', pids: 4096 }), target(), {}, OPTIONS);
  assert.deepEqual([top.HostConfig?.NanoCpus, top.HostConfig?.Memory, top.HostConfig?.PidsLimit], [4e9, 8 * 1024 ** 3, 4096]);
});

test('container config: only parameter values that satisfy the declarations are rendered', () => {
  const spec = WorkspaceSchema.parse({ image: 'busybox', env: { REGION: '${region}' } });
  const refused = (pattern: RegExp) => (err: unknown) => err instanceof BuildRefusal && pattern.test(err.message);
  assert.throws(() => containerConfig(spec, target(), { region: 'eu\nEVIL=1' }, OPTIONS), refused(/parameter "region" must not contain line breaks/));
  assert.throws(() => containerConfig(spec, target(), { region: 'mars' }, OPTIONS), refused(/parameter "region" is not one of the declared options/));
  assert.throws(() => containerConfig(spec, target(), { undeclared: 'a\rb' }, OPTIONS), refused(/parameter "undeclared" must not contain/));
  assert.deepEqual(containerConfig(spec, target(), { region: 'us' }, OPTIONS).Env?.[0], 'REGION=us');
});
