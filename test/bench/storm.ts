/**
 * Cap storm (`npm run bench`, section `storm`): BENCH_STORM_PRESETS presets (2,000) that each need 3 prebuilds,
 * in-flight cap 50, simulated builds of 1 s. Measures the time until every preset has one eligible prebuild, once
 * with max-min fair sharing and once with first come, first served (the former order), in the same run, and the
 * most creates ever in flight (must never exceed the cap).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createQueueSet, createRedis, enqueueReconciles } from '@warmpool/bus';
import { loadSimOptions, startProvisionerSim } from '@warmpool/provisioner-sim';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { servedAndInflight } from '../support/pool-state.js';
import { seedBulk, type Figure } from './lib.js';

const PRESETS = Number(process.env.BENCH_STORM_PRESETS ?? 2000);
const CAP = 50;
const BUILD_MS = 1000;
const logger = createLogger('bench', { level: 'silent' });

async function storm(sharing: 'fair' | 'fifo', deadlineMs: number): Promise<{ seconds: number; maxInflight: number; served: number }> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const queues = createQueueSet(redis, prefix.prefix);
  const ids = await seedBulk(db.pool, { count: PRESETS, instances: 3, running: 0, tag: `storm-${sharing}` });
  const config = testConfig(db.url, prefix.prefix, {
    WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: String(CAP),
    WARMPOOL_INFLIGHT_CAP_SHARING: sharing,
    WARMPOOL_WORKER_CONCURRENCY: '16',
    WARMPOOL_RECONCILE_INTERVAL_MS: '3600000',
  });
  const reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 1_000 });
  const sim = startProvisionerSim({
    config,
    logger,
    sim: loadSimOptions({ SIM_BUILD_MS: String(BUILD_MS), SIM_BUILD_JITTER_MS: '0', SIM_AGENT_READY_MS: '0', SIM_CONCURRENCY: String(2 * CAP), SIM_SEED: '1' }),
  });
  const t0 = performance.now();
  await enqueueReconciles(queues.reconcile, ids, 'bench');
  let maxInflight = 0;
  let served = 0;
  const deadline = t0 + deadlineMs;
  while (served < PRESETS && performance.now() < deadline) {
    await sleep(250);
    const progress = await servedAndInflight(db.pool);
    served = progress.served;
    maxInflight = Math.max(maxInflight, progress.inflight);
    if (process.env.BENCH_VERBOSE) console.error(`[storm ${sharing}] +${((performance.now() - t0) / 1000).toFixed(1)} s served ${served} in flight ${progress.inflight}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sim.close();
  await reconciler.close();
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
  return { seconds, maxInflight, served };
}

/**
 * Bounded: fair sharing gets FAIR_DEADLINE_S; first come first served, which needs about three times as long (every
 * preset takes all three before the next gets one), is stopped at FIFO_FACTOR × the fair time (at most
 * FIFO_DEADLINE_S) when it has not finished by then, and reported as at least that long.
 */
const FAIR_DEADLINE_S = 150;
const FIFO_FACTOR = 2;
const FIFO_DEADLINE_S = 150;

export async function stormBench(figures: Figure[]): Promise<void> {
  const fair = await storm('fair', FAIR_DEADLINE_S * 1000);
  const fifo = await storm('fifo', Math.min(Math.max(FIFO_FACTOR * fair.seconds, 20), FIFO_DEADLINE_S) * 1000);
  const ideal = Math.ceil(PRESETS / CAP) * (BUILD_MS / 1000);
  const note = (r: typeof fair) =>
    `${r.served}/${PRESETS} presets served${r.served < PRESETS ? ' (stopped at its deadline: at least this long)' : ''}; ideal ${ideal} s (${PRESETS} builds / cap ${CAP} × ${BUILD_MS / 1000} s)`;
  figures.push({ name: `cap storm: every preset has one prebuild, fair sharing (${PRESETS} × 3, cap ${CAP})`, value: Math.round(fair.seconds * 10) / 10, unit: 's', note: note(fair) });
  figures.push({ name: `cap storm: the same, first come first served (former order)`, value: Math.round(fifo.seconds * 10) / 10, unit: 's', note: note(fifo) });
  figures.push({
    name: '  fair sharing vs first come first served',
    value: Math.round((fair.seconds / fifo.seconds) * 100),
    unit: '%',
    target: '< 100%',
    ok: fair.seconds < fifo.seconds && fair.served === PRESETS,
    note: fifo.served < PRESETS ? 'first come first served unfinished: the ratio is an upper bound' : '',
  });
  const max = Math.max(fair.maxInflight, fifo.maxInflight);
  figures.push({ name: 'cap storm: most creates in flight (sampled every 250 ms)', value: max, unit: 'builds', target: `≤ ${CAP}`, ok: max <= CAP });
}
