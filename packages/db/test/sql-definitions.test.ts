import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

const DIR = new URL('../migrations/', import.meta.url);
const DEFINITION = /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|VIEW|TRIGGER)\s+([a-z_][a-z0-9_]*)/gim;
const ROW = /^\| `([a-z0-9_]+)` \| (function|view|trigger) \| `([^`]+)` \|$/gm;

/** Each SQL function, view and trigger, with the newest migration that creates or replaces it. */
function currentDefinitions(): Map<string, string> {
  const current = new Map<string, string>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.sql')).sort()) {
    for (const [, kind, name] of readFileSync(new URL(file, DIR), 'utf8').matchAll(DEFINITION)) current.set(name!, `${kind!.toLowerCase()} ${file}`);
  }
  return current;
}

test('migrations/README.md names the migration holding the current definition of every SQL function, view and trigger', () => {
  const table = readFileSync(new URL('README.md', DIR), 'utf8');
  const listed = new Map([...table.matchAll(ROW)].map(([, name, kind, file]) => [name!, `${kind} ${file}`]));
  const current = currentDefinitions();
  assert.ok(current.get('claim_prebuild')?.endsWith('018_claim_name_first.sql'), 'the parser sees a CREATE OR REPLACE');
  assert.deepEqual(Object.fromEntries([...listed].sort()), Object.fromEntries([...current].sort()));
});
