import type pg from 'pg';

/**
 * The cluster-wide cap on in-flight prebuild creates (migration 010). A create holds one row of `inflight_slots`
 * from the transaction that inserts it until its build leaves pending/running (a trigger frees the slot). Slots
 * are claimed with FOR UPDATE SKIP LOCKED, so concurrent reconcilers never wait for each other and never share a
 * slot: in-flight creates ≤ slots ≤ cap. Only transaction-scoped row locks: safe behind PgBouncer transaction mode.
 */

/** Demand rows not refreshed for this long are ignored (their preset's reconcile stopped asking). */
export const DEMAND_FRESH_MS = 60_000;

/** Adds slot rows up to `cap` (idempotent; rows above a lowered cap stay and drain). */
export async function ensureInflightSlots(db: pg.Pool | pg.ClientBase, cap: number): Promise<void> {
  await db.query(
    `INSERT INTO inflight_slots (slot)
     SELECT g FROM generate_series((SELECT COALESCE(max(slot), 0) + 1 FROM inflight_slots), $1::int) g
     ON CONFLICT DO NOTHING`,
    [cap],
  );
}

export type SlotRequest = {
  presetId: string;
  cap: number;
  /** Creates the preset's plan asks for now. */
  wanted: number;
  /** Prebuilds the preset has (ready or coming): its position in max-min fair sharing. */
  level: number;
  /** Max-min fair sharing between presets (true) or first come, first served (false). */
  fair: boolean;
};

// $1 cap, $2 wanted, $3 preset, $4 level, $5 fair, $6 demand freshness (ms).
// Free slots are those at or below the cap, minus one for every busy slot above it (a lowered cap drains first).
// Fair share: the preset's j-th create (its prebuild number level+j) may start when fewer than `free` units of
// other waiting presets come before it: their creates at lower prebuild numbers, and at the same number those
// of presets waiting longer. Then its demand row is written (still short) or removed (satisfied).
const CLAIM_SQL = `
WITH fresh AS (
  SELECT * FROM prebuild_demand WHERE updated_at > now() - $6 * interval '1 millisecond'
),
me AS (
  SELECT COALESCE((SELECT since FROM fresh WHERE preset_id = $3), now()) AS since
),
bound AS (
  SELECT $1::int - (SELECT count(*) FROM inflight_slots WHERE slot > $1::int AND build_id IS NOT NULL)::int AS top
),
allowed AS (
  SELECT CASE
    WHEN NOT $5::boolean OR NOT EXISTS (SELECT 1 FROM fresh WHERE preset_id <> $3) THEN $2::int
    ELSE (SELECT count(*)::int FROM generate_series(1, $2::int) j
          WHERE j - 1 + (SELECT COALESCE(sum(GREATEST(0, LEAST(d.wanted, $4::int + j - 1 - d.level))), 0)
                              + count(*) FILTER (WHERE d.level + d.wanted >= $4::int + j AND (d.since, d.preset_id) < (me.since, $3::uuid))
                         FROM fresh d, me WHERE d.preset_id <> $3 AND d.level < $4::int + j)
                < (SELECT count(*) FROM inflight_slots, bound WHERE build_id IS NULL AND slot <= bound.top))
  END AS n
),
claimed AS (
  SELECT slot FROM inflight_slots
  WHERE build_id IS NULL AND slot <= (SELECT top FROM bound)
  ORDER BY slot LIMIT (SELECT n FROM allowed)
  FOR UPDATE SKIP LOCKED
),
got AS (SELECT count(*)::int AS n FROM claimed),
waiting AS (
  INSERT INTO prebuild_demand (preset_id, level, wanted, since, updated_at)
  SELECT $3, $4::int + got.n, $2::int - got.n, me.since, now() FROM got, me WHERE $5::boolean AND got.n < $2::int
  ON CONFLICT (preset_id) DO UPDATE SET level = EXCLUDED.level, wanted = EXCLUDED.wanted, since = EXCLUDED.since, updated_at = now()
),
satisfied AS (
  DELETE FROM prebuild_demand WHERE preset_id = $3 AND (SELECT n FROM got) >= $2::int
)
SELECT slot FROM claimed ORDER BY slot`;

/**
 * Claims up to `wanted` free slots for one preset inside the caller's transaction (they are held by row locks
 * until commit, and become the builds' slots in insertPrebuilds). One round trip; never waits for other claimers.
 */
export async function claimInflightSlots(client: pg.ClientBase, request: SlotRequest): Promise<number[]> {
  if (request.wanted <= 0) return [];
  const { rows } = await client.query<{ slot: number }>(CLAIM_SQL, [
    request.cap,
    request.wanted,
    request.presetId,
    request.level,
    request.fair,
    DEMAND_FRESH_MS,
  ]);
  return rows.map((r) => r.slot);
}

/** Records presets as waiting for slots (a batch that could not serve them all), so fair sharing sees them all at once. */
export async function registerPrebuildDemand(client: pg.ClientBase, demand: readonly { presetId: string; level: number; wanted: number }[]): Promise<void> {
  if (demand.length === 0) return;
  await client.query(
    `INSERT INTO prebuild_demand (preset_id, level, wanted)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[])
     ON CONFLICT (preset_id) DO UPDATE SET level = EXCLUDED.level, wanted = EXCLUDED.wanted, updated_at = now(),
       since = CASE WHEN prebuild_demand.updated_at > now() - $4 * interval '1 millisecond' THEN prebuild_demand.since ELSE now() END`,
    [demand.map((d) => d.presetId), demand.map((d) => d.level), demand.map((d) => d.wanted), DEMAND_FRESH_MS],
  );
}

/** Forgets presets' demand (they no longer want creates); a no-op for those without. */
export async function clearPrebuildDemand(db: pg.Pool | pg.ClientBase, presetIds: readonly string[]): Promise<void> {
  if (presetIds.length === 0) return;
  await db.query('DELETE FROM prebuild_demand WHERE preset_id = ANY($1::uuid[])', [presetIds]);
}

/**
 * Claims exactly `count` free slots for a batch of presets, or none: when presets wait for slots (fair sharing
 * applies) or fewer are free, each of the batch's presets then claims its share with claimInflightSlots.
 */
export async function claimSlotsForBatch(client: pg.ClientBase, cap: number, count: number): Promise<number[] | null> {
  const { rows } = await client.query<{ slot: number }>(
    `SELECT slot FROM inflight_slots
     WHERE build_id IS NULL
       AND slot <= $1::int - (SELECT count(*) FROM inflight_slots WHERE slot > $1::int AND build_id IS NOT NULL)::int
       AND NOT EXISTS (SELECT 1 FROM prebuild_demand WHERE updated_at > now() - $3 * interval '1 millisecond')
     ORDER BY slot LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [cap, count, DEMAND_FRESH_MS],
  );
  return rows.length === count ? rows.map((r) => r.slot) : null;
}

/**
 * The waiting presets that come first in fair order, as many as there are free slots (at most `limit`): the ones
 * to reconcile now so that free slots go to them.
 */
export async function presetsNextInLine(db: pg.Pool | pg.ClientBase, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ preset_id: string }>(
    `SELECT preset_id FROM prebuild_demand
     WHERE updated_at > now() - $2 * interval '1 millisecond'
     ORDER BY level, since, preset_id
     LIMIT (SELECT count(*) FROM (SELECT 1 FROM inflight_slots WHERE build_id IS NULL LIMIT $1) f)`,
    [limit, DEMAND_FRESH_MS],
  );
  return rows.map((r) => r.preset_id);
}

/** Creates in flight (busy slots): the figure the cap bounds. */
export async function inflightCreates(db: pg.Pool | pg.ClientBase): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inflight_slots WHERE build_id IS NOT NULL');
  return rows[0]?.n ?? 0;
}
