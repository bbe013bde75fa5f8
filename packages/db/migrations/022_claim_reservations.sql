-- Issue 24: claims with a wait budget. A bounded history of prebuild create durations (request → usable) per
-- preset, and claims made with options: how each was served (pool, reserved, cold), the predicted and actual time
-- to usable, and the reservations of in-flight prebuilds. claim_prebuild is not changed.

-- One row per prebuild create that became usable (succeeded, every agent ready). At most 100 rows per preset
-- (record_build_duration prunes); version and template levels read the newest 100 of their presets' rows.
CREATE TABLE build_durations (
  build_id            uuid PRIMARY KEY,
  preset_id           uuid NOT NULL,
  template_version_id uuid NOT NULL,
  template_id         uuid NOT NULL,
  total_ms            integer NOT NULL CHECK (total_ms >= 0),
  queued_ms           integer NOT NULL CHECK (queued_ms >= 0),
  usable_at           timestamptz NOT NULL
);
CREATE INDEX build_durations_preset ON build_durations (preset_id, usable_at DESC);
CREATE INDEX build_durations_version ON build_durations (template_version_id, usable_at DESC);
CREATE INDEX build_durations_template ON build_durations (template_id, usable_at DESC);

CREATE FUNCTION record_build_duration(p_build uuid, p_at timestamptz) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_preset uuid;
BEGIN
  INSERT INTO build_durations (build_id, preset_id, template_version_id, template_id, total_ms, queued_ms, usable_at)
  SELECT b.id, w.preset_id, b.template_version_id, w.template_id,
         greatest(0, extract(epoch FROM p_at - b.created_at) * 1000)::integer,
         greatest(0, extract(epoch FROM least(COALESCE(b.started_at, p_at), p_at) - b.created_at) * 1000)::integer, p_at
  FROM builds b JOIN workspaces w ON w.id = b.workspace_id
  WHERE b.id = p_build AND b.reason = 'prebuild-create' AND w.preset_id IS NOT NULL
  ON CONFLICT (build_id) DO NOTHING
  RETURNING preset_id INTO v_preset;
  IF v_preset IS NOT NULL THEN
    DELETE FROM build_durations d WHERE d.preset_id = v_preset AND d.build_id NOT IN (
      SELECT k.build_id FROM build_durations k WHERE k.preset_id = v_preset ORDER BY k.usable_at DESC, k.build_id LIMIT 100);
  END IF;
END $$;

-- A create that carried claim options. `source` is how it is served now (a reservation that fell back becomes
-- 'cold' and keeps its `fallback_reason`); `state` follows it to usable:
--   waiting  reserved, the prebuild's create still in flight      claiming  the claim build is requested
--   building a cold build (or fallback) is in flight               usable / failed
CREATE TABLE workspace_claims (
  workspace_id    uuid PRIMARY KEY REFERENCES workspaces(id),
  preset_id       uuid NOT NULL,
  mode            text NOT NULL CHECK (mode IN ('prefer', 'require', 'bypass')),
  budget_ms       integer NOT NULL CHECK (budget_ms BETWEEN 0 AND 120000),
  source          text NOT NULL CHECK (source IN ('pool', 'reserved', 'cold')),
  state           text NOT NULL CHECK (state IN ('waiting', 'claiming', 'building', 'usable', 'failed')),
  -- the build whose success makes the workspace usable, or (waiting) the reserved create
  build_id        uuid NOT NULL,
  fallback_reason text CHECK (fallback_reason IN ('failed', 'canceled', 'lost', 'overrun')),
  predicted_ms    integer,
  requested_at    timestamptz NOT NULL DEFAULT now(),
  deadline        timestamptz NOT NULL,
  usable_at       timestamptz
);
CREATE INDEX workspace_claims_waiting ON workspace_claims (deadline) WHERE state = 'waiting';
CREATE INDEX workspace_claims_preset ON workspace_claims (preset_id, requested_at);

-- Reserves the first still-free in-flight prebuild of `p_candidates` (the caller's order: shortest predicted
-- remaining first) for the user, in one statement. A candidate is taken only if, under its workspace row lock and
-- its latest build's row lock (both SKIP LOCKED: a claim, a delete or a result being applied to it is skipped),
-- it is still a live prebuild of the preset on the active version whose create is in flight (pending, running,
-- or succeeded with an agent not yet ready). The owner changes at once: from this commit the workspace is the
-- user's, no longer a prebuild (the refill replaces it, no claim or second reservation can take it).
CREATE FUNCTION reserve_prebuild(p_candidates uuid[], p_predicted integer[], p_preset uuid, p_system uuid, p_user uuid,
                                 p_name text, p_template uuid, p_version uuid, p_mode text, p_budget_ms integer)
RETURNS TABLE (outcome text, workspace_id uuid, predicted_ms integer) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_id uuid;
  v_build uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM templates t WHERE t.id = p_template AND t.active_version_id = p_version AND NOT t.deprecated AND NOT t.deleted) THEN
    RETURN QUERY SELECT 'stale'::text, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  -- As claim_prebuild (018): the name before any lock.
  IF EXISTS (SELECT 1 FROM workspaces w WHERE w.owner_id = p_user AND w.name = p_name AND NOT w.deleted) THEN
    RAISE unique_violation USING MESSAGE = 'duplicate key value violates unique constraint "workspaces_owner_name"';
  END IF;
  FOR i IN 1..coalesce(array_length(p_candidates, 1), 0) LOOP
    SELECT w.id INTO v_id FROM workspaces w
    WHERE w.id = p_candidates[i] AND w.owner_id = p_system AND NOT w.deleted AND w.preset_id = p_preset AND w.template_version_id = p_version
    FOR UPDATE SKIP LOCKED;
    CONTINUE WHEN v_id IS NULL;
    SELECT b.id INTO v_build FROM builds b
    WHERE b.workspace_id = v_id AND b.build_number = (SELECT max(build_number) FROM builds WHERE builds.workspace_id = v_id)
      AND b.transition = 'start' AND b.reason = 'prebuild-create'
      AND (b.job_status IN ('pending', 'running')
           OR (b.job_status = 'succeeded' AND EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id AND NOT a.ready)))
    FOR UPDATE OF b SKIP LOCKED;
    IF v_build IS NULL THEN
      v_id := NULL;
      CONTINUE;
    END IF;
    UPDATE workspaces SET owner_id = p_user, name = p_name, last_used_at = now() WHERE id = v_id;
    INSERT INTO workspace_claims (workspace_id, preset_id, mode, budget_ms, source, state, build_id, predicted_ms, deadline)
    VALUES (v_id, p_preset, p_mode, p_budget_ms, 'reserved', 'waiting', v_build, p_predicted[i], now() + make_interval(secs => p_budget_ms / 1000.0));
    RETURN QUERY SELECT 'reserved'::text, v_id, p_predicted[i];
    RETURN;
  END LOOP;
  RETURN QUERY SELECT 'none'::text, NULL::uuid, NULL::integer;
END $$;
