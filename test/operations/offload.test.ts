import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '@warmpool/contracts';
import { checkManifestOffLoop, offload, stopOffload } from '@warmpool/operations';

/** Heavy pure work runs in worker threads with a time budget (issue 21). */

after(() => stopOffload());

const DAY_MS = 86_400_000;
const replayInput = { policy: null, schedule: { instances: 1, timezone: 'UTC', schedules: [] }, requests: [], from: new Date(0), to: new Date(28 * DAY_MS), leadTimeSeconds: 60 };

test('a task answers from a worker thread', async () => {
  const result = await offload('replayTask', replayInput, { path: 'days', label: 'replaying 28 days' });
  assert.equal(result.hours.length, 28 * 24);
  assert.equal(result.totals.requests, 0);
});

test('a task past its budget is stopped and answered too_large, naming the field', async () => {
  await assert.rejects(
    offload('replayTask', replayInput, { path: 'days', label: 'replaying 28 days' }, 1),
    (err: unknown) => err instanceof DomainError && err.code === 'too_large' && err.details[0]?.path === 'days' && /budget of 0.001 s/.test(err.message),
  );
  // The pool replaces the terminated worker: the next task still runs.
  assert.equal((await offload('replayTask', replayInput, { path: 'days', label: 'replaying 28 days' })).hours.length, 28 * 24);
});

test('a manifest is checked off the event loop with the same verdicts as inline', async () => {
  const presets = Array.from({ length: 100 }, (_, i) => ({ name: `p${i}`, description: 'x'.repeat(120), parameters: { size: 's'.repeat(300) }, prebuilds: { instances: 1 } }));
  const valid = await checkManifestOffLoop({ name: 'v', presets });
  assert.equal(valid.value.presets.length, 100);
  assert.equal(valid.warnings.length, 51, 'warnings are capped too');
  const duplicate = { name: 'v', presets: [...presets.slice(0, 99), presets[0]] };
  await assert.rejects(checkManifestOffLoop(duplicate), (err: unknown) => err instanceof DomainError && err.code === 'invalid_manifest' && err.details.some((d) => d.path === 'presets[99].name'));
  await assert.rejects(checkManifestOffLoop(JSON.stringify(duplicate)), (err: unknown) => err instanceof DomainError && err.code === 'invalid_manifest');
  await assert.rejects(checkManifestOffLoop({ name: 'v\u0000' }), (err: unknown) => err instanceof DomainError && err.code === 'invalid_text' && err.details[0]?.path === 'manifest.name');
});
