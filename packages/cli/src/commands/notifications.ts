import { randomBytes } from 'node:crypto';
import { NOTIFICATION_KINDS } from '@warmpool/contracts';
import {
  finishSecretRotation,
  findUserId,
  listKindSettings,
  listNotificationPreferences,
  PREFERENCE_CHANNELS,
  rotateOrganizationSecret,
  setKindDisabled,
  setNotificationPreference,
  setOrganizationChatWebhook,
  type Pool,
  type PreferenceChannel,
} from '@warmpool/db';
import { WebhookSecret } from '@warmpool/runtime';
import { UsageError } from '../output.js';

const noOrganization = (name: string) => new UsageError(`organization ${JSON.stringify(name)} does not exist (create it with: warmpool org create ${name})`);

/** Starts a secret rollover of an organization; returns the new secret (generated in the Standard Webhooks form unless given). */
export async function rotateSecret(pool: Pool, organization: string, given: string | undefined): Promise<string> {
  const secret = given ?? `whsec_${randomBytes(32).toString('base64')}`;
  const checked = WebhookSecret.safeParse(secret);
  if (!checked.success) throw new UsageError(`--secret: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  if (!(await rotateOrganizationSecret(pool, organization, secret))) throw noOrganization(organization);
  return secret;
}

export async function finishRotation(pool: Pool, organization: string): Promise<void> {
  if (!(await finishSecretRotation(pool, organization))) throw noOrganization(organization);
}

export async function setChatWebhook(pool: Pool, organization: string, url: string | null): Promise<void> {
  if (url !== null && !/^https?:\/\/[^\s]+$/.test(url)) throw new UsageError('chat webhook URL must be an http(s) URL');
  if (!(await setOrganizationChatWebhook(pool, organization, url))) throw noOrganization(organization);
}

export function parseKind(value: string): string {
  if (!(NOTIFICATION_KINDS as readonly string[]).includes(value)) throw new UsageError(`kind must be one of ${NOTIFICATION_KINDS.join(', ')}`);
  return value;
}

export function parseChannel(value: string): PreferenceChannel {
  if (!(PREFERENCE_CHANNELS as readonly string[]).includes(value)) throw new UsageError(`channel must be one of ${PREFERENCE_CHANNELS.join(', ')}`);
  return value as PreferenceChannel;
}

export function parseOnOff(value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new UsageError('state must be on or off');
  return value === 'on';
}

async function userId(pool: Pool, username: string): Promise<string> {
  const id = await findUserId(pool, username);
  if (!id) throw new UsageError(`user ${JSON.stringify(username)} does not exist`);
  return id;
}

export async function userPreferences(pool: Pool, username: string) {
  return listNotificationPreferences(pool, await userId(pool, username), NOTIFICATION_KINDS);
}

export async function setUserPreference(pool: Pool, username: string, kind: string, channel: PreferenceChannel, enabled: boolean): Promise<void> {
  await setNotificationPreference(pool, await userId(pool, username), { kind, channel, enabled });
}

export const kindSettings = (pool: Pool) => listKindSettings(pool, NOTIFICATION_KINDS);
export const setSiteWide = (pool: Pool, kind: string, disabled: boolean) => setKindDisabled(pool, kind, disabled, null);
