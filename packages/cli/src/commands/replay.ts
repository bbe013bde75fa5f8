import { readFile } from 'node:fs/promises';
import { parseManifestText, ManifestSyntaxError } from '@warmpool/core';
import type { Pool } from '@warmpool/db';
import { replayPreset, ReplayInputError, type PresetReplay } from '@warmpool/operations';
import { formatTable, UsageError } from '../output.js';

const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);

/**
 * `warmpool replay <preset> [--days N] [--policy FILE]`: the last N days of the preset's recorded requests against
 * its current policy or the `prebuilds` fragment in FILE (JSON or YAML, e.g. `{ "autoscaling": { ... } }`).
 */
export async function replayCommand(pool: Pool, presetId: string, options: { days: number; policyFile?: string }): Promise<PresetReplay> {
  if (!/^[0-9a-f-]{36}$/i.test(presetId)) throw new UsageError('preset must be a preset id (see warmpool status --json)');
  let prebuilds: unknown;
  if (options.policyFile) {
    try {
      prebuilds = parseManifestText(await readFile(options.policyFile, 'utf8'));
    } catch (err) {
      if (err instanceof ManifestSyntaxError) throw new UsageError(`${options.policyFile}: ${err.message}`);
      throw new UsageError(`${options.policyFile}: ${(err as Error).message}`);
    }
  }
  try {
    const result = await replayPreset(pool, presetId, { days: options.days, ...(prebuilds !== undefined ? { prebuilds } : {}) });
    if (!result) throw new UsageError(`preset ${presetId} does not exist`);
    return result;
  } catch (err) {
    if (err instanceof ReplayInputError) throw new UsageError(err.details.map((d) => `${d.path === 'days' ? '--days' : d.path}: ${d.message}`).join('\n'));
    throw err;
  }
}

export function renderReplay(r: PresetReplay): string {
  const table = formatTable(
    ['HOUR', 'DESIRED', 'REQUESTS', 'HITS', 'MISSES', 'HIT RATE', 'PREBUILD-H'],
    r.hours.filter((h) => h.requests > 0 || h.desired > 0).map((h) => [h.hour, String(h.desired), String(h.requests), String(h.hits), String(h.misses), percent(h.hitRate), h.prebuildHours.toFixed(2)]),
  );
  const t = r.totals;
  return [
    table,
    '',
    `${r.policy} policy, ${r.from} → ${r.to}, lead time ${r.leadTimeSeconds} s`,
    `replayed: ${t.requests} requests, ${t.hits} hits, ${t.misses} misses, hit rate ${percent(t.hitRate)}, ${t.prebuildHours.toFixed(1)} prebuild-hours`,
    `recorded: ${r.recorded.hits} hits, ${r.recorded.misses} misses, hit rate ${percent(r.recorded.hitRate)}`,
  ].join('\n');
}
