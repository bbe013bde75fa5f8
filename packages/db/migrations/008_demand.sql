-- Demand history and autoscaling policies (issue 13).

-- The manifest's prebuilds.autoscaling fragment as written (NULL = sized by the schedule alone), and the last
-- autoscaling problem (an expression that failed at run time, unusable stored data), written only when it
-- changes so that it is logged once and shown in the status.
ALTER TABLE presets ADD COLUMN autoscaling jsonb;
ALTER TABLE presets ADD COLUMN autoscaling_error text;

-- One row per workspace request a preset applied to: a hit claimed a prebuild, a miss found nothing eligible and
-- built a fresh workspace. `build_id` is the claim build or the fresh workspace's first build; the wait until the
-- workspace was usable is read from it (agents ready, else build completion). Kept DEMAND_RETENTION (35 days:
-- the forecast reads 4 weeks, replays at most 28 days), pruned hourly by the reconcilers.
CREATE TABLE demand_events (
  id           bigserial PRIMARY KEY,
  preset_id    uuid NOT NULL REFERENCES presets(id),
  build_id     uuid NOT NULL,
  hit          boolean NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX demand_events_preset_time ON demand_events (preset_id, requested_at);
CREATE INDEX demand_events_time ON demand_events (requested_at);
