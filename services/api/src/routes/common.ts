import { findOrganizationId, findPreset as loadPreset, findTemplate as loadTemplate, type ClaimTarget, type PresetRow, type Principal, type TemplateRow } from '@warmpool/db';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { claimTargetKey } from '@warmpool/operations';
import { cacheFor } from '../cache.js';
import { can, rolesAllowedTo, seesOrganization, type Action } from '../authz.js';
import { ApiError, notFound } from '../errors.js';

/**
 * Route plugins see the app through the JSON-schema type provider: params, querystring, body and replies are typed
 * from the route's own schemas (written `as const`), so no hand-written request type can drift from them.
 */
export type Api = ReturnType<typeof typed>;
export const typed = (app: FastifyInstance) => app.withTypeProvider<JsonSchemaToTsProvider>();

const uuid = { type: 'string', format: 'uuid' } as const;
/** Path parameters that are all UUIDs. */
export const uuidParam = <const N extends readonly string[]>(...names: N) =>
  ({
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, uuid])) as { [K in N[number]]: typeof uuid },
    required: names,
    additionalProperties: false,
  }) as const;
export const orgParam = { type: 'object', properties: { org: { type: 'string', minLength: 1, maxLength: 63 } }, required: ['org'], additionalProperties: false } as const;
export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, details: { type: 'array' } },
  required: ['error', 'message', 'details'],
} as const;

/** Throws 403 unless the principal may take the action on an object of that organization; the message names the roles that may. */
export function authorize(principal: Principal, action: Action, target: { organizationId: string | null; ownerId?: string }): void {
  if (can(principal, action, target)) return;
  const roles = rolesAllowedTo(action);
  const named = roles.length > 1 ? `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}` : roles.join('');
  const scope = target.organizationId === null ? 'site-wide' : 'for this organization';
  throw new ApiError(403, 'forbidden', `not allowed to ${action}: needs the ${named} role ${scope}`);
}

/**
 * An organization by name, visible to the principal; other organizations answer 404. `load` reads it when this
 * replica has not cached it (a create passes one that reads the template's claim target in the same statement).
 */
export async function findOrganization(deps: ApiDeps, principal: Principal, name: string, load = () => findOrganizationId(deps.pool, name)): Promise<string> {
  const id = await cacheFor<string>(deps.pool, 'organizations', deps.config.apiCacheMs).get(name, load);
  if (!id || !seesOrganization(principal, id)) throw notFound('organization');
  return id;
}

/**
 * The replica's cache of claim targets (a template's active version and presets, for creates). The SQL of a create
 * re-checks what it holds; routes that retire or re-version a template also drop the entry, so this replica's next
 * create needs no stale round trip.
 */
export const claimTargetCache = (deps: ApiDeps) => cacheFor<ClaimTarget>(deps.pool, 'claim-targets', deps.config.apiCacheMs);
export const forgetClaimTarget = (deps: ApiDeps, template: { organization_id: string; id: string }): void =>
  claimTargetCache(deps).delete(claimTargetKey(template.organization_id, template.id));

export async function findTemplate(deps: ApiDeps, principal: Principal, id: string): Promise<TemplateRow> {
  const row = await loadTemplate(deps.pool, id);
  if (!row || row.deleted || !seesOrganization(principal, row.organization_id)) throw notFound('template');
  return row;
}

export async function findPreset(deps: ApiDeps, principal: Principal, id: string): Promise<PresetRow> {
  const row = await loadPreset(deps.pool, id);
  if (!row || !seesOrganization(principal, row.organization_id)) throw notFound('preset');
  return row;
}
