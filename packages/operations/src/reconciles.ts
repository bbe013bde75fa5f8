import { enqueueReconciles, type QueueSet, type ReconcileTrigger } from '@warmpool/bus';
import type { Logger } from '@warmpool/runtime';

/**
 * Asks for reconciles of presets whose pools an operation changed. Best effort by contract: when Redis is away the
 * scheduler's next tick reconciles them anyway, so a failure is reported, never thrown.
 */
export type TriggerReconciles = (presetIds: readonly string[], trigger: ReconcileTrigger) => Promise<void>;

/** The trigger of a process that holds a QueueSet (API, services): failures are logged. */
export function reconcilesThrough(queues: QueueSet, logger: Logger): TriggerReconciles {
  return (presetIds, trigger) =>
    enqueueReconciles(queues.reconcile, presetIds, trigger).catch((err: unknown) => logger.warn({ err, trigger }, 'could not trigger reconciles; the next tick will'));
}
