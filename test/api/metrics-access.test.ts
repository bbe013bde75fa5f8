import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seedOrganization } from '../support/seed.js';
import { startTestApi, userWithRole, type Role } from '../support/api.js';

// The api's pool metrics name every organization, template and preset: nobody below a site-wide owner reads them,
// except a scraper presenting WARMPOOL_METRICS_TOKEN.

const METRICS_TOKEN = 'scrape-credential-0123456789abcdefghij';
let withToken: Awaited<ReturnType<typeof startTestApi>>;
let withoutToken: Awaited<ReturnType<typeof startTestApi>>;

before(async () => {
  [withToken, withoutToken] = await Promise.all([startTestApi({ WARMPOOL_METRICS_TOKEN: METRICS_TOKEN }), startTestApi()]);
});
after(async () => Promise.all([withToken.stop(), withoutToken.stop()]));

const scrape = async (env: typeof withToken, authorization?: string) => {
  const res = await fetch(`${env.api.url}/metrics`, authorization ? { headers: { authorization } } : {});
  const text = await res.text();
  return { status: res.status, text };
};

/** The tokens of every role below site-wide owner (organization roles and the site-wide template admin). */
async function lesserTokens(env: typeof withToken): Promise<[string, string][]> {
  const org = await seedOrganization(env.db.pool, 'org-metrics');
  const roles: [Role, string | null][] = [['member', org], ['template-admin', org], ['org-admin', org], ['template-admin', null]];
  return Promise.all(roles.map(async ([role, o]) => [`${role}${o ? '' : ' (site-wide)'}`, (await userWithRole(env.db.pool, role, o)).token] as [string, string]));
}

test('with WARMPOOL_METRICS_TOKEN: the scrape credential or a site-wide owner reads /metrics; anyone else is refused', async () => {
  const scraped = await scrape(withToken, `Bearer ${METRICS_TOKEN}`);
  assert.equal(scraped.status, 200);
  assert.match(scraped.text, /# TYPE warmpool_prebuilt_workspaces_desired gauge/);
  const owner = await userWithRole(withToken.db.pool, 'owner', null);
  assert.equal((await scrape(withToken, `Bearer ${owner.token}`)).status, 200);

  for (const authorization of [undefined, `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
    const refused = await scrape(withToken, authorization);
    assert.equal(refused.status, 401, String(authorization));
    assert.doesNotMatch(refused.text, /warmpool_/);
  }
  for (const [who, token] of await lesserTokens(withToken)) {
    const refused = await scrape(withToken, `Bearer ${token}`);
    assert.deepEqual([refused.status, JSON.parse(refused.text).error], [403, 'forbidden'], who);
  }
  // The scrape credential is no API token.
  const api = await fetch(`${withToken.api.url}/api/v1/organizations/org-metrics/templates`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(api.status, 401);
});

test('without WARMPOOL_METRICS_TOKEN: only a site-wide owner reads /metrics', async () => {
  assert.equal((await scrape(withoutToken)).status, 401);
  assert.equal((await scrape(withoutToken, `Bearer ${METRICS_TOKEN}`)).status, 401);
  for (const [who, token] of await lesserTokens(withoutToken)) assert.equal((await scrape(withoutToken, `Bearer ${token}`)).status, 403, who);
  const owner = await userWithRole(withoutToken.db.pool, 'owner', null);
  const read = await scrape(withoutToken, `Bearer ${owner.token}`);
  assert.equal(read.status, 200);
  assert.match(read.text, /# TYPE warmpool_prebuilt_workspaces_desired gauge/);
});
