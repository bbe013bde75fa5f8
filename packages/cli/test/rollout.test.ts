import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliTestBed } from './run-cli.js';

// `warmpool import --staged` and `warmpool rollout …` (BEHAVIOUR.md §4.7) from the sources, against a test database.
const bed = cliTestBed();
const { warmpool } = bed;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'warmpool-cli-rollout-'));
const manifest = JSON.parse(readFileSync('examples/web-app.json', 'utf8')) as Record<string, unknown>;
const version = (name: string) => {
  const file = path.join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...manifest, name }));
  return file;
};
const state = async () =>
  (await bed.db.pool.query(`SELECT (SELECT count(*)::int FROM template_versions) AS versions, (SELECT json_agg(state ORDER BY started_at) FROM template_rollouts) AS rollouts`)).rows[0];

test('import --staged starts a rollout; status shows it per preset; cancel ends it; refusals exit 2 naming the flag', async () => {
  assert.equal(warmpool('org', 'create', 'acme').code, 0);
  assert.equal(warmpool('import', version('v1'), '--org', 'acme', '--template', 'web', '--activate').code, 0);

  const before = await state();
  const badSurge = warmpool('import', version('v2'), '--org', 'acme', '--template', 'web', '--staged', '--surge', '0', '--deadline', '5');
  assert.equal(badSurge.code, 2);
  assert.match(badSurge.stderr, /--surge: a build count must be from 1 to 1000/);
  assert.match(badSurge.stderr, /--deadline: must be an integer from 60 to 86400 seconds/);
  assert.equal(warmpool('import', version('v2'), '--org', 'acme', '--template', 'web', '--surge', '2').code, 2, '--surge without --staged');
  assert.equal(warmpool('import', version('v2'), '--org', 'acme', '--template', 'web', '--staged', '--activate').code, 2);
  assert.deepEqual(await state(), before, 'nothing stored');

  const staged = warmpool('import', version('v2'), '--org', 'acme', '--template', 'web', '--staged', '--surge', '50%', '--json');
  assert.equal(staged.code, 0, staged.stderr);
  const result = JSON.parse(staged.stdout) as { activated: boolean; rollout: { surge: string; surgeBuilds: number } };
  assert.equal(result.activated, false);
  assert.equal(result.rollout.surge, '50%');

  const status = warmpool('rollout', 'status', '--org', 'acme', '--template', 'web');
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /rollout of version v2: staged/);
  assert.match(status.stdout, /eu-small\s+0\/3\s+0\s+healthy\s+warming/);

  const second = warmpool('import', version('v3'), '--org', 'acme', '--template', 'web', '--staged');
  assert.equal(second.code, 2);
  assert.match(second.stderr, /in progress/);

  const canceled = warmpool('rollout', 'cancel', '--org', 'acme', '--template', 'web', '--json');
  assert.equal(canceled.code, 0, canceled.stderr);
  assert.equal((JSON.parse(canceled.stdout) as { rollout: { state: string } }).rollout.state, 'canceled');
  const promote = warmpool('rollout', 'promote', '--org', 'acme', '--template', 'web');
  assert.equal(promote.code, 2);
  assert.match(promote.stderr, /already canceled/);
  assert.deepEqual((await state()).rollouts, ['canceled']);
});
