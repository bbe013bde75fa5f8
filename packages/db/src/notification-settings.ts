import type pg from 'pg';

/** Who wants which notice where: per-user preferences, the owners' site-wide switch, organization channel settings. */

export type PreferenceChannel = 'email' | 'webhook';
export const PREFERENCE_CHANNELS: readonly PreferenceChannel[] = ['email', 'webhook'];

export type NotificationPreference = { kind: string; channel: PreferenceChannel; enabled: boolean };

/** One entry per kind and channel (no stored row = enabled), sorted by kind then channel. */
export async function listNotificationPreferences(db: pg.Pool, userId: string, kinds: readonly string[]): Promise<NotificationPreference[]> {
  const { rows } = await db.query<{ kind: string; channel: PreferenceChannel; enabled: boolean }>(
    `SELECT k.kind, c.channel, COALESCE(p.enabled, true) AS enabled
     FROM unnest($2::text[]) AS k(kind) CROSS JOIN unnest($3::text[]) AS c(channel)
     LEFT JOIN notification_preferences p ON p.user_id = $1 AND p.kind = k.kind AND p.channel = c.channel
     ORDER BY k.kind, c.channel`,
    [userId, kinds, PREFERENCE_CHANNELS],
  );
  return rows;
}

export async function setNotificationPreference(db: pg.Pool, userId: string, preference: NotificationPreference): Promise<void> {
  await db.query(
    `INSERT INTO notification_preferences (user_id, kind, channel, enabled) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, kind, channel) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()`,
    [userId, preference.kind, preference.channel, preference.enabled],
  );
}

export type KindSetting = { kind: string; disabled: boolean; updatedBy: string | null; updatedAt: string | null };

/** The site-wide switch of every kind (no stored row = enabled). */
export async function listKindSettings(db: pg.Pool, kinds: readonly string[]): Promise<KindSetting[]> {
  const { rows } = await db.query<{ kind: string; disabled: boolean; updated_by: string | null; updated_at: Date | null }>(
    `SELECT k.kind, COALESCE(s.disabled, false) AS disabled, u.username AS updated_by, s.updated_at
     FROM unnest($1::text[]) AS k(kind)
     LEFT JOIN notification_kind_settings s ON s.kind = k.kind LEFT JOIN users u ON u.id = s.updated_by
     ORDER BY k.kind`,
    [kinds],
  );
  return rows.map((r) => ({ kind: r.kind, disabled: r.disabled, updatedBy: r.updated_by, updatedAt: r.updated_at?.toISOString() ?? null }));
}

export async function setKindDisabled(db: pg.Pool, kind: string, disabled: boolean, byUserId: string | null): Promise<void> {
  await db.query(
    `INSERT INTO notification_kind_settings (kind, disabled, updated_by) VALUES ($1, $2, $3)
     ON CONFLICT (kind) DO UPDATE SET disabled = EXCLUDED.disabled, updated_by = EXCLUDED.updated_by, updated_at = now()`,
    [kind, disabled, byUserId],
  );
}

/**
 * Starts a rollover: the organization's current secret becomes the previous one (still signing) and `secret` the
 * current one. False when the organization does not exist.
 */
export async function rotateOrganizationSecret(db: pg.Pool, organization: string, secret: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE organizations SET webhook_secret_previous = webhook_secret, webhook_secret = $2 WHERE name = $1`, [organization, secret]);
  return (rowCount ?? 0) > 0;
}

/** Ends a rollover: only the current secret signs. False when the organization does not exist. */
export async function finishSecretRotation(db: pg.Pool, organization: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE organizations SET webhook_secret_previous = NULL WHERE name = $1`, [organization]);
  return (rowCount ?? 0) > 0;
}

/** Sets (or with null removes) the organization's Slack-compatible chat webhook. False when it does not exist. */
export async function setOrganizationChatWebhook(db: pg.Pool, organization: string, url: string | null): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE organizations SET chat_webhook_url = $2 WHERE name = $1`, [organization, url]);
  return (rowCount ?? 0) > 0;
}
