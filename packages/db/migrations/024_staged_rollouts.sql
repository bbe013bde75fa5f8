-- Issue 23: staged rollouts. A rollout stages a version of a template: its presets are reconciled toward their
-- desired counts but never claimed (claims take the template's active version only, claim_prebuild unchanged), and
-- the version is made active in one transaction once every staged preset is warm. At most one staged rollout per
-- template (the partial unique index); finished rollouts are kept as history.
CREATE TABLE template_rollouts (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  template_id         uuid NOT NULL REFERENCES templates(id),
  version_id          uuid NOT NULL REFERENCES template_versions(id),
  -- the active version when the rollout started (null: none); shown to operators, never used to decide
  previous_version_id uuid REFERENCES template_versions(id),
  state               text NOT NULL DEFAULT 'staged' CHECK (state IN ('staged', 'promoted', 'canceled', 'failed')),
  -- the surge as requested ('3' or '25%') and resolved to staged builds in flight at once when the rollout started
  surge               text NOT NULL,
  surge_builds        integer NOT NULL CHECK (surge_builds >= 1),
  deadline_at         timestamptz NOT NULL,
  created_by          uuid REFERENCES users(id),
  started_at          timestamptz NOT NULL DEFAULT now(),
  ended_at            timestamptz,
  -- why it ended: promoted when warm or by an operator, canceled, deadline, failure limit, validation
  end_reason          text,
  CHECK ((state = 'staged') = (ended_at IS NULL))
);
CREATE UNIQUE INDEX template_rollouts_one_staged ON template_rollouts (template_id) WHERE state = 'staged';
CREATE INDEX template_rollouts_template ON template_rollouts (template_id, started_at DESC);
CREATE INDEX template_rollouts_version ON template_rollouts (version_id) WHERE state = 'staged';
