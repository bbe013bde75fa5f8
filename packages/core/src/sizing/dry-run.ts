/**
 * Dry run of a whole manifest before import: what activating it would do to the template's pools. A new version's
 * presets are new pools; the active version's prebuilds become outdated and are deleted. So a preset name in both
 * versions is `rotated` (rebuilt, `resized` when its desired count now differs), a new name is `created` and a name
 * that disappears is `destroyed`.
 */
import type { Manifest } from '../manifest.js';
import { storedDesiredInstances } from '../evaluate.js';
import { parseStoredAutoscaling } from './policy.js';

export type StoredPresetShape = { name: string; instances: number; timezone: string; schedules: unknown; autoscaling: unknown; running: number };

export type PoolChange = {
  preset: string;
  change: 'created' | 'rotated' | 'destroyed';
  /** The desired count now by the schedule (autoscaled pools start from it too). */
  desiredBefore: number | null;
  desiredAfter: number | null;
  resized: boolean;
  /** Running prebuilds of the current pool that activation deletes. */
  prebuildsReplaced: number;
  /** The new pool's autoscaling kind, if any. */
  autoscaling: 'expression' | 'forecast' | null;
};

export function planManifestChanges(current: readonly StoredPresetShape[], manifest: Manifest, now: Date): PoolChange[] {
  const before = new Map(current.map((p) => [p.name, p]));
  const changes: PoolChange[] = manifest.presets.map((p) => {
    const old = before.get(p.name);
    const after = storedDesiredInstances(
      { instances: p.prebuilds?.instances ?? 0, timezone: p.prebuilds?.scheduling?.timezone ?? '', schedules: p.prebuilds?.scheduling?.schedule ?? [] },
      now,
    );
    const desiredBefore = old ? storedDesiredInstances(old, now) : null;
    return {
      preset: p.name,
      change: old ? 'rotated' : 'created',
      desiredBefore,
      desiredAfter: after,
      resized: desiredBefore !== null && desiredBefore !== after,
      prebuildsReplaced: old?.running ?? 0,
      autoscaling: parseStoredAutoscaling(p.prebuilds?.autoscaling ?? null).policy?.kind ?? null,
    };
  });
  const names = new Set(manifest.presets.map((p) => p.name));
  for (const old of current) {
    if (names.has(old.name)) continue;
    changes.push({ preset: old.name, change: 'destroyed', desiredBefore: storedDesiredInstances(old, now), desiredAfter: null, resized: false, prebuildsReplaced: old.running, autoscaling: null });
  }
  return changes;
}
