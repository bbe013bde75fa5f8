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

-- A claim in one round trip (issue 14): the same three steps as before, each its own statement inside the function,
-- so each takes a fresh snapshot under READ COMMITTED: lock the oldest eligible prebuild with SKIP LOCKED (concurrent
-- claimers never wait on each other nor get the same workspace), hand it over with an UPDATE that re-checks owner and
-- latest build (a delete committed meanwhile wins), then the claim build, its outbox event and the claim counter.
-- 'stale' when the caller's cached template version is no longer the active one (or the template was retired), so
-- the caller reloads it; 'none' when no prebuild is eligible. The answer is built from the claim's own rows.
CREATE FUNCTION claim_prebuild(p_preset uuid, p_system uuid, p_user uuid, p_name text, p_template uuid, p_version uuid,
                               p_build uuid, p_key text, p_priority integer, p_queue text, p_job text)
RETURNS TABLE (outcome text, workspace jsonb) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_id uuid;
  v_row jsonb;
  v_number integer;
  v_params jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM templates t WHERE t.id = p_template AND t.active_version_id = p_version AND NOT t.deprecated AND NOT t.deleted) THEN
    RETURN QUERY SELECT 'stale'::text, NULL::jsonb;
    RETURN;
  END IF;
  FOR attempt IN 1..3 LOOP
    SELECT w.id INTO v_id FROM workspaces w
    JOIN running_prebuilds r ON r.id = w.id
    WHERE r.preset_id = p_preset AND r.eligible AND w.owner_id = p_system AND NOT w.deleted
    ORDER BY r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF w SKIP LOCKED;
    IF v_id IS NULL THEN
      RETURN QUERY SELECT 'none'::text, NULL::jsonb;
      RETURN;
    END IF;
    UPDATE workspaces w SET owner_id = p_user, name = p_name, last_used_at = now(), claimed_at = now()
    FROM prebuild_workspaces b
    WHERE w.id = v_id AND b.id = w.id AND w.owner_id = p_system AND NOT w.deleted AND b.running
    RETURNING to_jsonb(w.*), b.build_number, b.build_parameters INTO v_row, v_number, v_params;
    IF FOUND THEN
      INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, parameters)
      VALUES (p_build, v_id, v_number + 1, (v_row->>'template_version_id')::uuid, 'start', p_user, 'claim', COALESCE(v_params, '{}'));
      INSERT INTO outbox (queue, name, payload, idempotency_key, priority)
      VALUES (p_queue, p_job, jsonb_build_object(
                'buildId', p_build, 'workspaceId', v_id, 'transition', 'start', 'templateVersionId', v_row->>'template_version_id',
                'presetId', p_preset, 'parameters', COALESCE(v_params, '{}'), 'reason', 'claim', 'idempotencyKey', p_key),
              p_key, p_priority);
      PERFORM bump_preset_counter(p_preset, 'claimed', 1);
      RETURN QUERY SELECT 'claimed'::text, v_row || jsonb_build_object('latest_build', jsonb_build_object(
        'id', p_build, 'build_number', v_number + 1, 'transition', 'start', 'job_status', 'pending', 'reason', 'claim'));
      RETURN;
    END IF;
    v_id := NULL;
  END LOOP;
  RETURN QUERY SELECT 'none'::text, NULL::jsonb;
END $$;
