-- Issue 14: every claim of a preset bumped the same counter row ('claimed'), and a row lock is held to commit, so
-- concurrent claims of one preset queued behind each other's commit (one WAL flush each, in series). The request-path
-- counters ('claimed', 'missed') are now spread over 16 shards, one picked by the connection's backend process, so
-- claims on different connections write different rows; the others stay on shard 0. Readers sum the shards.
ALTER TABLE preset_counters ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE preset_counters DROP CONSTRAINT preset_counters_pkey, ADD PRIMARY KEY (preset_id, name, shard);

CREATE OR REPLACE FUNCTION bump_preset_counter(preset uuid, counter text, by bigint) RETURNS void LANGUAGE sql VOLATILE AS $$
  INSERT INTO preset_counters (preset_id, name, shard, value)
  VALUES (preset, counter, CASE WHEN counter IN ('claimed', 'missed') THEN pg_backend_pid() % 16 ELSE 0 END, by)
  ON CONFLICT (preset_id, name, shard) DO UPDATE SET value = preset_counters.value + EXCLUDED.value
$$;
