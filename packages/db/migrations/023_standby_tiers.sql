-- Issue 25: standby tiers (a hot and a frozen part of a preset's standby) and provisioner capabilities.

-- The manifest's prebuilds.standby fragment as written (NULL = no tiers: every prebuild runs hot).
ALTER TABLE presets ADD COLUMN standby jsonb;

-- A prebuild's tier. standby_want: what Warmpool last asked the provisioner for (NULL = never asked: hot);
-- standby_requested_at: when; frozen_at: when the provisioner reported it frozen (NULL = running). The claim build's
-- success clears all three.
ALTER TABLE workspaces ADD COLUMN standby_want text CHECK (standby_want IN ('hot', 'frozen'));
ALTER TABLE workspaces ADD COLUMN standby_requested_at timestamptz;
ALTER TABLE workspaces ADD COLUMN frozen_at timestamptz;

-- Provisioners that reported themselves (provisioner-seen, every 30 s) with what they declare they can do.
CREATE TABLE provisioners (
  identity      text PRIMARY KEY,
  capabilities  text[] NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL
);

-- claim_prebuild (018) with one change: the ORDER BY takes hot prebuilds before frozen ones.
CREATE OR REPLACE FUNCTION claim_prebuild(p_preset uuid, p_system uuid, p_user uuid, p_name text, p_template uuid, p_version uuid,
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
  -- The name first, before any lock: a conflict found only by the handover UPDATE fails the statement while it holds
  -- the prebuild's row lock, and the client sees the error before the backend has released it, so a claim retried
  -- at once under another name could skip that prebuild (SKIP LOCKED) and get a fresh workspace instead. (The unique
  -- index still decides a race between two requests for the same name.)
  IF EXISTS (SELECT 1 FROM workspaces w WHERE w.owner_id = p_user AND w.name = p_name AND NOT w.deleted) THEN
    RAISE unique_violation USING MESSAGE = 'duplicate key value violates unique constraint "workspaces_owner_name"';
  END IF;
  FOR attempt IN 1..3 LOOP
    SELECT w.id INTO v_id FROM workspaces w
    JOIN running_prebuilds r ON r.id = w.id
    WHERE r.preset_id = p_preset AND r.eligible AND w.owner_id = p_system AND NOT w.deleted
    -- Issue 25: hot before frozen (frozen, or a freeze asked for; never NULL, which would sort last); then oldest first.
    ORDER BY (w.frozen_at IS NOT NULL OR w.standby_want IS NOT DISTINCT FROM 'frozen'), r.created_at, r.id
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
