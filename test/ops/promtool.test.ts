import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '@warmpool/runtime';
import { scrapeMetrics, startTestApi } from '../support/api.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// The metrics pass Prometheus's own linter (promtool, Debian package `prometheus`, installed by .ci/run).
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
// Read as Prometheus does (deploy/prometheus.yml): with the scrape credential.
const METRICS_TOKEN = 'promtool-scrape-token-0123456789abcdef';
let env: Awaited<ReturnType<typeof startTestApi>>;

before(async () => {
  assert.ok(existsSync(PROMTOOL), `promtool is required at ${PROMTOOL} (apt-get install prometheus)`);
  env = await startTestApi({ WARMPOOL_METRICS_REFRESH_MS: '500', WARMPOOL_METRICS_TOKEN: METRICS_TOKEN });
  await seedPresets(env.db.pool, [{ name: 'a', instances: 2 }, { name: 'b', instances: 0 }]);
});
after(async () => env.stop());

test('the api /metrics output passes promtool check metrics and carries the per-preset gauges', async () => {
  // The per-preset gauges come from a cached collector; wait for its first refresh.
  const text = await waitFor(async () => {
    const body = await scrapeMetrics(env.api.url, METRICS_TOKEN);
    return /warmpool_prebuilt_workspaces_desired\{[^}]*preset_name="a"[^}]*\} 2/.test(body) ? body : undefined;
  }, { what: 'the first metrics refresh' });
  assert.match(text, /warmpool_prebuilt_workspaces_desired\{[^}]*organization_name="[^"]+"[^}]*template_name="[^"]+"[^}]*preset_name="a"[^}]*\} 2/);
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});

test('deploy/prometheus.yml passes promtool check config and scrapes the api with the metrics token from .env', () => {
  const prometheus = parse(readFileSync('deploy/prometheus.yml', 'utf8')) as { scrape_configs: { job_name: string; authorization?: { type: string; credentials_file: string } }[] };
  const api = prometheus.scrape_configs.find((c) => c.job_name === 'warmpool-api');
  assert.equal(api?.authorization?.type, 'Bearer');
  const tokenFile = api.authorization.credentials_file;
  assert.ok(tokenFile, 'the api job reads its bearer token from a credentials_file');
  // The compose file's Prometheus writes .env's WARMPOOL_METRICS_TOKEN, the api's variable, to that file at start.
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
    'x-warmpool': { environment: Record<string, string> };
    services: { prometheus: { entrypoint: string[]; environment: Record<string, string> } };
  };
  assert.match(compose.services.prometheus.entrypoint.join(' '), new RegExp(`"\\$\\$WARMPOOL_METRICS_TOKEN" > ${tokenFile} `));
  assert.equal(compose.services.prometheus.environment.WARMPOOL_METRICS_TOKEN, '${WARMPOOL_METRICS_TOKEN}');
  assert.match(compose['x-warmpool'].environment.WARMPOOL_METRICS_TOKEN ?? '', /^\$\{WARMPOOL_METRICS_TOKEN:\?/);
  const demoToken = /^WARMPOOL_METRICS_TOKEN=(.*)$/m.exec(readFileSync('.env.example', 'utf8'))?.[1];
  assert.ok(demoToken, '.env.example sets WARMPOOL_METRICS_TOKEN');
  assert.ok(loadConfig({ WARMPOOL_METRICS_TOKEN: demoToken }).metricsToken, 'the api accepts .env.example\'s token');
  // promtool checks that the credentials file exists: check a copy pointing at a written token.
  const dir = mkdtempSync(path.join(tmpdir(), 'promtool-'));
  try {
    writeFileSync(path.join(dir, 'metrics-token'), demoToken);
    writeFileSync(path.join(dir, 'prometheus.yml'), readFileSync('deploy/prometheus.yml', 'utf8').replaceAll(tokenFile, path.join(dir, 'metrics-token')));
    const result = spawnSync(PROMTOOL, ['check', 'config', path.join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
