import type { PresetStatus } from '@warmpool/core';
import { DomainError } from '@warmpool/contracts';
import type { Pool } from '@warmpool/db';
import { activePresetStatuses, MAX_PREVIEW_DAYS, previewSchedule, setReconciliationPaused } from '@warmpool/operations';
import { evaluationSettings, type Config } from '@warmpool/runtime';
import { formatTable, progress, UsageError } from '../output.js';

/** Status of every active preset (optionally of one organization), one snapshot query per batch of presets. */
export async function collectStatus(pool: Pool, config: Config, org?: string): Promise<PresetStatus[]> {
  let bar: ReturnType<typeof progress> | undefined;
  const statuses = await activePresetStatuses(pool, evaluationSettings(config), org === undefined ? {} : { organizationName: org }, {
    onProgress: (done, total) => {
      bar ??= progress('loading presets', total);
      bar.tick(done);
    },
  });
  bar?.done();
  return statuses;
}

export function renderStatus(statuses: PresetStatus[]): string {
  if (statuses.length === 0) return 'no active presets';
  return formatTable(
    ['ORG/TEMPLATE/PRESET', 'DESIRED', 'RUNNING', 'ELIGIBLE', 'STARTING', 'STATUS', 'NEXT CHANGE', 'TARGET SOURCE', 'HIT RATE 24H'],
    statuses.map((s) => [
      `${s.organization}/${s.template}/${s.preset}`,
      String(s.desiredNow),
      String(s.running),
      String(s.eligible),
      String(s.starting),
      s.scheduleError ? `${s.status} (schedule error)` : s.backoffUntil ? `${s.status} (backoff)` : s.staged ? `${s.status} (staged)` : s.status,
      s.nextScheduleChange ? `${s.nextScheduleChange.at} → ${s.nextScheduleChange.instances}` : '-',
      s.targetSource,
      s.hitRate24h === null ? '-' : `${Math.round(s.hitRate24h * 100)}%`,
    ]),
  );
}

/** The desired-count timeline of one preset over the next `days`. */
export async function previewPreset(pool: Pool, _config: Config, presetId: string, days: number): Promise<{ at: string; instances: number }[]> {
  if (!/^[0-9a-f-]{36}$/i.test(presetId)) throw new UsageError('preset must be a preset id (see warmpool status --json)');
  if (!Number.isInteger(days) || days < 1 || days > MAX_PREVIEW_DAYS) throw new UsageError(`--days must be an integer between 1 and ${MAX_PREVIEW_DAYS}`);
  const now = new Date();
  return previewSchedule(pool, { presetId, from: now, to: new Date(now.getTime() + days * 86_400_000) }).catch((err: unknown) => {
    if (err instanceof DomainError && err.code === 'not_found') throw new UsageError(`preset ${presetId} does not exist`);
    throw err;
  });
}

export async function setPaused(pool: Pool, paused: boolean): Promise<void> {
  await setReconciliationPaused({ pool }, paused);
}
