/**
 * Heavy pure work (replays, manifest checks) runs in worker threads so that no request stalls the api's event loop
 * (issue 21). Each task has a time budget: past it the worker is terminated and the caller gets `too_large`. The
 * queue is short: when it is full the caller gets `busy` at once instead of waiting behind others' work.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { DomainError } from '@warmpool/contracts';
import type { ReplayInput, ReplayResult } from '@warmpool/core';
import type { ManifestCheck } from '../manifest-check.js';
import type { DryRunInput, DryRunOutcome } from './tasks.js';

/** A task's time budget unless the caller sets one: a 28-day replay with a long expression takes about 1.5 s. */
export const OFFLOAD_BUDGET_MS = 15_000;

type Tasks = { replayTask: [ReplayInput, ReplayResult]; manifestTask: [unknown, ManifestCheck]; dryRunTask: [DryRunInput, DryRunOutcome] };

// Sources run through tsx in development (see dev-worker.mjs); the build runs the compiled tasks.js beside this file.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './dev-worker.mjs' : './tasks.js', import.meta.url).href;

let pool: Piscina | undefined;
const threads = () =>
  (pool ??= new Piscina({
    filename: workerFile,
    minThreads: 0,
    // One core stays with the event loop.
    maxThreads: Math.max(1, availableParallelism() - 1),
    maxQueue: 8,
    idleTimeout: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  }));

const isAbort = (err: unknown) => err instanceof Error && err.name === 'AbortError';

/** Runs one task in a worker thread; DomainError `too_large` past the budget, `busy` when the queue is full. */
export async function offload<K extends keyof Tasks>(task: K, input: Tasks[K][0], what: { path: string; label: string }, budgetMs = OFFLOAD_BUDGET_MS): Promise<Tasks[K][1]> {
  try {
    return (await threads().run(input, { name: task, signal: AbortSignal.timeout(budgetMs) })) as Tasks[K][1];
  } catch (err) {
    if (isAbort(err)) {
      const message = `${what.label} did not finish within its budget of ${budgetMs / 1000} s`;
      throw new DomainError('too_large', message, [{ path: what.path, message }]);
    }
    if (err instanceof Error && /queue is at limit/i.test(err.message)) {
      throw new DomainError('busy', 'too many large requests are being worked on; try again shortly');
    }
    throw err;
  }
}

/** Ends the worker threads (the api calls this when it closes). */
export async function stopOffload(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.destroy();
}
