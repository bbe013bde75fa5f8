import { desiredTimeline, presetStatus, toCoreSnapshot, type PresetStatus } from '@warmpool/core';
import { listActivePresetIds, loadPresetSnapshot, setPaused as storePaused, type Pool } from '@warmpool/db';

import type { Config } from '@warmpool/runtime';
import { formatTable, progress, UsageError } from '../output.js';

const settingsOf = (config: Config) => ({
  backoffIntervalMs: config.backoffIntervalMs,
  backoffLookbackMs: config.backoffLookbackMs,
  failureHardLimit: config.failureHardLimit,
});

/** Status of every active preset (optionally of one organization), one snapshot query per preset. */
export async function collectStatus(pool: Pool, config: Config, org?: string): Promise<PresetStatus[]> {
  const ids = await listActivePresetIds(pool, org === undefined ? {} : { organizationName: org });
  const now = new Date();
  const bar = progress('loading presets', ids.length);
  const out: PresetStatus[] = [];
  for (const id of ids) {
    const row = await loadPresetSnapshot(pool, id);
    if (row) out.push(presetStatus(row, now, settingsOf(config)));
    bar.tick();
  }
  bar.done();
  return out;
}

export function renderStatus(statuses: PresetStatus[]): string {
  if (statuses.length === 0) return 'no active presets';
  return formatTable(
    ['ORG/TEMPLATE/PRESET', 'DESIRED', 'RUNNING', 'ELIGIBLE', 'STARTING', 'STATUS', 'NEXT CHANGE'],
    statuses.map((s) => [
      `${s.organization}/${s.template}/${s.preset}`,
      String(s.desiredNow),
      String(s.running),
      String(s.eligible),
      String(s.starting),
      s.scheduleError ? `${s.status} (schedule error)` : s.backoffUntil ? `${s.status} (backoff)` : s.status,
      s.nextScheduleChange ? `${s.nextScheduleChange.at} → ${s.nextScheduleChange.instances}` : '-',
    ]),
  );
}

/** The desired-count timeline of one preset over the next `days`. */
export async function previewPreset(pool: Pool, config: Config, presetId: string, days: number): Promise<{ at: string; instances: number }[]> {
  if (!/^[0-9a-f-]{36}$/i.test(presetId)) throw new UsageError('preset must be a preset id (see warmpool status --json)');
  if (!Number.isInteger(days) || days < 1 || days > 31) throw new UsageError('--days must be an integer between 1 and 31');
  const row = await loadPresetSnapshot(pool, presetId);
  if (!row) throw new UsageError(`preset ${presetId} does not exist`);
  const now = new Date();
  const { snapshot } = toCoreSnapshot(row, now, settingsOf(config));
  return desiredTimeline(snapshot.preset, now, new Date(now.getTime() + days * 86_400_000)).map((p) => ({ at: p.at.toISOString(), instances: p.instances }));
}

export async function setPaused(pool: Pool, paused: boolean): Promise<void> {
  await storePaused(pool, paused);
}
