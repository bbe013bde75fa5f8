-- Notification channels (issue 17): Standard Webhooks secret rotation, e-mail, chat, preferences.

-- The previous signing secret stays active during a rollover (both signatures are sent); NULL = no rollover.
-- chat_webhook_url: a Slack-compatible incoming webhook of the organization; NULL = no chat posts.
ALTER TABLE organizations
  ADD COLUMN webhook_secret_previous text,
  ADD COLUMN chat_webhook_url text;

-- One row per e-mail (one per inbox row) and per chat post (one per event), each retried and dead-lettered on its
-- own, so one recipient's refusing mail server never holds up another recipient or channel.
CREATE TABLE notification_sends (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  delivery_id     uuid NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
  channel         text NOT NULL CHECK (channel IN ('email', 'chat')),
  notification_id uuid REFERENCES notifications(id) ON DELETE CASCADE,
  target          text,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter', 'skipped')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  CHECK ((channel = 'email') = (notification_id IS NOT NULL))
);
CREATE UNIQUE INDEX notification_sends_once ON notification_sends (delivery_id, channel, COALESCE(notification_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX notification_sends_notification ON notification_sends (notification_id);

-- A user's choice per kind of notice and channel; no row = enabled. The inbox always keeps every notice.
CREATE TABLE notification_preferences (
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind       text NOT NULL,
  channel    text NOT NULL CHECK (channel IN ('email', 'webhook')),
  enabled    boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, kind, channel)
);

-- Kinds an owner disabled site-wide: still recorded in inboxes, every channel skipped. No row = enabled.
CREATE TABLE notification_kind_settings (
  kind       text PRIMARY KEY,
  disabled   boolean NOT NULL,
  updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
