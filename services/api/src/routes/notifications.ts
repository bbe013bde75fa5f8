import type { FastifyInstance } from 'fastify';
import { NOTIFICATION_KINDS } from '@warmpool/contracts';
import { listKindSettings, listNotificationPreferences, setKindDisabled, setNotificationPreference, setUserEmail } from '@warmpool/db';
import type { ApiDeps } from '../deps.js';
import { authorize, typed } from './common.js';
import { kindsSchema, preferencesSchema, setEmailSchema, setKindSchema, setPreferenceSchema } from './notifications.schemas.js';

/** Notification preferences of the caller, the owners' site-wide switch per kind, and the caller's e-mail address. */
export async function notificationRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);

  // Every kind x channel (email, webhook) with the caller's choice; the inbox always keeps every notice.
  app.get('/users/me/notification-preferences', { schema: preferencesSchema }, async (request) => {
    const [preferences, kinds] = await Promise.all([listNotificationPreferences(deps.pool, request.principal.userId, NOTIFICATION_KINDS), listKindSettings(deps.pool, NOTIFICATION_KINDS)]);
    return { preferences, siteDisabled: kinds.filter((k) => k.disabled).map((k) => k.kind) };
  });

  app.put('/users/me/notification-preferences/:kind/:channel', { schema: setPreferenceSchema }, async (request) => {
    const { kind, channel } = request.params;
    await setNotificationPreference(deps.pool, request.principal.userId, { kind, channel, enabled: request.body.enabled });
    return { kind, channel, enabled: request.body.enabled };
  });

  // Where the caller's notices are mailed (null removes the address: no e-mail at all).
  app.put('/users/me/email', { schema: setEmailSchema }, async (request) => {
    await setUserEmail(deps.pool, request.principal.userId, request.body.email);
    return { email: request.body.email };
  });

  app.get('/notification-kinds', { schema: kindsSchema }, async () => listKindSettings(deps.pool, NOTIFICATION_KINDS));

  // Owners only: a disabled kind still reaches inboxes; its e-mails, webhooks and chat posts are recorded as skipped.
  app.put('/notification-kinds/:kind', { schema: setKindSchema }, async (request) => {
    authorize(request.principal, 'notification.manage', { organizationId: null });
    await setKindDisabled(deps.pool, request.params.kind, request.body.disabled, request.principal.userId);
    const settings = await listKindSettings(deps.pool, [request.params.kind]);
    return settings[0];
  });
}
