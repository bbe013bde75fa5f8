/** The functions the offload pool runs in its worker threads: pure work only (no database, no queues). */
import { planManifestChanges, replay, type PoolChange, type ReplayInput, type ReplayResult, type StoredPresetShape } from '@warmpool/core';
import { inspectManifest, type ManifestCheck } from '../manifest-check.js';

export function replayTask(input: ReplayInput): ReplayResult {
  return replay(input);
}

export function manifestTask(manifest: unknown): ManifestCheck {
  return inspectManifest(manifest);
}

export type DryRunInput = { manifest: unknown; current: StoredPresetShape[]; now: Date };
export type DryRunOutcome = Exclude<ManifestCheck, { ok: true }> | { ok: true; warnings: string[]; changes: PoolChange[] };

/** A dry run: the manifest's check, then what activating it would do (both cost CPU in proportion to schedules). */
export function dryRunTask(input: DryRunInput): DryRunOutcome {
  const check = inspectManifest(input.manifest);
  if (!check.ok) return check;
  return { ok: true, warnings: check.warnings, changes: planManifestChanges(input.current, check.value, input.now) };
}
