import { NOTIFICATION_KINDS } from '@warmpool/contracts';
import { PREFERENCE_CHANNELS } from '@warmpool/db';
import { errorSchema } from './common.js';

/** The JSON schemas of the notification settings routes (request types are inferred from them: keep them `as const`). */

const kind = { type: 'string', enum: NOTIFICATION_KINDS } as const;
const channel = { type: 'string', enum: PREFERENCE_CHANNELS } as const;
const preference = { type: 'object', properties: { kind: { type: 'string' }, channel: { type: 'string' }, enabled: { type: 'boolean' } } } as const;
const kindSetting = {
  type: 'object',
  properties: { kind: { type: 'string' }, disabled: { type: 'boolean' }, updatedBy: { type: ['string', 'null'] }, updatedAt: { type: ['string', 'null'] } },
} as const;

export const preferencesSchema = {
  response: { 200: { type: 'object', properties: { preferences: { type: 'array', items: preference }, siteDisabled: { type: 'array', items: { type: 'string' } } } }, '4xx': errorSchema },
} as const;

export const setPreferenceSchema = {
  params: { type: 'object', properties: { kind, channel }, required: ['kind', 'channel'], additionalProperties: false },
  body: { type: 'object', properties: { enabled: { type: 'boolean' } }, required: ['enabled'], additionalProperties: false },
  response: { 200: preference, '4xx': errorSchema },
} as const;

export const setEmailSchema = {
  body: { type: 'object', properties: { email: { type: ['string', 'null'], format: 'email', maxLength: 254 } }, required: ['email'], additionalProperties: false },
  response: { 200: { type: 'object', properties: { email: { type: ['string', 'null'] } } }, '4xx': errorSchema },
} as const;

export const kindsSchema = { response: { 200: { type: 'array', items: kindSetting }, '4xx': errorSchema } } as const;

export const setKindSchema = {
  params: { type: 'object', properties: { kind }, required: ['kind'], additionalProperties: false },
  body: { type: 'object', properties: { disabled: { type: 'boolean' } }, required: ['disabled'], additionalProperties: false },
  response: { 200: kindSetting, '4xx': errorSchema },
} as const;
