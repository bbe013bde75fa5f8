/**
 * The frozen standby tier on the Docker Engine (issue 25), measured through the provisioner's own engine calls:
 * thaw → usable (unpause, then the container's health check passes) against cold create → usable with the same
 * image and health check, and CPU-seconds and memory of N hot against N frozen standby containers over the same
 * window. `npm run bench` runs it with the Docker section; alone:
 * `node --conditions=development --import tsx test/bench/frozen.ts`.
 * Options (env): BENCH_FROZEN_RUNS=30  BENCH_FROZEN_STANDBY=4  BENCH_FROZEN_WINDOW_S=10
 */
import { pathToFileURL } from 'node:url';
import type Docker from 'dockerode';
import { LABEL, freezeWorkspace, recheckHealth, thawWorkspace } from '@warmpool/provisioner-docker';
import { cleanupInstance, docker, ensureTestImage, testInstance } from '../support/docker.js';
import { waitFor } from '../support/wait.js';
import { percentile, printTable, type Figure } from './lib.js';

const RUNS = Number(process.env.BENCH_FROZEN_RUNS ?? 30);
const STANDBY = Number(process.env.BENCH_FROZEN_STANDBY ?? 4);
const WINDOW_S = Number(process.env.BENCH_FROZEN_WINDOW_S ?? 10);
// The idle load of a standby workspace: a short busy loop every 100 ms (an agent's heartbeat, a language server).
const IDLE_LOAD = 'touch /tmp/ready; while true; do i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; sleep 0.1; done';
const HEALTH = { Test: ['CMD', 'test', '-f', '/tmp/ready'], Interval: 1e9, Timeout: 5e9, Retries: 3 };

async function start(image: string, instance: string, name: string): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name,
    Image: image,
    Cmd: ['sh', '-c', IDLE_LOAD],
    Labels: { [LABEL.instance]: instance },
    Healthcheck: HEALTH,
    HostConfig: { Memory: 64 * 1024 * 1024 },
  });
  await container.start();
  return container;
}

/** Until the container's health check passes when run now (what the provisioner calls usable). */
async function untilUsable(container: Docker.Container, what: string): Promise<void> {
  await waitFor(async () => recheckHealth(docker, await container.inspect()).catch(() => false), { timeoutMs: 30_000, intervalMs: 10, what });
}

type Stats = { cpu_stats: { cpu_usage: { total_usage: number } }; memory_stats: { usage?: number; stats?: { cache?: number } } };
const stats = async (c: Docker.Container) => (await c.stats({ stream: false })) as Stats;

export async function frozenBench(figures: Figure[]): Promise<void> {
  const image = await ensureTestImage();
  const instance = testInstance();
  try {
    // Cold: create + start → usable, one after the other.
    const cold: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const c = await start(image, instance, `${instance}-cold-${i}`);
      await untilUsable(c, `cold container ${i} usable`);
      cold.push(performance.now() - t0);
      await c.remove({ force: true });
    }
    // Thaw: the same container frozen and thawed RUNS times, each thaw through the provisioner's thawWorkspace.
    const thawed = await start(image, instance, `${instance}-thaw`);
    await untilUsable(thawed, 'thaw container usable');
    const thaw: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await freezeWorkspace(docker, await thawed.inspect());
      const info = await thawed.inspect();
      if (!info.State.Paused) throw new Error('the container did not freeze');
      thaw.push((await thawWorkspace(docker, info, { budgetMs: 30_000, retryMs: 10 })).ms);
    }
    await thawed.remove({ force: true });
    const [coldP50, coldP95, thawP50, thawP95] = [percentile(cold, 50), percentile(cold, 95), percentile(thaw, 50), percentile(thaw, 95)];
    figures.push(
      { name: `frozen: cold create → usable, p50 (${RUNS} runs)`, value: Math.round(coldP50), unit: 'ms' },
      { name: `frozen: cold create → usable, p95 (${RUNS} runs)`, value: Math.round(coldP95), unit: 'ms' },
      { name: `frozen: thaw → usable, p50 (${RUNS} runs)`, value: Math.round(thawP50), unit: 'ms' },
      { name: `frozen: thaw → usable, p95 (${RUNS} runs)`, value: Math.round(thawP95), unit: 'ms', target: '≤ 300', ok: thawP95 <= 300 },
    );

    // N hot and N frozen standby containers over the same window.
    const hot = await Promise.all(Array.from({ length: STANDBY }, (_, i) => start(image, instance, `${instance}-hot-${i}`)));
    const frozen = await Promise.all(Array.from({ length: STANDBY }, (_, i) => start(image, instance, `${instance}-frozen-${i}`)));
    await Promise.all([...hot, ...frozen].map((c, i) => untilUsable(c, `standby container ${i} usable`)));
    for (const c of frozen) await freezeWorkspace(docker, await c.inspect());
    const before = await Promise.all([...hot, ...frozen].map(stats));
    // A measurement window (not a wait for a condition): both tiers over the same seconds.
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
    const afterStats = await Promise.all([...hot, ...frozen].map(stats));
    const cpu = afterStats.map((s, i) => (s.cpu_stats.cpu_usage.total_usage - before[i]!.cpu_stats.cpu_usage.total_usage) / 1e9);
    const memory = afterStats.map((s) => ((s.memory_stats.usage ?? 0) - (s.memory_stats.stats?.cache ?? 0)) / 2 ** 20);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const hotCpu = sum(cpu.slice(0, STANDBY));
    const frozenCpu = sum(cpu.slice(STANDBY));
    figures.push(
      { name: `frozen: CPU of ${STANDBY} hot standby containers over ${WINDOW_S} s`, value: Math.round(hotCpu * 1000) / 1000, unit: 'cpu-s' },
      { name: `frozen: CPU of ${STANDBY} frozen standby containers over ${WINDOW_S} s`, value: Math.round(frozenCpu * 1000) / 1000, unit: 'cpu-s' },
      { name: 'frozen: frozen standby CPU as a share of hot', value: hotCpu > 0 ? Math.round((frozenCpu / hotCpu) * 10_000) / 100 : 0, unit: '%', target: '≤ 5', ok: hotCpu > 0 && frozenCpu <= 0.05 * hotCpu },
      { name: `frozen: memory of ${STANDBY} hot standby containers`, value: Math.round(sum(memory.slice(0, STANDBY)) * 10) / 10, unit: 'MiB' },
      { name: `frozen: memory of ${STANDBY} frozen standby containers (kept: a freeze frees CPU only)`, value: Math.round(sum(memory.slice(STANDBY)) * 10) / 10, unit: 'MiB' },
    );
  } finally {
    await cleanupInstance(instance);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures: Figure[] = [];
  await frozenBench(figures);
  printTable(figures);
  process.exit(0);
}
