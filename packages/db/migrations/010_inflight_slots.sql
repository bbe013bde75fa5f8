-- Issue 14: the in-flight cap of prebuild creates without a cluster-wide lock.

-- One row per unit of the cap. A prebuild-create build holds a slot (build_id) from the transaction that creates
-- it until it leaves pending/running (trigger below). Reconcilers claim free slots with FOR UPDATE SKIP LOCKED:
-- two reconcilers never take the same slot and never wait for each other, so the number of in-flight creates is
-- at most the number of slots, which the reconcilers keep at the configured cap (slots above a lowered cap are
-- left to drain). Row locks are transaction-scoped, so this works behind a transaction-pooling PgBouncer.
CREATE TABLE inflight_slots (
  slot     integer PRIMARY KEY CHECK (slot > 0),
  build_id uuid UNIQUE
);
CREATE INDEX inflight_slots_free ON inflight_slots (slot) WHERE build_id IS NULL;

-- Presets held back by the cap, for max-min fair sharing: `level` is how many prebuilds the preset has (ready or
-- coming), `wanted` how many more it needs, `since` when it started waiting (ties at one level go oldest first).
-- A row is refreshed by each capped reconcile of its preset and ignored once `updated_at` is old.
CREATE TABLE prebuild_demand (
  preset_id  uuid PRIMARY KEY REFERENCES presets(id) ON DELETE CASCADE,
  level      integer NOT NULL CHECK (level >= 0),
  wanted     integer NOT NULL CHECK (wanted > 0),
  since      timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prebuild_demand_order ON prebuild_demand (level, since, preset_id);

-- A create build that leaves pending/running frees its slot in the same transaction, whichever code path (result
-- consumer, operator SQL, test fixture) ended it.
CREATE FUNCTION release_inflight_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE inflight_slots SET build_id = NULL WHERE build_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER builds_release_inflight_slot
  AFTER UPDATE OF job_status ON builds
  FOR EACH ROW
  WHEN (OLD.job_status IN ('pending', 'running') AND NEW.job_status NOT IN ('pending', 'running') AND NEW.reason = 'prebuild-create')
  EXECUTE FUNCTION release_inflight_slot();

-- Creates already in flight take the first slots (the reconcilers add the rest up to their cap).
INSERT INTO inflight_slots (slot, build_id)
SELECT row_number() OVER (ORDER BY created_at, id), id FROM builds
WHERE reason = 'prebuild-create' AND job_status IN ('pending', 'running');
