import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { createQueueSet, createRedis, enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { REDIS_URL } from '../support/env.js';
import { launchChromium } from '../support/browser.js';
import { seedPresets } from '../support/seed.js';
import { startTestApi, userWithRole } from '../support/api.js';

// A person's view of the queue dashboard, in headless Chromium.
let env: Awaited<ReturnType<typeof startTestApi>>;
let browser: Browser;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
let owner: string;

before(async () => {
  env = await startTestApi();
  queues = createQueueSet(redis, env.prefix);
  owner = (await userWithRole(env.db.pool, 'owner', null)).token;
  // Jobs to look at: reconciles and build requests waiting (no worker runs in this test).
  const presets = await seedPresets(env.db.pool, [{ instances: 1 }, { instances: 2 }]);
  await enqueueReconciles(queues.reconcile, presets.map((p) => p.presetId), 'browser-test');
  await queues.buildRequests.add('build-requested', { note: 'visible in the dashboard' }, { jobId: 'build-demo', priority: 3 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await queues?.close();
  await redis.quit();
  await env?.stop();
});

test('an anonymous visit lands on the login page; an owner signs in and sees the queues with their jobs', async () => {
  const page = await browser.newPage();
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(env.api.url) && !req.url().startsWith('data:')) external.push(req.url());
  });
  await page.goto(`${env.api.url}/admin/queues/`);
  assert.match(page.url(), /\/admin\/login$/);
  await page.fill('#token', owner);
  await Promise.all([page.waitForURL(/\/admin\/queues\/$/), page.click('button[type=submit]')]);
  await page.getByText('reconcile', { exact: true }).first().waitFor({ timeout: 15_000 });
  await page.getByText('build-requests', { exact: true }).first().waitFor({ timeout: 15_000 });
  const body = await page.textContent('body');
  assert.match(body ?? '', /Warmpool queues/);
  await page.getByText('reconcile', { exact: true }).first().click();
  await page.waitForLoadState('networkidle');
  mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
  assert.ok(statSync('test-results/dashboard.png').size > 10_000, 'a real screenshot');
  assert.deepEqual(external, [], 'no asset from outside the machine');
});
