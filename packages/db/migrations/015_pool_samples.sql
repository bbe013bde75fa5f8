-- Pools console (issue 15): a bounded history of each preset's pool, sampled by the api's metrics refresher.
-- One row per preset and sample bucket (several api replicas write the same bucket once); rows older than
-- eight days are pruned by the writer, so the table holds at most ~2,300 rows per preset at 5-minute buckets.
CREATE TABLE pool_samples (
  preset_id uuid NOT NULL REFERENCES presets(id) ON DELETE CASCADE,
  at        timestamptz NOT NULL,
  desired   integer NOT NULL,
  eligible  integer NOT NULL,
  PRIMARY KEY (preset_id, at)
);
CREATE INDEX pool_samples_at ON pool_samples (at);
