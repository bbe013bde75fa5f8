/**
 * The `day` bench's developers, in a process of their own: each planned request creates a workspace through the
 * API at its instant, then polls GET /workspaces/:id until it is usable (or its build failed, or `giveUpMs` passed),
 * and appends what it saw to the results file as a JSON line; after a session of `sessionMs` it deletes the
 * workspace (developers finish, and the engine is not left carrying every container of the day).
 * Usage: claimants.ts <plan.json> <results.jsonl>
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestRecord } from './figures.js';
import type { PresetName } from './trace.js';

export type ClaimantPlan = {
  api: string;
  token: string;
  giveUpMs: number;
  pollMs: number;
  sessionMs: number;
  requests: { sendAt: number; preset: PresetName; burst: boolean; templateId: string; name: string }[];
};

type Workspace = { id: string; usable: boolean; usable_at: string | null; latest_build: { job_status: string } | null };

const [planFile, resultsFile] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planFile!, 'utf8')) as ClaimantPlan;
const headers = { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' };

async function one(r: ClaimantPlan['requests'][number]): Promise<void> {
  await sleep(Math.max(0, r.sendAt - Date.now()));
  const sentAt = Date.now();
  const base = { preset: r.preset, burst: r.burst, sentAt };
  const res = await fetch(`${plan.api}/api/v1/organizations/day/workspaces`, { method: 'POST', headers, body: JSON.stringify({ template_id: r.templateId, name: r.name }) }).catch(() => undefined);
  if (res?.status !== 201) {
    appendFileSync(resultsFile!, `${JSON.stringify({ ...base, claimed: null, usableAt: null, failed: true } satisfies RequestRecord)}\n`);
    return;
  }
  const created = (await res.json()) as { claimed: boolean; workspace: Workspace };
  let ws = created.workspace;
  while (!ws.usable && Date.now() - sentAt < plan.giveUpMs && !['failed', 'canceled'].includes(ws.latest_build?.job_status ?? '')) {
    await sleep(plan.pollMs);
    const got = await fetch(`${plan.api}/api/v1/workspaces/${ws.id}`, { headers }).catch(() => undefined);
    if (got?.status === 200) ws = (await got.json()) as Workspace;
  }
  const usableAt = ws.usable && ws.usable_at ? Date.parse(ws.usable_at) : null;
  const failed = usableAt === null && ['failed', 'canceled'].includes(ws.latest_build?.job_status ?? '');
  const record: RequestRecord = { ...base, claimed: created.claimed, usableAt, failed, ...(usableAt === null && !failed ? { gaveUpAfter: Date.now() - sentAt } : {}) };
  appendFileSync(resultsFile!, `${JSON.stringify(record)}\n`);
  await sleep(plan.sessionMs);
  await fetch(`${plan.api}/api/v1/workspaces/${ws.id}`, { method: 'DELETE', headers: { authorization: headers.authorization } }).catch(() => undefined);
}

await Promise.all(plan.requests.map(one));
