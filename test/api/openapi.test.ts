import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { client, startTestApi } from '../support/api.js';

/**
 * The OpenAPI document is generated from the route schemas, so it is only as complete as they are: every API
 * operation must describe its answers (success and the error shape), its path parameters and, when it takes
 * one, its request body.
 */

type Operation = {
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses?: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components?: { securitySchemes?: Record<string, unknown> } };

let env: Awaited<ReturnType<typeof startTestApi>>;
let doc: Document;

before(async () => {
  env = await startTestApi();
  const res = await client(env.api.url)('GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200);
  doc = res.body as unknown as Document;
});
after(async () => env.stop());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));

// Routes that read or act on the path alone; every other POST/PATCH takes a JSON body.
const BODYLESS = /\/(activate|deprecate|resume|pause|invalidate|read)$/;

test('the document lists every API route under /api/v1 and nothing else (health checks and metrics are hidden)', () => {
  assert.match(doc.openapi, /^3\./);
  assert.ok(doc.components?.securitySchemes?.bearer, 'bearer security scheme');
  const paths = Object.keys(doc.paths);
  assert.ok(paths.every((p) => p.startsWith('/api/v1/')), paths.join(', '));
  for (const expected of [
    '/api/v1/organizations/{org}/templates',
    '/api/v1/templates/{id}/versions',
    '/api/v1/templates/{id}/versions/{versionId}/activate',
    '/api/v1/templates/{id}/deprecate',
    '/api/v1/templates/{id}',
    '/api/v1/organizations/{org}/workspaces',
    '/api/v1/workspaces/{id}',
    '/api/v1/presets/{id}/status',
    '/api/v1/presets/{id}/schedule-preview',
    '/api/v1/presets/{id}/replay',
    '/api/v1/templates/{id}/versions/dry-run',
    '/api/v1/prebuilds/pause',
    '/api/v1/prebuilds/resume',
    '/api/v1/presets/{id}/resume',
    '/api/v1/presets/{id}/invalidate',
    '/api/v1/users',
    '/api/v1/tokens',
    '/api/v1/users/me/notifications',
    '/api/v1/users/me/notification-preferences',
    '/api/v1/users/me/notification-preferences/{kind}/{channel}',
    '/api/v1/users/me/email',
    '/api/v1/notification-kinds',
    '/api/v1/notification-kinds/{kind}',
  ]) {
    assert.ok(paths.includes(expected), `missing ${expected}`);
  }
});

test('every operation documents a success answer, the error shape, its path parameters and its body', () => {
  const problems: string[] = [];
  for (const { path, method, op } of operations()) {
    const where = `${method} ${path}`;
    const statuses = Object.keys(op.responses ?? {});
    if (!statuses.some((s) => s.startsWith('2'))) problems.push(`${where}: no 2xx answer`);
    const clientError = op.responses?.['4XX']?.content?.['application/json']?.schema;
    if (!clientError || !(clientError.required as string[] | undefined)?.includes('error')) problems.push(`${where}: no 4XX error schema`);
    for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
      if (!op.parameters?.some((p) => p.in === 'path' && p.name === name)) problems.push(`${where}: path parameter ${name} undocumented`);
    }
    if ((method === 'POST' || method === 'PATCH') && !BODYLESS.test(path) && !op.requestBody) problems.push(`${where}: no request body`);
  }
  assert.deepEqual(problems, []);
  assert.ok(operations().length >= 20, `${operations().length} operations`);
});

test('a manifest may be sent as JSON or YAML', () => {
  const body = doc.paths['/api/v1/templates/{id}/versions']?.post?.requestBody;
  assert.deepEqual(Object.keys(body?.content ?? {}).sort(), ['application/json', 'application/yaml']);
});

/** Every property name anywhere in a JSON schema (nested objects, arrays, combinators). */
function propertyNames(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((item) => propertyNames(item, found));
  else if (schema !== null && typeof schema === 'object') {
    const properties = (schema as { properties?: Record<string, unknown> }).properties;
    if (properties && typeof properties === 'object') for (const name of Object.keys(properties)) found.add(name);
    for (const value of Object.values(schema)) propertyNames(value, found);
  }
  return found;
}

// Webhook and chat URLs make the notifier POST wherever they point, so only operators set them (the CLI). An API
// route taking one would have to refuse loopback, link-local and private addresses unless an operator allowed them:
// this fails the day such a route appears without that decision being made.
test('no API route takes a webhook or chat URL', () => {
  const offered = operations().flatMap(({ path, method, op }) =>
    [...propertyNames(op.requestBody ?? {}), ...(op.parameters ?? []).map((p) => p.name)].filter((name) => /webhook|chat|url/i.test(name)).map((name) => `${method} ${path}: ${name}`),
  );
  assert.deepEqual(offered, []);
  // The walk does see request bodies: the create-workspace body's fields are found.
  const create = operations().find(({ path, method }) => method === 'POST' && path.endsWith('/workspaces'));
  assert.ok(propertyNames(create?.op.requestBody).has('template_id'));
});
