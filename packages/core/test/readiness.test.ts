import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workspaceReadiness, type LatestBuildState } from '@warmpool/core';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 9, 0, s));
const build = (over: Partial<LatestBuildState> = {}): LatestBuildState => ({ transition: 'start', reason: 'user', jobStatus: 'succeeded', completedAt: at(1), error: null, ...over });
const ready = (s: number) => ({ name: 'main', ready: true, readyAt: at(s) });
const waiting = { name: 'main', ready: false, readyAt: null };

test('a succeeded start is usable once every agent is ready, at the latest of completion and readiness', () => {
  assert.deepEqual(workspaceReadiness(build(), [ready(7)], false), { usable: true, usableAt: at(7), claimHook: null });
  assert.equal(workspaceReadiness(build(), [ready(7), waiting], false).usable, false);
  // An agent reported ready with the success itself: usable when the build completed.
  assert.deepEqual(workspaceReadiness(build({ completedAt: at(3) }), [ready(2)], false).usableAt, at(3));
});

test('not usable without agents, while building, after a failure, for stops and deletes, or when deleted', () => {
  assert.equal(workspaceReadiness(build(), [], false).usable, false);
  for (const jobStatus of ['pending', 'running', 'failed', 'canceled']) assert.equal(workspaceReadiness(build({ jobStatus }), [ready(1)], false).usable, false, jobStatus);
  assert.equal(workspaceReadiness(build({ transition: 'stop' }), [ready(1)], false).usable, false);
  assert.equal(workspaceReadiness(build(), [ready(1)], true).usable, false);
  assert.deepEqual(workspaceReadiness(null, [], false), { usable: false, usableAt: null, claimHook: null });
});

test("a claim reports its hook's outcome from the claim build", () => {
  const claim = (jobStatus: string, error: string | null = null) => build({ reason: 'claim', jobStatus, error });
  assert.deepEqual(workspaceReadiness(claim('pending'), [], false).claimHook, { status: 'pending', error: null });
  assert.deepEqual(workspaceReadiness(claim('running'), [], false).claimHook, { status: 'pending', error: null });
  const done = workspaceReadiness(claim('succeeded'), [ready(1)], false);
  assert.deepEqual([done.usable, done.claimHook], [true, { status: 'succeeded', error: null }]);
  const failed = workspaceReadiness(claim('failed', 'claim hook exited with status 1: boom'), [], false);
  assert.deepEqual([failed.usable, failed.claimHook], [false, { status: 'failed', error: 'claim hook exited with status 1: boom' }]);
  // The hook ran but the container is not healthy yet: not usable until the agent is.
  assert.equal(workspaceReadiness(claim('succeeded'), [waiting], false).usable, false);
});
