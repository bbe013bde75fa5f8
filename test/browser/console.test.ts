import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { desiredTimeline } from '@warmpool/core';
import { recordPoolSamples, SYSTEM_USER_ID } from '@warmpool/db';
import { ensureConsoleBuilt } from '../../services/api/console/build.js';
import { launchChromium } from '../support/browser.js';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';
import { seedEligiblePrebuild, startTestApi, userWithRole, type Role } from '../support/api.js';

// The pools console in headless Chromium (Debian's package, as the Bull Board test): each role's view, the
// schedule chart's data points, confirmed actions that change the pool, an accessibility scan, screenshots.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// Weekdays 09:00–16:59 UTC: three prebuilds, else one.
const SCHEDULE = { instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-16 * * 1-5', instances: 3 }] };

let env: Awaited<ReturnType<typeof startTestApi>>;
let browser: Browser;
const tokens = {} as Record<Role, string>;
let acme: { org: string; scheduled: string; flaky: string; warm: string };
let otherPreset: string;

async function seedFailedBuild(presetId: string, ids: { organizationId: string; templateId: string; versionId: string }, error: string): Promise<void> {
  const { rows } = await env.db.pool.query<{ id: string }>(
    `INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name, deleted)
     VALUES ($1, $2, $3, $4, $5, 'prebuild-failed-1', true) RETURNING id`,
    [ids.organizationId, ids.templateId, ids.versionId, presetId, SYSTEM_USER_ID],
  );
  await env.db.pool.query(
    `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, error, completed_at)
     VALUES ($1, 1, $2, 'start', $3, 'prebuild-create', 'failed', $4, now())`,
    [rows[0]!.id, ids.versionId, SYSTEM_USER_ID, error],
  );
}

before(async () => {
  await ensureConsoleBuilt();
  env = await startTestApi();
  const pool = env.db.pool;
  const organizationId = await seedOrganization(pool, 'acme');
  const templateId = await seedTemplate(pool, organizationId, 'web-app');
  const { versionId, presetIds } = await seedVersion(pool, templateId, [{ name: 'us-large', ...SCHEDULE }, { name: 'always-fails', instances: 2 }, { name: 'eu-small', instances: 1 }], { name: 'v1' });
  const [scheduled, flaky, warm] = presetIds as [string, string, string];
  const ids = { organizationId, templateId, versionId };
  await seedFailedBuild(flaky, ids, 'image pull failed: registry.example/broken:latest not found');
  await pool.query(`UPDATE presets SET status = 'hard_limited', status_reason = 'failure limit reached', status_changed_at = now() WHERE id = $1`, [flaky]);
  await seedEligiblePrebuild(pool, { presetId: warm, ...ids });
  // Demand history: eu-small served 3 of 4 requests in the last 24 h with a prebuild (75 %); us-large had none.
  await pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT $1, gen_random_uuid(), h, now() - make_interval(mins => m) FROM unnest($2::bool[], $3::int[]) AS e(h, m)`,
    [warm, [true, true, true, false], [30, 90, 200, 95]],
  );
  acme = { org: organizationId, scheduled, flaky, warm };
  const other = await seedOrganization(pool, 'globex');
  const otherTemplate = await seedTemplate(pool, other, 'secret-app');
  otherPreset = (await seedVersion(pool, otherTemplate, [{ name: 'hidden', instances: 1 }])).presetIds[0]!;
  tokens.owner = (await userWithRole(pool, 'owner', null)).token;
  tokens['template-admin'] = (await userWithRole(pool, 'template-admin', organizationId)).token;
  tokens['org-admin'] = (await userWithRole(pool, 'org-admin', organizationId)).token;
  tokens.member = (await userWithRole(pool, 'member', organizationId)).token;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await env?.stop();
});

/** A fresh browser profile signed in through the login form; records any request leaving the server. */
async function signIn(role: Role, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; external: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(env.api.url) && !req.url().startsWith('data:')) external.push(req.url());
  });
  await page.goto(`${env.api.url}/console/`);
  await page.getByLabel('API token').fill(tokens[role]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Exact: the login page's own heading, "Warmpool pools", would match too and return before the session is set.
  await page.getByRole('heading', { name: 'Pools', exact: true }).waitFor();
  return { context, page, external };
}

const presetRow = (page: Page, name: string) => page.locator(`tr[data-preset="${name}"]`);

/** A POST from the signed-in page itself (session cookie and console header), bypassing its disabled buttons. */
const postFromPage = (page: Page, path: string) =>
  page.evaluate(async (url) => {
    const res = await fetch(url, { method: 'POST', headers: { 'x-warmpool-console': '1', 'content-type': 'application/json' }, body: '{}' });
    return { status: res.status, body: (await res.json()) as { message: string } };
  }, path);

test('anonymous visitors get the login page; a wrong token is refused; the page loads nothing from outside under a strict CSP', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(env.api.url) && !req.url().startsWith('data:')) external.push(req.url());
  });
  const started = performance.now();
  const response = await page.goto(`${env.api.url}/console/`);
  await page.getByLabel('API token').waitFor();
  const loadMs = performance.now() - started;
  const csp = response?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.getByLabel('API token').fill('wp_thisisnotarealtokenatallnope');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Unknown or expired token.').waitFor();
  assert.deepEqual(external, []);
  console.log(`console login page ready in ${Math.round(loadMs)} ms`);
  await context.close();
});

test('an owner sees every organization, filters by organization and template, and the hard-limited preset', async () => {
  const { context, page, external } = await signIn('owner');
  await presetRow(page, 'secret-app/hidden').waitFor();
  await presetRow(page, 'web-app/always-fails').getByText('hard-limited').waitFor();
  assert.equal(await presetRow(page, 'web-app/eu-small').locator('[data-col=eligible]').textContent(), '1');
  await page.getByLabel('Organization').selectOption('acme');
  await presetRow(page, 'secret-app/hidden').waitFor({ state: 'detached' });
  await presetRow(page, 'web-app/us-large').waitFor();
  assert.equal(await page.locator('tr[data-preset]').count(), 3);
  await page.getByLabel('Template').selectOption('web-app');
  assert.match(page.url(), /org=acme&template=web-app/);
  assert.ok(await page.getByRole('button', { name: 'Pause reconciliation' }).isVisible(), 'owners may pause site-wide');
  assert.deepEqual(external, []);
  await context.close();
});

test('a template admin sees only their organization and may act; another organization\'s preset is not found', async () => {
  const { context, page } = await signIn('template-admin');
  await presetRow(page, 'web-app/us-large').waitFor();
  assert.equal(await presetRow(page, 'secret-app/hidden').count(), 0);
  assert.equal(await page.getByRole('button', { name: /reconciliation/ }).count(), 0, 'no site-wide pause for template admins');
  await page.goto(`${env.api.url}/console/presets/${acme.flaky}`);
  await page.getByTestId('preset-status').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Resume preset' }).isEnabled(), true);
  await page.goto(`${env.api.url}/console/presets/${otherPreset}`);
  await page.getByRole('alert').filter({ hasText: 'preset not found' }).waitFor();
  assert.equal(await page.getByTestId('pool-chart').count(), 0, 'nothing else of the preset is shown');
  await context.close();
});

test('an org admin reads the pools but is refused actions, with the role that is needed', async () => {
  const { context, page } = await signIn('org-admin');
  await page.getByRole('link', { name: 'web-app/always-fails' }).click();
  await page.getByTestId('read-only').getByText('need the owner or template-admin role').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Resume preset' }).isDisabled(), true);
  // The server refuses the action too, whatever the page shows.
  const refused = await postFromPage(page, `/api/v1/presets/${acme.flaky}/resume`);
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /needs the owner or template-admin role/);
  await context.close();
});

test('a member reads the organization\'s pools and hit rates; actions are disabled with the role needed and refused by the API', async () => {
  const { context, page } = await signIn('member');
  await presetRow(page, 'web-app/always-fails').getByText('hard-limited').waitFor();
  assert.equal(await presetRow(page, 'secret-app/hidden').count(), 0, 'nobody sees another organization');
  assert.equal(await page.locator('tr[data-preset]').count(), 3);
  assert.match((await presetRow(page, 'web-app/eu-small').locator('[data-col=hit-rate]').textContent()) ?? '', /^75%/);
  const none = presetRow(page, 'web-app/us-large').locator('[data-col=hit-rate]');
  assert.match((await none.textContent()) ?? '', /^—.*No workspace requests recorded/);
  assert.equal(await page.getByRole('button', { name: /reconciliation/ }).count(), 0, 'no site-wide pause for members');
  await page.getByRole('link', { name: 'web-app/always-fails' }).click();
  await page.getByText('image pull failed: registry.example/broken:latest not found').waitFor();
  await page.getByTestId('read-only').getByText('need the owner or template-admin role for acme').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Resume preset' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Invalidate prebuilds' }).isDisabled(), true);
  const refused = await postFromPage(page, `/api/v1/presets/${acme.flaky}/invalidate`);
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /needs the owner or template-admin role/);
  assert.equal((await env.db.pool.query('SELECT 1 FROM presets WHERE id = $1 AND invalidated_at IS NULL', [acme.flaky])).rowCount, 1, 'nothing changed');
  await context.close();
});

test('a preset\'s page shows its hit rate and plots the recorded eligible counts, hits and misses per hour', async () => {
  // Two recorded samples of the pool, 2 and 3 days ago (5-minute buckets, kept 8 days).
  const dayMs = 86_400_000;
  const sampledAt = [3, 2].map((days) => new Date(Math.floor((Date.now() - days * dayMs) / 300_000) * 300_000));
  for (const [i, at] of sampledAt.entries()) await recordPoolSamples(env.db.pool, [{ presetId: acme.warm, desired: 1, eligible: i }], at, 300_000, 8 * dayMs);
  const { context, page } = await signIn('org-admin');
  await page.goto(`${env.api.url}/console/presets/${acme.warm}`);
  await page.getByTestId('pool-chart').locator('canvas').waitFor();
  assert.equal(await page.locator('.stats div', { hasText: 'Hit rate 24 h' }).locator('dd').textContent(), '75%');
  await page.getByTestId('hit-rate-detail').getByText('3 of 4 request(s) in the last 24 hours got a prebuild.').waitFor();
  await page.getByTestId('demand-totals').getByText('3 hit(s)').waitFor();
  // The seeded prebuild's agent is ready: its build reads usable in the builds table.
  await page.locator('table.builds td[data-label="Readiness"]', { hasText: 'usable' }).waitFor();
  type Series = { hits: { count: number }[]; misses: { count: number }[]; samples: { t: number; eligible: number }[] };
  const chart = await page.evaluate(() => (globalThis as unknown as { warmpoolChart?: Series }).warmpoolChart);
  const total = (list: { count: number }[] | undefined) => (list ?? []).reduce((n, h) => n + h.count, 0);
  assert.deepEqual([total(chart?.hits), total(chart?.misses)], [3, 1]);
  const recorded = new Set(sampledAt.map((at) => at.getTime() / 1000));
  assert.deepEqual(chart?.samples.filter((x) => recorded.has(x.t)).map((x) => x.eligible), [0, 1]);
  await context.close();
});

test('the chart plots the schedule preview of a known schedule, point by point', async () => {
  const { context, page } = await signIn('owner');
  await page.goto(`${env.api.url}/console/presets/${acme.scheduled}`);
  const figure = page.getByTestId('pool-chart');
  await figure.locator('canvas').waitFor();
  const points = JSON.parse((await figure.getAttribute('data-preview')) ?? '[]') as { t: number; desired: number }[];
  const fromWindow = await page.evaluate(() => (globalThis as unknown as { warmpoolChart?: { preview: unknown } }).warmpoolChart?.preview);
  assert.deepEqual(fromWindow, points);
  assert.ok(points.length >= 10, `a week of weekday windows has at least 10 changes (got ${points.length})`);
  const first = points[0]!;
  const last = points.at(-1)!;
  assert.ok(last.t - first.t >= 7 * 86_400 - 1, 'seven days');
  const expected = desiredTimeline(SCHEDULE, new Date(first.t * 1000), new Date(last.t * 1000)).map((p) => ({ t: p.at.getTime() / 1000, desired: p.instances }));
  if (expected.at(-1)!.t < last.t) expected.push({ t: last.t, desired: expected.at(-1)!.desired });
  assert.deepEqual(points, expected);
  for (const p of points.slice(1, -1)) {
    assert.equal(new Date(p.t * 1000).getUTCMinutes(), 0, 'changes happen on the hour');
    assert.ok([9, 17].includes(new Date(p.t * 1000).getUTCHours()), 'at 09:00 or 17:00 UTC');
  }
  const canvas = await figure.locator('canvas').boundingBox();
  assert.ok(canvas && canvas.width > 200 && canvas.height > 100, 'the canvas is drawn');
  await context.close();
});

test('an owner resumes the hard-limited preset and invalidates a pool through confirmations; the pool changes', async () => {
  const { context, page } = await signIn('owner');
  await page.goto(`${env.api.url}/console/presets/${acme.flaky}`);
  await page.getByText('image pull failed: registry.example/broken:latest not found').waitFor();
  await page.getByRole('button', { name: 'Resume preset' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(/Failures before now stop counting/).waitFor();
  await dialog.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.getByTestId('preset-status').getByText('healthy').waitFor();
  const { rows } = await env.db.pool.query<{ status: string }>('SELECT status FROM presets WHERE id = $1', [acme.flaky]);
  assert.equal(rows[0]!.status, 'healthy');

  await page.goto(`${env.api.url}/console/presets/${acme.warm}`);
  await page.locator('.stats div', { hasText: 'Eligible' }).locator('dd', { hasText: '1' }).waitFor();
  await page.getByRole('button', { name: 'Invalidate prebuilds' }).click();
  // Cancelling changes nothing; confirming invalidates.
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await env.db.pool.query('SELECT 1 FROM presets WHERE id = $1 AND invalidated_at IS NULL', [acme.warm])).rowCount, 1);
  await page.getByRole('button', { name: 'Invalidate prebuilds' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Invalidate' }).click();
  await page.locator('.stats div', { hasText: 'Expired' }).locator('dd', { hasText: '1' }).waitFor();
  await page.locator('.stats div', { hasText: 'Eligible' }).locator('dd', { hasText: '0' }).waitFor();

  await page.getByRole('button', { name: 'Pause reconciliation' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Pause', exact: true }).click();
  await page.getByText('reconciliation paused').waitFor();
  assert.equal((await env.db.pool.query(`SELECT 1 FROM settings WHERE key = 'reconciliation_paused' AND value = 'true'`)).rowCount, 1);
  await page.getByRole('button', { name: 'Resume reconciliation' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Resume', exact: true }).click();
  await page.getByText('reconciling').waitFor();
  await context.close();
});

test('a bearer header (from a proxy) works without the login page', async () => {
  const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${tokens['org-admin']}` } });
  const page = await context.newPage();
  await page.goto(`${env.api.url}/console/`);
  await presetRow(page, 'web-app/us-large').waitFor();
  assert.equal(await page.getByLabel('API token').count(), 0);
  await context.close();
});

test('keyboard only: skip link first, a confirmation opens with Enter, takes focus and closes with Escape', async () => {
  const { context, page } = await signIn('template-admin');
  await page.goto(`${env.api.url}/console/presets/${acme.warm}`);
  await page.getByTestId('preset-status').waitFor().catch(async (err: Error) => {
    throw new Error(`${err.message}; the page shows: ${await page.textContent('body')}`);
  });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent), 'Skip to content');
  await page.getByRole('button', { name: 'Resume preset' }).focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.equal(await dialog.evaluate((d) => d.contains((d.ownerDocument as unknown as { activeElement: unknown }).activeElement as never)), true, 'focus moved into the dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await context.close();
});

test('an expired session returns to the login page', async () => {
  const { userId, token } = await userWithRole(env.db.pool, 'template-admin', acme.org);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.api.url}/console/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await presetRow(page, 'web-app/us-large').waitFor();
  await env.db.pool.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [userId]);
  await page.getByText('Your session has expired').waitFor({ timeout: 15_000 });
  assert.ok(await page.getByLabel('API token').isVisible());
  await context.close();
});

test('no serious or critical accessibility violation; screenshots at desktop and phone widths', async () => {
  mkdirSync('test-results', { recursive: true });
  for (const [name, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]] as const) {
    const { context, page } = await signIn('owner', viewport);
    await presetRow(page, 'web-app/us-large').waitFor();
    for (const [view, path] of [['overview', '/console/'], ['preset', `/console/presets/${acme.scheduled}`]] as const) {
      if (view === 'preset') {
        await page.goto(`${env.api.url}${path}`);
        await page.getByTestId('pool-chart').locator('canvas').waitFor();
      }
      // Evaluated through the DevTools protocol, so the page's CSP (no inline or eval'd script) does not block it.
      await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async () => {
        type Axe = { run: (context: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
        const page = globalThis as unknown as { axe: Axe; document: unknown };
        const result = await page.axe.run(page.document);
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
      });
      const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(severe, [], `${view} at ${name} width`);
      const file = `test-results/console-${view}-${name}.png`;
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(statSync(file).size > 10_000, 'a real screenshot');
    }
    await context.close();
  }
});
