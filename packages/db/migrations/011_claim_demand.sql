-- A claim is recorded as a demand hit (issue 13) by the statement that inserts its build: claim_prebuild (010) writes
-- the claim build inside one function call, so the hit is recorded here, in the same statement, with no extra round
-- trip. Misses (fresh workspaces of a preset) are recorded by requestBuild. Only claim builds (reason 'claim') fire.
CREATE FUNCTION record_claim_demand() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO demand_events (preset_id, build_id, hit)
  SELECT w.preset_id, NEW.id, true FROM workspaces w WHERE w.id = NEW.workspace_id AND w.preset_id IS NOT NULL;
  RETURN NULL;
END $$;

CREATE TRIGGER builds_record_claim_demand AFTER INSERT ON builds
FOR EACH ROW WHEN (NEW.reason = 'claim') EXECUTE FUNCTION record_claim_demand();
