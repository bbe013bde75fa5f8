import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchPreset, parameterValueProblem, resolveBuildParameters } from '@warmpool/core';

describe('resolveBuildParameters', () => {
  const declarations = [
    { name: 'region', required: true, default: 'eu' },
    { name: 'size', required: true },
    { name: 'ide', required: false, default: 'vscode' },
    { name: 'note', required: false },
  ];
  test('preset values over declared defaults', () => {
    assert.deepEqual(resolveBuildParameters(declarations, { size: 'large', region: 'us' }), {
      ok: true,
      parameters: { region: 'us', size: 'large', ide: 'vscode' },
    });
  });
  test('a required parameter with neither value nor default is an error naming it', () => {
    const result = resolveBuildParameters(declarations, { region: 'us' });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : '', /size/);
  });
  test('every missing required parameter is named', () => {
    const result = resolveBuildParameters([{ name: 'a', required: true }, { name: 'b', required: true }], {});
    assert.deepEqual(result, { ok: false, error: 'missing required parameters: a, b' });
  });
  test('an empty value does not satisfy a required parameter', () => {
    assert.equal(resolveBuildParameters([{ name: 'a', required: true }], { a: '' }).ok, false);
  });
  test('names that exist on Object.prototype are ordinary parameters', () => {
    assert.deepEqual(resolveBuildParameters([{ name: 'toString', required: true }], {}), { ok: false, error: 'missing required parameter: toString' });
    const result = resolveBuildParameters([{ name: 'constructor', required: true, default: 'c' }], JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    assert.equal(result.ok, true);
    if (result.ok) {
      assert.equal(Object.getPrototypeOf(result.parameters), Object.prototype);
      assert.deepEqual(Object.entries(result.parameters), [['constructor', 'c'], ['__proto__', 'x']]);
    }
  });
  test('undeclared preset parameters are passed through', () => {
    assert.deepEqual(resolveBuildParameters([], { extra: 'x' }), { ok: true, parameters: { extra: 'x' } });
  });
});

describe('matchPreset (§5)', () => {
  const presets: { id: string; name: string; parameters: Record<string, string> }[] = [
    { id: '1', name: 'small', parameters: { size: 'small' } },
    { id: '2', name: 'small-eu', parameters: { size: 'small', region: 'eu' } },
    { id: '3', name: 'any', parameters: {} },
    { id: '4', name: 'b-eu', parameters: { region: 'eu', ide: 'vim' } },
    { id: '5', name: 'B-eu', parameters: { region: 'eu', ide: 'vim' } },
  ];
  test('every preset pair must appear in the request; most parameters wins', () => {
    assert.equal(matchPreset(presets, { size: 'small', region: 'eu' })?.id, '2');
    assert.equal(matchPreset(presets, { size: 'small', region: 'us' })?.id, '1');
  });
  test('a preset with zero parameters matches anything but only wins when nothing more specific does', () => {
    assert.equal(matchPreset(presets, { size: 'large' })?.id, '3');
    assert.equal(matchPreset(presets, {})?.id, '3');
    assert.equal(matchPreset(presets.filter((p) => p.id !== '3'), { size: 'large' }), null);
  });
  test('ties by preset name in code-unit order', () => {
    // 'B-eu' < 'b-eu' in code units (uppercase first), whatever the input order.
    assert.equal(matchPreset(presets, { region: 'eu', ide: 'vim' })?.name, 'B-eu');
    assert.equal(matchPreset([...presets].reverse(), { region: 'eu', ide: 'vim' })?.name, 'B-eu');
  });
  test('values must be equal, not just present', () => {
    assert.equal(matchPreset(presets.slice(0, 2), { size: 'Small' }), null);
  });
  test('inherited properties of the request do not count as pairs', () => {
    assert.equal(matchPreset([{ id: 'x', name: 'x', parameters: { toString: 'y' } }], {}), null);
  });
});

describe('parameter values satisfy their declaration', () => {
  const declarations = [
    { name: 'region', required: true, options: ['eu-west', 'us-east'] },
    { name: 'size', required: false, default: 'small', options: ['small', 'large'] },
  ];
  test('a value outside the declared options is refused, naming the parameter', () => {
    assert.deepEqual(resolveBuildParameters(declarations, { region: 'mars' }), {
      ok: false,
      error: 'parameter "region" is not one of the declared options (eu-west, us-east)',
      parameter: 'region',
    });
  });
  test('line breaks and other control characters are refused in declared and undeclared values', () => {
    for (const bad of ['eu-west\n', 'a\rb', 'tab\there', 'nul\u0000', 'del\u007f', 'c1\u0085', 'ls\u2028', 'ps\u2029']) {
      const declared = resolveBuildParameters([{ name: 'note', required: false }], { note: bad });
      assert.deepEqual(declared, { ok: false, error: 'parameter "note" must not contain line breaks or other control characters', parameter: 'note' }, JSON.stringify(bad));
      assert.equal(resolveBuildParameters([], { extra: bad }).ok, false, JSON.stringify(bad));
    }
  });
  test('allowed values and defaults pass; long option lists are cut in the message', () => {
    assert.deepEqual(resolveBuildParameters(declarations, { region: 'us-east' }), { ok: true, parameters: { size: 'small', region: 'us-east' } });
    const many = Array.from({ length: 25 }, (_, i) => `o${i}`);
    assert.equal(parameterValueProblem({ options: many }, 'x'), 'is not one of the declared options (o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, and 15 more)');
    assert.equal(parameterValueProblem({ options: many }, 'o24'), null);
    assert.equal(parameterValueProblem(undefined, 'anything: é ✓'), null);
  });
});
