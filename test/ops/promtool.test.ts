import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startTestApi } from '../support/api.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// The metrics pass Prometheus's own linter (promtool, Debian package `prometheus`, installed by .ci/run).
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
let env: Awaited<ReturnType<typeof startTestApi>>;

before(async () => {
  assert.ok(existsSync(PROMTOOL), `promtool is required at ${PROMTOOL} (apt-get install prometheus)`);
  env = await startTestApi({ WARMPOOL_METRICS_REFRESH_MS: '500' });
  await seedPresets(env.db.pool, [{ name: 'a', instances: 2 }, { name: 'b', instances: 0 }]);
});
after(async () => env.stop());

test('the api /metrics output passes promtool check metrics and carries the per-preset gauges', async () => {
  // The per-preset gauges come from a cached collector; wait for its first refresh.
  const text = await waitFor(async () => {
    const body = await (await fetch(`${env.api.url}/metrics`)).text();
    return /warmpool_prebuilt_workspaces_desired\{[^}]*preset_name="a"[^}]*\} 2/.test(body) ? body : undefined;
  }, { what: 'the first metrics refresh' });
  assert.match(text, /warmpool_prebuilt_workspaces_desired\{[^}]*organization_name="[^"]+"[^}]*template_name="[^"]+"[^}]*preset_name="a"[^}]*\} 2/);
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});
