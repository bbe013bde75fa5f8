import { armWakeUp, type QueueSet } from '@warmpool/bus';
import { checkStandby, FREEZE_CAPABILITY, MAX_INSTANCES, planStandby, type StandbyPlan } from '@warmpool/core';
import { loadStandbyPool, provisionersDeclare, requestStandby, lockStandby } from '@warmpool/db';
import { withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';

// A preset's standby fragment never changes (a version's manifest is immutable), so a preset seen without tiers
// needs no standby query again. Bounded: forgotten wholesale past this many.
const NO_TIERS_LIMIT = 100_000;
const noTiers = new Set<string>();

/**
 * The standby step of a preset's reconcile (issue 25): in one transaction under the preset's standby lock, its
 * eligible prebuilds and tiers are read, `planStandby` (core) decides which to freeze or thaw, and the requests are
 * written with their outbox messages. Returns the plan, or null for a preset without tiers. A request still
 * unconfirmed when due is made again (a wake-up is armed for then).
 */
export async function reconcileStandby(deps: OutboxDeps & { queues: QueueSet }, presetId: string, desired: number, now = new Date()): Promise<StandbyPlan | null> {
  if (noTiers.has(presetId)) return null;
  const plan = await withOutboxTransaction(deps, async (client) => {
    await lockStandby(client, presetId);
    const pool = await loadStandbyPool(client, presetId);
    if (pool.standby === null || pool.standby === undefined) {
      if (noTiers.size >= NO_TIERS_LIMIT) noTiers.clear();
      noTiers.add(presetId);
      return null;
    }
    // Stored data is re-checked, never trusted: an unusable fragment means no tiers (all hot), logged.
    const checked = checkStandby(pool.standby, MAX_INSTANCES);
    if (!checked.standby) deps.logger.warn({ presetId, problems: checked.problems }, 'stored standby tiers unusable: the standby runs hot');
    const capable = await provisionersDeclare(client, FREEZE_CAPABILITY);
    const plan = planStandby({ standby: checked.standby, desired, capable, prebuilds: pool.prebuilds, now });
    if (plan.requests.length > 0) {
      await requestStandby(client, plan.requests, now);
      deps.logger.info({ presetId, requests: plan.requests, hot: plan.hot, frozen: plan.frozen }, 'standby tiers: freeze and thaw requested');
    }
    return plan;
  });
  // A request lost on the way (or failed) is made again when due: a wake-up, as for schedule boundaries.
  if (plan?.recheckAt) await armWakeUp(deps.queues.reconcile, presetId, plan.recheckAt, 'standby-recheck');
  return plan;
}
