import { loadPoolRows, recordPoolSamples, type Pool, type PoolSample } from '@warmpool/db';
import { sizePoolRows } from './sizing.js';

/** Pool history kept for the console: one sample per preset and bucket, pruned after `keepMs`. */
export const POOL_SAMPLES = { bucketMs: 5 * 60_000, keepMs: 8 * 86_400_000 };

/**
 * Records the console's pool history (`pool_samples`): the desired count as decided (schedule, expression or
 * forecast) and the eligible count of every active preset, once per sample bucket. The scheduler calls `record` on
 * each tick; a bucket this process already wrote costs nothing, and replicas writing the same bucket are
 * deduplicated by the table's key (preset, bucket). A recording costs up to 4 statements: the pool rows, the demand
 * of autoscaled presets (when there are some), the insert and the prune (both skipped without an active preset).
 */
export function poolHistoryRecorder(pool: Pool) {
  let lastBucket: number | undefined;
  return {
    /** Returns whether it wrote (false: this bucket was already recorded by this process). */
    async record(now: Date = new Date()): Promise<boolean> {
      const bucket = Math.floor(now.getTime() / POOL_SAMPLES.bucketMs);
      if (bucket === lastBucket) return false;
      const rows = await loadPoolRows(pool);
      const sizing = await sizePoolRows(pool, rows, now);
      const samples: PoolSample[] = [];
      for (const row of rows) {
        const decided = sizing.get(row.preset_id);
        if (decided) samples.push({ presetId: row.preset_id, desired: decided.target, eligible: row.eligible });
      }
      await recordPoolSamples(pool, samples, now, POOL_SAMPLES.bucketMs, POOL_SAMPLES.keepMs);
      lastBucket = bucket;
      return true;
    },
  };
}
