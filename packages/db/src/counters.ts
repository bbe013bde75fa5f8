import type pg from 'pg';

/** The persistent per-preset counters behind the `*_total` pool metrics (they survive restarts of any service). */
export type PresetCounter = 'created' | 'failed' | 'claimed' | 'resource_replacements';

/** Adds `by` to a preset's counter in the caller's transaction (SQL function `bump_preset_counter`, migration 006). */
export async function bumpPresetCounter(client: pg.ClientBase, presetId: string | null, name: PresetCounter, by = 1): Promise<void> {
  if (!presetId || by === 0) return;
  await client.query('SELECT bump_preset_counter($1, $2, $3)', [presetId, name, by]);
}
