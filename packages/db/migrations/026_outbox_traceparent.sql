-- Issue 28: the W3C traceparent of the span that wrote an outbox row, so the relay continues that trace on the job.
-- Filled by the column default from a transaction-local setting (set by withOutboxTransaction when a span is
-- recording), so every writer, claim_prebuild's SQL included, carries it without a change to its statement.
-- NULL when tracing is off. Added without a default first, so existing rows are not rewritten.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;
ALTER TABLE outbox ALTER COLUMN traceparent SET DEFAULT nullif(current_setting('warmpool.traceparent', true), '');
