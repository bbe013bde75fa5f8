-- Notifier bookkeeping (issue 5).

-- Per-organization webhook signing secret; NULL = use the global WARMPOOL_WEBHOOK_SECRET.
ALTER TABLE organizations ADD COLUMN webhook_secret text;

-- One row per processed notification event = one webhook delivery (a POST carrying the message and the
-- recipients that newly received it). `event_key` makes event processing idempotent: a redelivered event
-- finds its row and never creates inbox rows or posts again.
CREATE TABLE notification_deliveries (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_key       text NOT NULL UNIQUE,
  kind            text NOT NULL,
  preset_id       uuid,
  organization_id uuid REFERENCES organizations(id) ON DELETE CASCADE,
  url             text,
  payload         jsonb,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter', 'skipped')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);

-- Inbox rows point at the delivery that carried them; its outcome is copied onto them.
ALTER TABLE notifications ADD COLUMN delivery_id uuid REFERENCES notification_deliveries(id) ON DELETE SET NULL;
CREATE INDEX notifications_delivery ON notifications (delivery_id);
-- Inbox pages: newest first, keyset on (created_at, id).
CREATE INDEX notifications_inbox ON notifications (user_id, created_at DESC, id DESC);
