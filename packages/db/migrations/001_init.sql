-- Warmpool schema v1. Applied once, inside a transaction, under an advisory lock (see src/migrate.ts).

CREATE TABLE organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  webhook_url text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username   text NOT NULL UNIQUE,
  email      text,
  is_system  boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The reserved system user that owns every prebuild. "Is a prebuild" is decided by this owner alone.
INSERT INTO users (id, username, is_system) VALUES ('00000000-0000-0000-0000-000000000001', 'prebuilds', true);

-- organization_id NULL = site-wide role (owner, site template-admin).
CREATE TABLE role_assignments (
  id              bigserial PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role            text NOT NULL CHECK (role IN ('owner', 'template-admin', 'org-admin', 'member')),
  organization_id uuid REFERENCES organizations(id) ON DELETE CASCADE,
  CHECK (role <> 'owner' OR organization_id IS NULL),
  CHECK (role NOT IN ('org-admin', 'member') OR organization_id IS NOT NULL)
);
CREATE UNIQUE INDEX role_assignments_unique ON role_assignments (user_id, role, COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'));

-- Tokens are stored as SHA-256 of the secret; the secret itself is shown once at creation.
CREATE TABLE api_tokens (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         text NOT NULL,
  token_hash   bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  last_used_at timestamptz
);

CREATE TABLE templates (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL REFERENCES organizations(id),
  name              text NOT NULL,
  active_version_id uuid,
  deprecated        boolean NOT NULL DEFAULT false,
  deleted           boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX templates_org_name ON templates (organization_id, name) WHERE NOT deleted;

CREATE TABLE template_versions (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  template_id uuid NOT NULL REFERENCES templates(id),
  name        text NOT NULL,
  -- parameter declarations: [{ name, required, default, options }]
  parameters  jsonb NOT NULL DEFAULT '[]',
  manifest    jsonb NOT NULL,
  created_by  uuid REFERENCES users(id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (template_id, name)
);
ALTER TABLE templates ADD CONSTRAINT templates_active_version_fk
  FOREIGN KEY (active_version_id) REFERENCES template_versions(id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE presets (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  template_version_id uuid NOT NULL REFERENCES template_versions(id),
  name                text NOT NULL,
  description         text NOT NULL DEFAULT '',
  is_default          boolean NOT NULL DEFAULT false,
  parameters          jsonb NOT NULL DEFAULT '{}',
  instances           integer NOT NULL DEFAULT 0 CHECK (instances >= 0),
  ttl_seconds         integer CHECK (ttl_seconds IS NULL OR ttl_seconds >= 0),
  timezone            text NOT NULL DEFAULT '',
  schedules           jsonb NOT NULL DEFAULT '[]',
  -- healthy | hard_limited | validation_failed
  status              text NOT NULL DEFAULT 'healthy' CHECK (status IN ('healthy', 'hard_limited', 'validation_failed')),
  status_reason       text,
  status_changed_at   timestamptz,
  -- builds created before this instant no longer count towards backoff or the failure limit (operator resume)
  failures_reset_at   timestamptz,
  -- prebuilds created at or before this instant count as expired (operator invalidation)
  invalidated_at      timestamptz,
  -- set when stored schedule data is unusable (bad zone, unparsable cron, overlap); reconciler falls back to base count
  schedule_error      text,
  last_reconciled_at  timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (template_version_id, name)
);

CREATE TABLE workspaces (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id     uuid NOT NULL REFERENCES organizations(id),
  template_id         uuid NOT NULL REFERENCES templates(id),
  template_version_id uuid NOT NULL REFERENCES template_versions(id),
  preset_id           uuid REFERENCES presets(id),
  owner_id            uuid NOT NULL REFERENCES users(id),
  name                text NOT NULL,
  deleted             boolean NOT NULL DEFAULT false,
  autostop_seconds    integer,
  dormant_after_seconds integer,
  created_at          timestamptz NOT NULL DEFAULT now(),
  last_used_at        timestamptz,
  claimed_at          timestamptz
);
CREATE INDEX workspaces_prebuilds ON workspaces (preset_id, created_at, id)
  WHERE owner_id = '00000000-0000-0000-0000-000000000001' AND NOT deleted;
CREATE UNIQUE INDEX workspaces_owner_name ON workspaces (owner_id, name) WHERE NOT deleted;

CREATE TABLE builds (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces(id),
  build_number        integer NOT NULL,
  template_version_id uuid NOT NULL REFERENCES template_versions(id),
  transition          text NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
  initiator_id        uuid NOT NULL REFERENCES users(id),
  reason              text NOT NULL CHECK (reason IN ('prebuild-create', 'prebuild-delete', 'claim', 'user')),
  job_status          text NOT NULL DEFAULT 'pending' CHECK (job_status IN ('pending', 'running', 'succeeded', 'failed', 'canceled')),
  parameters          jsonb NOT NULL DEFAULT '{}',
  error               text,
  retryable           boolean,
  replacements        jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  completed_at        timestamptz,
  UNIQUE (workspace_id, build_number)
);
CREATE INDEX builds_in_flight ON builds (reason) WHERE job_status IN ('pending', 'running');

CREATE TABLE agents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  build_id    uuid NOT NULL REFERENCES builds(id),
  name        text NOT NULL,
  ready       boolean NOT NULL DEFAULT false,
  ready_at    timestamptz,
  UNIQUE (build_id, name)
);

-- Transactional outbox: rows are written with the state they announce and relayed to BullMQ.
CREATE TABLE outbox (
  id              bigserial PRIMARY KEY,
  queue           text NOT NULL,
  name            text NOT NULL,
  payload         jsonb NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  priority        integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE notifications (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind            text NOT NULL,
  title           text NOT NULL,
  body            text NOT NULL,
  labels          jsonb NOT NULL DEFAULT '{}',
  links           jsonb NOT NULL DEFAULT '[]',
  -- identical messages to one recipient at most once per UTC day
  dedup_key       text NOT NULL,
  delivery_status text NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'dead_letter', 'skipped')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  read_at         timestamptz,
  UNIQUE (user_id, dedup_key)
);

-- Cluster-wide settings, e.g. reconciliation_paused.
CREATE TABLE settings (
  key   text PRIMARY KEY,
  value jsonb NOT NULL
);
INSERT INTO settings (key, value) VALUES ('reconciliation_paused', 'false');

-- Counters that must survive restarts (created/failed/claimed/replacements per preset).
CREATE TABLE preset_counters (
  preset_id uuid NOT NULL REFERENCES presets(id),
  name      text NOT NULL,
  value     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (preset_id, name)
);
