import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// PgBouncer in transaction pooling hands each transaction (each statement outside one) to any server connection, so
// nothing may rely on session state across transactions. The integration tests run through PgBouncer in CI; this
// check catches the constructs whose breakage would be silent or timing-dependent there.
const FORBIDDEN: [RegExp, string][] = [
  [/pg_(try_)?advisory_(un)?lock(_shared)?\s*\(/i, 'session advisory lock (use pg_advisory_xact_lock inside the transaction)'],
  [/['"`]\s*(UN)?LISTEN\s/, 'LISTEN/UNLISTEN'],
  [/['"`]\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|TO\b)/i, 'session SET (use SET LOCAL inside the transaction, or connection options)'],
  [/set_config\s*\([^)]*,\s*false\s*\)/i, 'session set_config'],
  [/['"`]\s*PREPARE\s/, 'named prepared statement'],
  [/\bname:\s*['"`][^'"`]*['"`]\s*,\s*(text|values):/, 'named prepared statement (pg query config with a name)'],
  [/WITH\s+HOLD/i, 'cursor held across transactions'],
  [/CREATE\s+TEMP(ORARY)?\s+TABLE/i, 'temporary table outliving a transaction'],
];

function sources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (entry === 'node_modules' || entry === 'dist' || entry === 'test') continue;
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|sql)$/.test(entry)) files.push(full);
    }
  };
  for (const root of ['packages', 'services']) walk(root);
  return files;
}

test('no service or package relies on PostgreSQL session state across transactions', () => {
  const files = sources();
  assert.ok(files.length > 20, `scanned ${files.length} files`);
  const found: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const [pattern, what] of FORBIDDEN) if (pattern.test(line)) found.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
