import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INSTANCES, ManifestSyntaxError, parseManifestText, validateManifest, type ManifestValidation } from '@warmpool/core';

type Json = Record<string, unknown>;

const validPreset = (overrides: Json = {}): Json => ({
  name: 'small',
  description: 'Small workspaces in the EU',
  default: true,
  parameters: { size: 'small', region: 'eu' },
  prebuilds: {
    instances: 2,
    expiration_policy: { ttl: 86_400 },
    scheduling: {
      timezone: 'Europe/Berlin',
      schedule: [
        { cron: '* 9-18 * * 1-5', instances: 5 },
        { cron: '* 9-18 * * 0,6', instances: 1 },
      ],
    },
  },
  ...overrides,
});

const validManifest = (overrides: Json = {}): Json => ({
  name: 'v1',
  parameters: [
    { name: 'size', required: true, options: ['small', 'large'] },
    { name: 'region', default: 'eu' },
  ],
  presets: [validPreset(), { name: 'large', parameters: { size: 'large' } }],
  ...overrides,
});

/** The errors of a rejected manifest (fails the test when it was accepted). */
function errorsOf(result: ManifestValidation) {
  assert.equal(result.ok, false, 'expected the manifest to be rejected');
  return result.ok ? [] : result.errors;
}

/** Asserts that exactly one error has `path`, with a message matching `message` when given. */
function assertError(input: unknown, path: string, message?: RegExp, limits?: Parameters<typeof validateManifest>[1]) {
  const errors = errorsOf(validateManifest(input, limits));
  const hits = errors.filter((e) => e.path === path);
  assert.equal(hits.length, 1, `expected one error at ${path}, got ${JSON.stringify(errors)}`);
  assert.ok(hits[0]!.message.length > 0);
  if (message) assert.match(hits[0]!.message, message);
}

const withPreset = (preset: Json) => validManifest({ presets: [preset] });
const withPrebuilds = (prebuilds: Json) => withPreset(validPreset({ prebuilds }));
const withScheduling = (scheduling: Json) => withPrebuilds({ instances: 1, scheduling });

describe('validateManifest: accepted manifests', () => {
  test('a complete manifest is accepted with defaults applied and no warning', () => {
    const result = validateManifest(validManifest());
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.deepEqual(result.warnings, []);
    assert.equal(result.value.name, 'v1');
    assert.equal(result.value.parameters[1]!.required, false);
    assert.equal(result.value.presets[1]!.default, false);
    assert.deepEqual(result.value.presets[0]!.prebuilds?.scheduling?.schedule[0], { cron: '* 9-18 * * 1-5', instances: 5 });
  });

  test('minimal forms: no parameters, no presets, a preset without prebuilds or parameters', () => {
    for (const input of [{ name: 'v1' }, { name: 'v1', presets: [] }, { name: 'v1', presets: [{ name: 'p' }] }]) {
      const result = validateManifest(input);
      assert.equal(result.ok, true, JSON.stringify(result));
      if (result.ok) assert.deepEqual(result.value.presets.map((p) => p.parameters), input.presets?.map(() => ({})) ?? []);
    }
  });

  test('instances 0 is allowed in prebuilds and schedules', () => {
    assert.equal(validateManifest(withPrebuilds({ instances: 0, scheduling: { timezone: 'UTC', schedule: [{ cron: '* * * * *', instances: 0 }] } })).ok, true);
  });

  test('ttl: 0 (disabled), 3600 and 31536000 are accepted', () => {
    for (const ttl of [0, 3600, 31_536_000]) assert.equal(validateManifest(withPrebuilds({ instances: 1, expiration_policy: { ttl } })).ok, true, String(ttl));
  });

  test('description of exactly 128 characters is accepted', () => {
    assert.equal(validateManifest(withPreset(validPreset({ description: 'x'.repeat(128) }))).ok, true);
  });

  test('a preset naming an undeclared parameter is accepted with a warning naming it', () => {
    const result = validateManifest(withPreset(validPreset({ parameters: { size: 'small', color: 'blue' } })));
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /color/);
    assert.match(result.warnings[0]!, /presets\[0\]\.parameters\.color/);
  });

  test('64 schedules and 100 presets are within the default limits', () => {
    const schedule = Array.from({ length: 64 }, (_, i) => ({ cron: `* ${i % 24} * ${Math.floor(i / 24) + 1} *`, instances: 1 }));
    assert.equal(validateManifest(withScheduling({ timezone: 'UTC', schedule })).ok, true);
    const presets = Array.from({ length: 100 }, (_, i) => ({ name: `p${i}` }));
    assert.equal(validateManifest({ name: 'v1', presets }).ok, true);
  });
});

describe('validateManifest: every error carries its path', () => {
  test('root: name missing, empty or not a string; presets and parameters not lists', () => {
    assertError({ presets: [] }, 'name', /required/);
    assertError({ name: '' }, 'name');
    assertError({ name: 5 }, 'name');
    assertError({ name: 'v1', presets: {} }, 'presets');
    assertError({ name: 'v1', parameters: 'x' }, 'parameters');
  });

  test('not an object at all', () => {
    for (const input of [null, undefined, 'manifest', 42, []]) assert.ok(errorsOf(validateManifest(input)).length > 0);
  });

  test('unknown fields are rejected with their path, at every level', () => {
    assertError(validManifest({ version: 2 }), 'version', /unknown/);
    assertError(withPreset(validPreset({ colour: 'red' })), 'presets[0].colour', /unknown/);
    assertError(withPrebuilds({ instances: 1, replicas: 3 }), 'presets[0].prebuilds.replicas', /unknown/);
    assertError(withPrebuilds({ instances: 1, expiration_policy: { ttl: 0, max_age: 1 } }), 'presets[0].prebuilds.expiration_policy.max_age', /unknown/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * * * *', instances: 1 }], tz: 'x' }), 'presets[0].prebuilds.scheduling.tz', /unknown/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * * * *', instances: 1, minute: 0 }] }), 'presets[0].prebuilds.scheduling.schedule[0].minute', /unknown/);
    assertError(validManifest({ parameters: [{ name: 'size', type: 'string' }] }), 'parameters[0].type', /unknown/);
  });

  test('an unknown field message names the field', () => {
    assertError(withPreset(validPreset({ colour: 'red' })), 'presets[0].colour', /"colour"/);
  });

  test('a value that should be an object says so at its path', () => {
    assertError(validManifest({ presets: [5] }), 'presets[0]', /must be an object/);
    assertError(withPrebuilds(null as unknown as Json), 'presets[0].prebuilds', /must be an object/);
    assertError(withPrebuilds({ instances: 1, expiration_policy: [] }), 'presets[0].prebuilds.expiration_policy', /must be an object/);
    assertError(withPrebuilds({ instances: 1, scheduling: 'x' }), 'presets[0].prebuilds.scheduling', /must be an object/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [7] }), 'presets[0].prebuilds.scheduling.schedule[0]', /must be an object/);
    assertError(validManifest({ parameters: ['size'] }), 'parameters[0]', /must be an object/);
    assertError(withPreset({ name: 'p', parameters: ['size'] }), 'presets[0].parameters', /map/);
    for (const input of [null, 'manifest', []]) assert.match(errorsOf(validateManifest(input))[0]!.message, /must be an object/);
  });

  test('__proto__ is refused as a parameter name instead of being silently dropped', () => {
    assertError(validManifest({ parameters: [{ name: '__proto__' }] }), 'parameters[0].name', /not allowed/);
    const input = JSON.parse('{"name":"v1","presets":[{"name":"p","parameters":{"__proto__":"x"}}]}') as unknown;
    assertError(input, 'presets[0].parameters.__proto__', /not allowed/);
    assertError(JSON.parse('{"name":"v1","__proto__":{}}') as unknown, '__proto__', /unknown/);
  });

  test('preset name: required, non-empty, unique within the version', () => {
    assertError(withPreset({ prebuilds: { instances: 1 } }), 'presets[0].name', /required/);
    assertError(withPreset({ name: '' }), 'presets[0].name');
    assertError(validManifest({ presets: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] }), 'presets[2].name', /duplicate/);
  });

  test('description longer than 128 characters', () => {
    assertError(withPreset(validPreset({ description: 'x'.repeat(129) })), 'presets[0].description', /128/);
    assertError(withPreset(validPreset({ description: 7 })), 'presets[0].description');
  });

  test('at most one default preset; default must be a boolean', () => {
    assertError(validManifest({ presets: [{ name: 'a', default: true }, { name: 'b', default: false }, { name: 'c', default: true }] }), 'presets[2].default', /one/);
    assertError(withPreset({ name: 'a', default: 'yes' }), 'presets[0].default');
  });

  test('instances are bounded in the base count and in every schedule (int4 overflow would be a 5xx)', () => {
    assert.equal(validateManifest(withPrebuilds({ instances: MAX_INSTANCES })).ok, true);
    assertError(withPrebuilds({ instances: MAX_INSTANCES + 1 }), 'presets[0].prebuilds.instances', /≤ 10000/);
    assertError(withPrebuilds({ instances: 2 ** 31 }), 'presets[0].prebuilds.instances', /≤/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * * * *', instances: 2 ** 31 }] }), 'presets[0].prebuilds.scheduling.schedule[0].instances', /≤/);
    assert.equal(validateManifest(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * * * *', instances: MAX_INSTANCES }] })).ok, true);
  });

  test('prebuilds.instances: required integer >= 0', () => {
    assertError(withPrebuilds({}), 'presets[0].prebuilds.instances', /required/);
    assertError(withPrebuilds({ instances: -1 }), 'presets[0].prebuilds.instances');
    assertError(withPrebuilds({ instances: 1.5 }), 'presets[0].prebuilds.instances', /integer/);
    assertError(withPrebuilds({ instances: '2' }), 'presets[0].prebuilds.instances');
  });

  test('expiration_policy.ttl: required; 0 or 3600..31536000 integer seconds', () => {
    assertError(withPrebuilds({ instances: 1, expiration_policy: {} }), 'presets[0].prebuilds.expiration_policy.ttl', /required/);
    for (const ttl of [3599, 31_536_001, -1, 1, 3600.5, '3600']) {
      assertError(withPrebuilds({ instances: 1, expiration_policy: { ttl } }), 'presets[0].prebuilds.expiration_policy.ttl');
    }
  });

  test('scheduling: timezone required and IANA; schedule required with at least one entry', () => {
    const schedule = [{ cron: '* * * * *', instances: 1 }];
    assertError(withScheduling({ schedule }), 'presets[0].prebuilds.scheduling.timezone', /required/);
    for (const timezone of ['Mars/Olympus', '', '+02:00']) assertError(withScheduling({ timezone, schedule }), 'presets[0].prebuilds.scheduling.timezone', /IANA/);
    assertError(withScheduling({ timezone: 'UTC' }), 'presets[0].prebuilds.scheduling.schedule', /required/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [] }), 'presets[0].prebuilds.scheduling.schedule', /at least one/);
  });

  test('schedule entries: cron valid and required, instances required integer >= 0', () => {
    const path = 'presets[0].prebuilds.scheduling.schedule';
    const ok = { cron: '* 0-8 * * *', instances: 1 };
    for (const cron of ['5/2 * * * *', '* 5/2 * * *', '* * * * MON', '* * * JAN *', '* * ? * *', '* * L * *', '* * 15W * *', '* * * * 1#2', '* * * * 7', '* 18-9 * * *', '* * * *', '* * * * * *', '0 9 * * *']) {
      assertError(withScheduling({ timezone: 'UTC', schedule: [ok, { cron, instances: 1 }] }), `${path}[1].cron`);
    }
    assertError(withScheduling({ timezone: 'UTC', schedule: [ok, { instances: 1 }] }), `${path}[1].cron`, /required/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* 9 * * *' }] }), `${path}[0].instances`, /required/);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* 9 * * *', instances: -2 }] }), `${path}[0].instances`);
  });

  test('overlapping schedules of one preset are reported on the schedule list, naming both expressions', () => {
    const errors = errorsOf(
      validateManifest(
        withScheduling({
          timezone: 'UTC',
          schedule: [
            { cron: '* 9-12 * * *', instances: 1 },
            { cron: '* 12-14 * * *', instances: 2 },
            { cron: '* 15 * * *', instances: 3 },
            { cron: '* 15 1 * *', instances: 3 },
          ],
        }),
      ),
    );
    const overlaps = errors.filter((e) => e.path === 'presets[0].prebuilds.scheduling.schedule');
    assert.equal(overlaps.length, 2);
    assert.ok(overlaps[0]!.message.includes('* 9-12 * * *') && overlaps[0]!.message.includes('* 12-14 * * *'));
    assert.ok(overlaps[1]!.message.includes('* 15 * * *') && overlaps[1]!.message.includes('* 15 1 * *'));
    // Touching but not overlapping, and impossible dates: accepted.
    assert.equal(validateManifest(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* 9-11 * * *', instances: 1 }, { cron: '* 12-14 * * *', instances: 2 }] })).ok, true);
    assert.equal(validateManifest(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * 31 2 *', instances: 1 }, { cron: '* * * * *', instances: 2 }] })).ok, true);
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* * 29 2 *', instances: 1 }, { cron: '* * 29 * 1', instances: 2 }] }), 'presets[0].prebuilds.scheduling.schedule', /overlap/);
  });

  test('preset parameters: map of non-empty string to non-empty string', () => {
    assertError(withPreset(validPreset({ parameters: { size: '' } })), 'presets[0].parameters.size');
    assertError(withPreset(validPreset({ parameters: { size: 3 } })), 'presets[0].parameters.size');
    assertError(withPreset(validPreset({ parameters: { '': 'x' } })), 'presets[0].parameters');
    assertError(withPreset(validPreset({ parameters: ['size'] })), 'presets[0].parameters');
  });

  test('a preset value outside the declared options is an error', () => {
    assertError(withPreset(validPreset({ parameters: { size: 'huge' } })), 'presets[0].parameters.size', /huge.*small, large/);
  });

  test('parameter declarations: name required, types checked, duplicates and defaults outside options rejected', () => {
    assertError(validManifest({ parameters: [{ required: true }] }), 'parameters[0].name', /required/);
    assertError(validManifest({ parameters: [{ name: 'size', required: 'yes' }] }), 'parameters[0].required');
    assertError(validManifest({ parameters: [{ name: 'size', options: 'small' }] }), 'parameters[0].options');
    assertError(validManifest({ parameters: [{ name: 'size', options: ['small', ''] }] }), 'parameters[0].options[1]');
    assertError(validManifest({ parameters: [{ name: 'size', default: 1 }] }), 'parameters[0].default');
    assertError(validManifest({ parameters: [{ name: 'size' }, { name: 'size' }] }), 'parameters[1].name', /duplicate/);
    assertError(validManifest({ parameters: [{ name: 'size', options: ['small'], default: 'large' }] }), 'parameters[0].default', /options/);
  });

  test('all problems are reported at once, schema and cross-field alike', () => {
    const errors = errorsOf(
      validateManifest({
        name: '',
        extra: true,
        parameters: [{ name: 'size', options: ['small'] }],
        presets: [
          { name: 'a', default: true, description: 'x'.repeat(129), parameters: { size: 'large' } },
          { name: 'a', default: true, prebuilds: { instances: -1, expiration_policy: { ttl: 3599 } } },
          {
            name: 'c',
            prebuilds: {
              instances: 1,
              scheduling: { timezone: 'Nowhere/Land', schedule: [{ cron: '* 9 * * MON', instances: 1 }, { cron: '* 9 * * *', instances: 1 }, { cron: '* 9 * * 1', instances: 1 }] },
            },
          },
        ],
      }),
    );
    const paths = errors.map((e) => e.path).sort();
    assert.deepEqual(paths, [
      'extra',
      'name',
      'presets[0].description',
      'presets[0].parameters.size',
      'presets[1].default',
      'presets[1].name',
      'presets[1].prebuilds.expiration_policy.ttl',
      'presets[1].prebuilds.instances',
      'presets[2].prebuilds.scheduling.schedule',
      'presets[2].prebuilds.scheduling.schedule[0].cron',
      'presets[2].prebuilds.scheduling.timezone',
    ]);
  });
});

describe('validateManifest: size limits', () => {
  test('101 presets are refused with a clear error on presets', () => {
    const presets = Array.from({ length: 101 }, (_, i) => ({ name: `p${i}` }));
    assertError({ name: 'v1', presets }, 'presets', /100/);
  });

  test('65 schedules in one preset are refused on its schedule list', () => {
    const schedule = Array.from({ length: 65 }, (_, i) => ({ cron: `* ${i % 24} * ${Math.floor(i / 24) + 1} *`, instances: 1 }));
    assertError(withScheduling({ timezone: 'UTC', schedule }), 'presets[0].prebuilds.scheduling.schedule', /64/);
  });

  test('limits are configurable; undefined entries keep the defaults', () => {
    assertError({ name: 'v1', presets: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }, 'presets', /2/, { maxPresets: 2 });
    assertError(withScheduling({ timezone: 'UTC', schedule: [{ cron: '* 1 * * *', instances: 1 }, { cron: '* 2 * * *', instances: 1 }] }), 'presets[0].prebuilds.scheduling.schedule', /1/, {
      maxSchedulesPerPreset: 1,
    });
    const presets = Array.from({ length: 101 }, (_, i) => ({ name: `p${i}` }));
    assertError({ name: 'v1', presets }, 'presets', /100/, { maxPresets: undefined, maxSchedulesPerPreset: undefined });
    assert.equal(validateManifest({ name: 'v1', presets }, { maxPresets: 200 }).ok, true);
  });
});

describe('parseManifestText', () => {
  const yaml = `
name: v2
parameters:
  - name: size
    options: [small, large]
presets:
  - name: small
    default: true
    parameters:
      size: small
    prebuilds:
      instances: 2
      expiration_policy:
        ttl: 3600
      scheduling:
        timezone: Asia/Kolkata
        schedule:
          - cron: "* 9-18 * * 1-5"
            instances: 4
`;

  test('JSON text', () => {
    const text = JSON.stringify(validManifest());
    assert.deepEqual(parseManifestText(text), validManifest());
    assert.equal(validateManifest(parseManifestText(text)).ok, true);
  });

  test('YAML text is parsed and validated like JSON', () => {
    const result = validateManifest(parseManifestText(yaml));
    assert.equal(result.ok, true, JSON.stringify(result));
    if (result.ok) assert.equal(result.value.presets[0]!.prebuilds?.scheduling?.timezone, 'Asia/Kolkata');
  });

  test('YAML errors keep their paths after validation', () => {
    const broken = yaml.replace('ttl: 3600', 'ttl: 3599').replace('instances: 4', 'instances: 4\n            minute: 0');
    const errors = errorsOf(validateManifest(parseManifestText(broken)));
    assert.deepEqual(errors.map((e) => e.path).sort(), ['presets[0].prebuilds.expiration_policy.ttl', 'presets[0].prebuilds.scheduling.schedule[0].minute']);
  });

  test('a YAML flow mapping is YAML, not broken JSON', () => {
    assert.deepEqual(parseManifestText('{name: v1, presets: []}'), { name: 'v1', presets: [] });
  });

  test('invalid text throws a clear ManifestSyntaxError', () => {
    assert.throws(() => parseManifestText('{"name": "v1",'), (err: Error) => err instanceof ManifestSyntaxError && /JSON/.test(err.message));
    assert.throws(() => parseManifestText('name: [unclosed\npresets: ]'), (err: Error) => err instanceof ManifestSyntaxError && /YAML/.test(err.message));
    assert.throws(() => parseManifestText('a: 1\na: 2'), ManifestSyntaxError); // duplicate keys
    for (const empty of ['', '  \n\t']) assert.throws(() => parseManifestText(empty), /empty/);
  });
});
