import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemory, renderWorkspaceEnv, validateManifest, WorkspaceSchema } from '@warmpool/core';

type Json = Record<string, unknown>;

const manifest = (workspace: unknown, extra: Json = {}): Json => ({
  name: 'v1',
  parameters: [{ name: 'region', default: 'eu' }, { name: 'size' }],
  presets: [{ name: 'p', parameters: { region: 'eu' } }],
  workspace,
  ...extra,
});

const full = {
  image: 'registry.example.com:5000/team/dev-env:1.2',
  command: ['sh', '-c', 'sleep 3600'],
  env: { REGION: '${region}', GREETING: 'hi $${literal}', EMPTY: '' },
  labels: { team: 'payments', 'cost-center': '42' },
  resources: { cpus: 0.5, memory: '256m', pids: 256 },
  healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.5 },
  claim_hook: { command: ['sh', '-c', 'echo $WARMPOOL_OWNER_NAME > /tmp/owner'] },
};

/** The problems at `path` of a manifest that must be rejected. */
function problemsAt(input: unknown, path: string): string[] {
  const result = validateManifest(input);
  assert.equal(result.ok, false, `expected rejection, got ${JSON.stringify(result)}`);
  return result.ok ? [] : result.errors.filter((e) => e.path === path).map((e) => e.message);
}

describe('manifest workspace block', () => {
  test('a complete block is accepted, defaults applied, and kept in the validated manifest', () => {
    const result = validateManifest(manifest(full));
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.value.workspace?.image, full.image);
    assert.deepEqual(result.value.workspace?.healthcheck, { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.5, timeout_seconds: 5, retries: 3, start_period_seconds: 0 });
    assert.equal(result.value.workspace?.claim_hook?.timeout_seconds, 60);
  });

  test('the block is optional, and the image is the only required field', () => {
    assert.equal(validateManifest({ name: 'v1' }).ok, true);
    assert.equal(validateManifest(manifest({ image: 'busybox' })).ok, true);
    assert.deepEqual(problemsAt(manifest({}), 'workspace.image'), ['is required']);
  });

  const refused: [string, unknown, string, RegExp][] = [
    ['not an object', 'busybox', 'workspace', /must be an object/],
    ['bad image', { image: 'Not An Image!' }, 'workspace.image', /image reference/],
    ['command as a string', { image: 'busybox', command: 'sleep 1' }, 'workspace.command', /list of strings/],
    ['empty command', { image: 'busybox', command: [] }, 'workspace.command', /program/],
    ['empty argument', { image: 'busybox', command: ['sleep', ''] }, 'workspace.command[1]', /non-empty/],
    ['bad env name', { image: 'busybox', env: { '1X': 'a' } }, 'workspace.env.1X', /letters, digits/],
    ['env value not a string', { image: 'busybox', env: { X: 3 } }, 'workspace.env.X', /string/],
    ['env naming an undeclared parameter', { image: 'busybox', env: { X: 'a-${nope}' } }, 'workspace.env.X', /\$\{nope\} names no declared parameter/],
    ['reserved label', { image: 'busybox', labels: { 'warmpool.workspace': 'x' } }, 'workspace.labels.warmpool.workspace', /reserved/],
    ['zero cpus', { image: 'busybox', resources: { cpus: 0 } }, 'workspace.resources.cpus', /more than 0/],
    ['tiny memory', { image: 'busybox', resources: { memory: '1m' } }, 'workspace.resources.memory', /at least 6m/],
    ['memory nonsense', { image: 'busybox', resources: { memory: 'lots' } }, 'workspace.resources.memory', /size such as/],
    ['zero processes', { image: 'busybox', resources: { pids: 0 } }, 'workspace.resources.pids', /at least 1/],
    ['fractional processes', { image: 'busybox', resources: { pids: 1.5 } }, 'workspace.resources.pids', /integer/],
    ['health retries 0', { image: 'busybox', healthcheck: { command: ['true'], retries: 0 } }, 'workspace.healthcheck.retries', /at least 1/],
    ['health interval too short', { image: 'busybox', healthcheck: { command: ['true'], interval_seconds: 0.01 } }, 'workspace.healthcheck.interval_seconds', /at least 0.1/],
    ['hook without command', { image: 'busybox', claim_hook: {} }, 'workspace.claim_hook.command', /required/],
    ['unknown field', { image: 'busybox', ports: [80] }, 'workspace.ports', /unknown field/],
  ];
  for (const [name, workspace, path, message] of refused) {
    test(`refused with its path: ${name}`, () => {
      const messages = problemsAt(manifest(workspace), path);
      assert.equal(messages.length, 1, `one problem at ${path}`);
      assert.match(messages[0]!, message);
    });
  }

  test('every problem of the block is reported at once', () => {
    const result = validateManifest(manifest({ image: '', resources: { cpus: -1 }, env: { X: '${missing}' } }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.errors.map((e) => e.path).sort(), ['workspace.env.X', 'workspace.image', 'workspace.resources.cpus']);
  });
});

describe('workspace helpers', () => {
  test('environment values take the resolved build parameters; $${ stays literal; unknown names become empty', () => {
    assert.deepEqual(renderWorkspaceEnv(full.env, { region: 'us' }), { REGION: 'us', GREETING: 'hi ${literal}', EMPTY: '' });
    assert.deepEqual(renderWorkspaceEnv({ A: '${a}-${b}-${a}' }, { a: '1' }), { A: '1--1' });
    assert.deepEqual(renderWorkspaceEnv(undefined, {}), {});
    assert.deepEqual(renderWorkspaceEnv({ P: '${toString}' }, {}), { P: '' }, 'no prototype lookups');
  });

  test('memory sizes', () => {
    assert.equal(parseMemory('512m'), 512 * 1024 ** 2);
    assert.equal(parseMemory('2G'), 2 * 1024 ** 3);
    assert.equal(parseMemory('1048576'), 1_048_576);
    assert.equal(parseMemory(7_000_000), 7_000_000);
    for (const bad of ['', '1.5g', '-1', '10t', 0, 1.5]) assert.equal(parseMemory(bad), null, String(bad));
  });

  test('the schema alone parses a stored block (what provisioners do)', () => {
    assert.equal(WorkspaceSchema.safeParse(full).success, true);
    assert.equal(WorkspaceSchema.safeParse({ image: 'busybox', extra: 1 }).success, false);
  });
});
