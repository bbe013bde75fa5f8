import { randomBytes } from 'node:crypto';
import { createApiToken, SYSTEM_USER_ID, type Pool } from '@warmpool/db';
import { createLogger } from '@warmpool/runtime';
import { startApi, type Api } from '@warmpool/api';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from './env.js';
import { testConfig } from './pipeline.js';

import type { Role } from '@warmpool/contracts';

// Contracts' role type (ROLES), re-exported so tests keep importing it from the kit.
export type { Role };

/** A running API on a free port over its own database and queue prefix. */
export async function startTestApi(overrides: Record<string, string> = {}): Promise<{ api: Api; db: TestDatabase; prefix: string; stop: () => Promise<void> }> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const api = await startApi({ config: testConfig(db.url, prefix.prefix, overrides), logger: createLogger('test', { level: 'silent' }), pool: db.pool, port: 0 });
  return {
    api,
    db,
    prefix: prefix.prefix,
    stop: async () => {
      await api.close();
      await prefix.cleanup();
      await db.drop();
    },
  };
}

/** A user with one role (site-wide when organizationId is null) and a fresh token. */
export async function userWithRole(pool: Pool, role: Role, organizationId: string | null): Promise<{ userId: string; token: string }> {
  const { rows } = await pool.query<{ id: string }>('INSERT INTO users (username) VALUES ($1) RETURNING id', [`${role}-${randomBytes(4).toString('hex')}`]);
  const userId = rows[0]!.id;
  await pool.query('INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3)', [userId, role, organizationId]);
  return { userId, token: await createApiToken(pool, userId, 'test') };
}

/** An eligible prebuild of the preset: system-owned, succeeded start build, all agents ready. */
export async function seedEligiblePrebuild(pool: Pool, p: { presetId: string; organizationId: string; templateId: string; versionId: string }): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [p.organizationId, p.templateId, p.versionId, p.presetId, SYSTEM_USER_ID, `prebuild-${randomBytes(4).toString('hex')}`],
  );
  const { rows: b } = await pool.query<{ id: string }>(
    `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, completed_at)
     VALUES ($1, 1, $2, 'start', $3, 'prebuild-create', 'succeeded', now()) RETURNING id`,
    [rows[0]!.id, p.versionId, SYSTEM_USER_ID],
  );
  await pool.query(`INSERT INTO agents (build_id, name, ready, ready_at) VALUES ($1, 'main', true, now())`, [b[0]!.id]);
  return rows[0]!.id;
}

/** The api's /metrics text, read with a bearer credential (a site-wide owner's API token, or WARMPOOL_METRICS_TOKEN). */
export async function scrapeMetrics(baseUrl: string, token: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  return res.text();
}

export function client(baseUrl: string) {
  return async (method: string, path: string, options: { token?: string; body?: unknown; raw?: string | Buffer; contentType?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.raw !== undefined) {
      body = options.raw;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, body: json as Record<string, unknown> & { details?: { path: string; message: string }[] } };
  };
}
