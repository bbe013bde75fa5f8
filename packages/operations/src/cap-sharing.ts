import { enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { presetsNextInLine, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';

/** At most this many waiting presets are woken per hand-off (the free slots bound it first). */
const HANDOFF_LIMIT = 100;

/**
 * Gives free in-flight slots to the presets next in fair order by reconciling them now (deduplicated jobs), instead
 * of leaving the slots idle until their capped retry. Called when a create build ends (its slot is freed) and when
 * a capped reconcile left slots to presets ahead of it. Failures are logged: the capped retry is the safety net.
 */
export async function handOffFreeSlots(pool: Pool, queues: QueueSet, log: Logger): Promise<void> {
  try {
    const next = await presetsNextInLine(pool, HANDOFF_LIMIT);
    await enqueueReconciles(queues.reconcile, next, 'slot-free');
  } catch (err) {
    log.warn({ err }, 'in-flight slot hand-off failed; capped presets retry later');
  }
}
