import { DomainError } from '@warmpool/contracts';
import { findTemplateByName, listRollouts, type Pool } from '@warmpool/db';
import { endRolloutNow, rolloutProgress, type RolloutProgress } from '@warmpool/operations';
import type { Config } from '@warmpool/runtime';
import { formatTable, UsageError } from '../output.js';
import { findOrganization } from './bootstrap.js';
import { reconcileNow, usageErrorFor } from './import.js';

/** The template's newest rollout with its per-preset progress (the one `promote` and `cancel` act on). */
async function newestRollout(pool: Pool, org: string, template: string): Promise<RolloutProgress> {
  const organizationId = await findOrganization(pool, org);
  const row = await findTemplateByName(pool, organizationId, template);
  if (!row) throw new UsageError(`template ${JSON.stringify(template)} not found in ${org}`);
  const [latest] = await listRollouts(pool, row.id, 1);
  if (!latest) throw new UsageError(`${org}/${template} has no rollout; start one with: warmpool import <manifest> --org ${org} --template ${template} --staged`);
  return (await rolloutProgress({ pool }, row.id, latest.id))!;
}

export const rolloutStatus = (pool: Pool, org: string, template: string) => newestRollout(pool, org, template);

/** Promote now or cancel the template's staged rollout (409-like refusals become usage errors, exit code 2). */
export async function endRollout(pool: Pool, config: Config, org: string, template: string, action: 'promote' | 'cancel'): Promise<RolloutProgress> {
  const current = await newestRollout(pool, org, template);
  try {
    const reconcile = (presetIds: readonly string[], trigger: string) => reconcileNow(config, presetIds, trigger);
    await endRolloutNow({ pool, reconcile }, { templateId: current.rollout.templateId, rolloutId: current.rollout.id, action });
  } catch (err) {
    throw err instanceof DomainError ? usageErrorFor(err) : err;
  }
  return (await rolloutProgress({ pool }, current.rollout.templateId, current.rollout.id))!;
}

export function renderRollout(p: RolloutProgress): string {
  const r = p.rollout;
  const head = [
    `rollout of version ${r.versionName}: ${r.state}${r.endReason ? ` (${r.endReason})` : ''}`,
    `surge ${r.surge} = ${r.surgeBuilds} staged build(s) in flight at most, ${p.inFlight} now; deadline ${r.deadlineAt.toISOString()}`,
  ];
  if (p.decision) head.push(`next: ${p.decision.kind}`);
  const rows = p.presets.map((x) => [x.name, `${x.eligible}/${x.threshold}`, String(x.starting), x.status, x.warm ? 'warm' : 'warming']);
  return `${head.join('\n')}\n${formatTable(['PRESET', 'ELIGIBLE/THRESHOLD', 'BUILDING', 'STATUS', ''], rows)}`;
}
