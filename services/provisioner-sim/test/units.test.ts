import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../src/options.js';
import { decideOutcome, loadSimOptions, OutcomeMemory, rateParameter, SIMULATED_REPLACEMENTS, type SimOutcome } from '../src/index.js';
import { buildRequest as request } from '../../../test/support/build-request.js';

test('simulator options: defaults, parsing, and errors that name the variable', () => {
  assert.deepEqual(loadSimOptions({}), {
    buildMs: 1500,
    jitterMs: 500,
    failureRate: 0,
    agentReadyMs: 500,
    replacementRate: 0,
    concurrency: 50,
    seed: undefined,
  });
  const custom = loadSimOptions({ SIM_BUILD_MS: '10', SIM_FAILURE_RATE: '0.25', SIM_SEED: '42', SIM_CONCURRENCY: '3', SIM_BUILD_JITTER_MS: '' });
  assert.equal(custom.buildMs, 10);
  assert.equal(custom.failureRate, 0.25);
  assert.equal(custom.seed, 42);
  assert.equal(custom.concurrency, 3);
  assert.equal(custom.jitterMs, 500, 'an empty variable counts as unset');
  assert.throws(() => loadSimOptions({ SIM_FAILURE_RATE: '1.5' }), /SIM_FAILURE_RATE/);
  assert.throws(() => loadSimOptions({ SIM_REPLACEMENT_RATE: 'often' }), /SIM_REPLACEMENT_RATE/);
  assert.throws(() => loadSimOptions({ SIM_BUILD_MS: '-1' }), /SIM_BUILD_MS/);
  assert.throws(() => loadSimOptions({ SIM_CONCURRENCY: '0' }), /SIM_CONCURRENCY/);
  assert.throws(() => loadSimOptions({ SIM_SEED: '1.5' }), /SIM_SEED/);
});

test('a seeded random source repeats its sequence and stays within [0, 1)', () => {
  const a = createRandom(7);
  const b = createRandom(7);
  const first = Array.from({ length: 100 }, () => a());
  assert.deepEqual(first, Array.from({ length: 100 }, () => b()));
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(first, Array.from({ length: 100 }, createRandom(8)));
});

test('rate parameters accept numbers in 0..1 only', () => {
  assert.equal(rateParameter({ sim_failure_rate: '0.5' }, 'sim_failure_rate'), 0.5);
  assert.equal(rateParameter({ sim_failure_rate: '1' }, 'sim_failure_rate'), 1);
  assert.equal(rateParameter({}, 'sim_failure_rate'), undefined);
  for (const bad of ['', ' ', 'x', '2', '-0.1', 'NaN', 'Infinity']) {
    assert.equal(rateParameter({ sim_failure_rate: bad }, 'sim_failure_rate'), undefined, bad);
  }
});

test('outcomes: failure rates, the per-preset override, agents per transition, replacements on claims only', () => {
  const never = { failureRate: 0, replacementRate: 0 };
  const always = { failureRate: 1, replacementRate: 1 };
  const random = createRandom(1);
  assert.deepEqual(decideOutcome(request(), never, random), { kind: 'succeeded', agents: [{ name: 'main', ready: false }], replacements: undefined });
  assert.equal(decideOutcome(request(), always, random).kind, 'failed');
  assert.equal(decideOutcome(request({ parameters: { sim_failure_rate: '1' } }), never, random).kind, 'failed');
  assert.equal(decideOutcome(request({ parameters: { sim_failure_rate: '0' } }), always, random).kind, 'succeeded', 'the preset knob overrides');
  assert.deepEqual(decideOutcome(request({ transition: 'delete', reason: 'prebuild-delete' }), always, random), {
    kind: 'succeeded',
    agents: [],
    replacements: undefined,
  });
  const claim = decideOutcome(request({ reason: 'claim', parameters: { sim_failure_rate: '0' } }), always, random);
  assert.deepEqual(claim.kind === 'succeeded' && claim.replacements, SIMULATED_REPLACEMENTS);
  const forced = decideOutcome(request({ reason: 'claim', parameters: { sim_replace: 'true' } }), never, random);
  assert.deepEqual(forced.kind === 'succeeded' && forced.replacements, SIMULATED_REPLACEMENTS);
  const prebuild = decideOutcome(request({ parameters: { sim_failure_rate: '0', sim_replace: 'true' } }), always, random);
  assert.equal(prebuild.kind === 'succeeded' && prebuild.replacements, undefined, 'only claim builds replace resources');
});

test('outcome memory answers a build id consistently and forgets the oldest beyond its capacity', () => {
  const memory = new OutcomeMemory(2);
  let decided = 0;
  const decide = (): SimOutcome => (decided++, decided % 2 ? { kind: 'failed', error: 'x' } : { kind: 'succeeded', agents: [], replacements: undefined });
  const first = memory.outcomeFor('a', decide);
  assert.equal(memory.outcomeFor('a', decide), first);
  assert.equal(decided, 1);
  memory.outcomeFor('b', decide);
  memory.outcomeFor('c', decide);
  assert.equal(memory.size, 2);
  memory.outcomeFor('a', decide);
  assert.equal(decided, 4, '"a" was forgotten and decided again');
});
