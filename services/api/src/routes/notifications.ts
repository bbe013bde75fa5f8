import type { FastifyInstance } from 'fastify';
import { NOTIFICATION_KINDS } from '@warmpool/contracts';
import { listKindSettings, listNotificationPreferences, PREFERENCE_CHANNELS, setKindDisabled, setNotificationPreference, setUserEmail } from '@warmpool/db';
import type { ApiDeps } from '../deps.js';
import { authorize, errorSchema, typed } from './common.js';

/** Notification preferences of the caller, the owners' site-wide switch per kind, and the caller's e-mail address. */
export async function notificationRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  const kind = { type: 'string', enum: NOTIFICATION_KINDS } as const;
  const channel = { type: 'string', enum: PREFERENCE_CHANNELS } as const;
  const preference = { type: 'object', properties: { kind: { type: 'string' }, channel: { type: 'string' }, enabled: { type: 'boolean' } } } as const;
  const kindSetting = {
    type: 'object',
    properties: { kind: { type: 'string' }, disabled: { type: 'boolean' }, updatedBy: { type: ['string', 'null'] }, updatedAt: { type: ['string', 'null'] } },
  } as const;

  // Every kind x channel (email, webhook) with the caller's choice; the inbox always keeps every notice.
  app.get(
    '/users/me/notification-preferences',
    { schema: { response: { 200: { type: 'object', properties: { preferences: { type: 'array', items: preference }, siteDisabled: { type: 'array', items: { type: 'string' } } } }, '4xx': errorSchema } } },
    async (request) => {
      const [preferences, kinds] = await Promise.all([listNotificationPreferences(deps.pool, request.principal.userId, NOTIFICATION_KINDS), listKindSettings(deps.pool, NOTIFICATION_KINDS)]);
      return { preferences, siteDisabled: kinds.filter((k) => k.disabled).map((k) => k.kind) };
    },
  );

  app.put(
    '/users/me/notification-preferences/:kind/:channel',
    {
      schema: {
        params: { type: 'object', properties: { kind, channel }, required: ['kind', 'channel'], additionalProperties: false },
        body: { type: 'object', properties: { enabled: { type: 'boolean' } }, required: ['enabled'], additionalProperties: false },
        response: { 200: preference, '4xx': errorSchema },
      },
    },
    async (request) => {
      const { kind: k, channel: c } = request.params;
      await setNotificationPreference(deps.pool, request.principal.userId, { kind: k, channel: c, enabled: request.body.enabled });
      return { kind: k, channel: c, enabled: request.body.enabled };
    },
  );

  // Where the caller's notices are mailed (null removes the address: no e-mail at all).
  app.put(
    '/users/me/email',
    {
      schema: {
        body: { type: 'object', properties: { email: { type: ['string', 'null'], format: 'email', maxLength: 254 } }, required: ['email'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { email: { type: ['string', 'null'] } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      await setUserEmail(deps.pool, request.principal.userId, request.body.email);
      return { email: request.body.email };
    },
  );

  app.get('/notification-kinds', { schema: { response: { 200: { type: 'array', items: kindSetting }, '4xx': errorSchema } } }, async () => listKindSettings(deps.pool, NOTIFICATION_KINDS));

  // Owners only: a disabled kind still reaches inboxes; its e-mails, webhooks and chat posts are recorded as skipped.
  app.put(
    '/notification-kinds/:kind',
    {
      schema: {
        params: { type: 'object', properties: { kind }, required: ['kind'], additionalProperties: false },
        body: { type: 'object', properties: { disabled: { type: 'boolean' } }, required: ['disabled'], additionalProperties: false },
        response: { 200: kindSetting, '4xx': errorSchema },
      },
    },
    async (request) => {
      authorize(request.principal, 'notification.manage', { organizationId: null });
      await setKindDisabled(deps.pool, request.params.kind, request.body.disabled, request.principal.userId);
      const settings = await listKindSettings(deps.pool, [request.params.kind]);
      return settings[0];
    },
  );
}
