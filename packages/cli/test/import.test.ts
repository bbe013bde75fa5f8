import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from '../../../test/support/env.js';
import { testConfig } from '../../../test/support/pipeline.js';
import { ensureOrganization } from '../src/commands/bootstrap.js';
import { importManifestFile, readManifestFile } from '../src/commands/import.js';
import { UsageError } from '../src/output.js';

/** Import input checks that need no process of their own (the exit code path is covered by cli.test.ts). */

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'warmpool-cli-import-'));

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  await ensureOrganization(db.pool, 'acme');
});
after(async () => {
  await prefix.cleanup();
  await db.drop();
});

const stored = async () => (await db.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM templates) + (SELECT count(*) FROM template_versions) AS n')).rows[0]!.n;

test('a manifest file that is not UTF-8 is refused instead of being imported with replaced characters', async () => {
  const file = path.join(tmp, 'latin1.yaml');
  writeFileSync(file, Buffer.concat([Buffer.from('name: v1\npresets:\n  - name: caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  await assert.rejects(readManifestFile(file), (err: Error) => err instanceof UsageError && /not valid UTF-8/.test(err.message));
  await assert.rejects(readManifestFile(path.join(tmp, 'missing.yaml')), (err: Error) => err instanceof UsageError && /cannot read/.test(err.message));
  const good = path.join(tmp, 'good.yaml');
  writeFileSync(good, 'name: v1\npresets:\n  - name: café\n');
  assert.match(await readManifestFile(good), /café/);
});

test('a template name the API would refuse is refused here too, before anything is stored', async () => {
  const before = await stored();
  const config = testConfig(db.url, prefix.prefix);
  for (const template of ['My Template', 'UPPER', '-dash', 'x'.repeat(64), '']) {
    await assert.rejects(
      importManifestFile(db.pool, config, { text: 'name: v1\npresets: []\n', org: 'acme', template, activate: false }),
      (err: Error) => err instanceof UsageError && /--template/.test(err.message),
      template,
    );
  }
  assert.equal(await stored(), before);
  const ok = await importManifestFile(db.pool, config, { text: 'name: v1\npresets:\n  - name: p\n', org: 'acme', template: 'web_app-2', activate: false });
  assert.equal(ok.presets, 1);
  assert.equal(await stored(), before + 2);
});
