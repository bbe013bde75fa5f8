import { ROLES } from '@warmpool/contracts';
import { USERNAME_PATTERN } from '@warmpool/db';
import { errorSchema, uuidParam } from './common.js';

/** The JSON schemas of the user, token and inbox routes (request types are inferred from them: keep them `as const`). */

export const meSchema = {
  response: {
    200: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        username: { type: 'string' },
        roles: { type: 'array', items: { type: 'object', properties: { role: { type: 'string' }, organizationId: { type: ['string', 'null'] } } } },
      },
    },
    '4xx': errorSchema,
  },
} as const;

const roleProperties = {
  role: { type: 'string', enum: ROLES },
  organization: { type: 'string', minLength: 1, maxLength: 63 },
} as const;

export const createUserSchema = {
  body: {
    type: 'object',
    properties: { username: { type: 'string', pattern: USERNAME_PATTERN }, ...roleProperties },
    required: ['username', 'role'],
    additionalProperties: false,
  },
  response: { 201: { type: 'object', properties: { id: { type: 'string' }, username: { type: 'string' } } }, '4xx': errorSchema },
} as const;

export const grantRoleSchema = {
  params: uuidParam('id'),
  body: { type: 'object', properties: roleProperties, required: ['role'], additionalProperties: false },
  response: { 201: { type: 'object', properties: { user_id: { type: 'string' }, role: { type: 'string' }, organization_id: { type: ['string', 'null'] } } }, '4xx': errorSchema },
} as const;

const tokenProperties = {
  name: { type: 'string', minLength: 1, maxLength: 64 },
  expires_in_seconds: { type: 'integer', minimum: 60, maximum: 10 * 365 * 86_400 },
} as const;
const tokenResponse = { 201: { type: 'object', properties: { token: { type: 'string' }, user_id: { type: 'string' } } }, '4xx': errorSchema } as const;

export const createTokenSchema = {
  body: { type: 'object', properties: { ...tokenProperties, user_id: { type: 'string', format: 'uuid' } }, required: ['name'], additionalProperties: false },
  response: tokenResponse,
} as const;

export const createUserTokenSchema = {
  params: uuidParam('id'),
  body: { type: 'object', properties: tokenProperties, required: ['name'], additionalProperties: false },
  response: tokenResponse,
} as const;

const inbox = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          kind: { type: 'string' },
          title: { type: 'string' },
          body: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          links: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, url: { type: 'string' } } } },
          deliveryStatus: { type: 'string' },
          attempts: { type: 'integer' },
          lastError: { type: ['string', 'null'] },
          createdAt: { type: 'string' },
          deliveredAt: { type: ['string', 'null'] },
          readAt: { type: ['string', 'null'] },
          email: {
            type: ['object', 'null'],
            properties: { status: { type: 'string' }, attempts: { type: 'integer' }, lastError: { type: ['string', 'null'] } },
          },
        },
      },
    },
    nextCursor: { type: ['string', 'null'] },
  },
} as const;

export const inboxSchema = {
  querystring: {
    type: 'object',
    properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, before: { type: 'string', maxLength: 200 } },
    additionalProperties: false,
  },
  response: { 200: inbox, '4xx': errorSchema },
} as const;

export const markReadSchema = { params: uuidParam('id'), response: { 200: { type: 'object', properties: { read: { type: 'boolean' } } }, '4xx': errorSchema } } as const;
