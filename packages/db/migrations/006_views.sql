-- Shared definitions: each pool rule is written once here and every query (snapshot, claim, delete re-check,
-- tick screening, pool metrics, status, demo) reads it from these views and functions.

-- Every workspace with its latest build (the highest build number). A LATERAL view (not DISTINCT ON) so that a filter
-- on the workspace (preset, owner, id) is pushed down and each lookup stays one index probe on
-- builds (workspace_id, build_number).
CREATE VIEW workspace_latest_builds AS
SELECT w.id, w.organization_id, w.template_id, w.template_version_id, w.preset_id, w.owner_id, w.name, w.deleted,
       w.created_at,
       b.id AS build_id, b.build_number, b.transition, b.job_status, b.initiator_id, b.reason,
       b.template_version_id AS build_template_version_id, b.parameters AS build_parameters, b.error AS build_error,
       b.created_at AS build_created_at, b.completed_at AS build_completed_at
FROM workspaces w
CROSS JOIN LATERAL (
  SELECT * FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1
) b;

-- A prebuild: a live workspace owned by the reserved system user ("is a prebuild" is decided by that owner alone).
-- `running`: its latest build is a succeeded start. `ready`: that build has agents and all of them are ready.
CREATE VIEW prebuild_workspaces AS
SELECT l.*,
       (l.transition = 'start' AND l.job_status = 'succeeded') AS running,
       (EXISTS (SELECT 1 FROM agents a WHERE a.build_id = l.build_id)
        AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.build_id = l.build_id AND NOT a.ready)) AS ready
FROM workspace_latest_builds l
WHERE l.owner_id = '00000000-0000-0000-0000-000000000001' AND NOT l.deleted;

-- Invalidated: created at or before the preset's invalidation instant (operator action).
CREATE FUNCTION prebuild_invalidated(created_at timestamptz, invalidated_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT invalidated_at IS NOT NULL AND created_at <= invalidated_at
$$;

-- Expired at `at`: invalidated, or ttl > 0 and age strictly greater than ttl seconds. The pure planner's
-- `isExpired` (packages/core/src/plan.ts) states the same rule for its own `now`; test/db/views.test.ts holds
-- the two to the same answers at the boundaries. Never NULL: a missing TTL or invalidation means "not expired" (a
-- NULL here once dropped every prebuild of a TTL-less preset from the eligible gauge).
CREATE FUNCTION prebuild_expired(created_at timestamptz, ttl_seconds integer, invalidated_at timestamptz, at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT prebuild_invalidated(created_at, invalidated_at)
         OR (COALESCE(ttl_seconds, 0) > 0 AND at - created_at > make_interval(secs => ttl_seconds))
$$;

-- Running prebuilds with their preset's expiry rule applied at the statement's transaction time, and
-- `eligible` = claimable: running, ready and not expired. The claim, the pool metrics and the demo read this.
CREATE VIEW running_prebuilds AS
SELECT pw.*, p.ttl_seconds, p.invalidated_at,
       prebuild_expired(pw.created_at, p.ttl_seconds, p.invalidated_at, now()) AS expired,
       (pw.ready AND NOT prebuild_expired(pw.created_at, p.ttl_seconds, p.invalidated_at, now())) AS eligible
FROM prebuild_workspaces pw
JOIN presets p ON p.id = pw.preset_id
WHERE pw.running;

-- The site-wide pause flag (settings row 'reconciliation_paused'); false when the row is missing.
CREATE FUNCTION reconciliation_paused() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT value = 'true'::jsonb FROM settings WHERE key = 'reconciliation_paused'), false)
$$;

-- Adds `by` to one of a preset's persistent counters (created, failed, claimed, resource_replacements). A function so
-- that a statement which writes a build can bump its counter in the same round trip (see requestBuild).
CREATE FUNCTION bump_preset_counter(preset uuid, counter text, by bigint) RETURNS void LANGUAGE sql VOLATILE AS $$
  INSERT INTO preset_counters (preset_id, name, value) VALUES (preset, counter, by)
  ON CONFLICT (preset_id, name) DO UPDATE SET value = preset_counters.value + EXCLUDED.value
$$;
