-- presets.last_reconciled_at (001) was never written nor read: reconcile times are in the logs and metrics.
ALTER TABLE presets DROP COLUMN last_reconciled_at;
