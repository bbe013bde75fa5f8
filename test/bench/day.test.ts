import { test } from 'node:test';
import assert from 'node:assert/strict';
import { causeOf, standbyUsage, summarize, type EngineSample, type RequestRecord, type RolloutWindow } from './day/figures.js';
import { CONFIG_NAMES, loadDayConfig, type DayConfig } from './day/plan.js';
import { renderDaySvg } from './day/svg.js';
import { BURSTS, dayTrace, PROFILES, WINDOW } from './day/trace.js';

// The `day` bench's pure parts (docs/BENCHMARKS.md, "A working day"): its trace and its figures.

test('the trace of a seed is always the same, within the working day, with every preset and both bursts', () => {
  const a = dayTrace(30);
  assert.deepEqual(dayTrace(30), a);
  assert.notDeepEqual(dayTrace(31).requests, a.requests);
  assert.deepEqual(new Set(a.requests.map((r) => r.preset)), new Set(Object.keys(PROFILES)));
  assert.ok(a.requests.every((r, i) => r.at >= WINDOW.from && r.at < WINDOW.to && (i === 0 || a.requests[i - 1]!.at <= r.at)));
  assert.equal(a.requests.filter((r) => r.burst).length, BURSTS.reduce((n, b) => n + b.count, 0));
  // Three weeks of history before the day: what the forecast learns from.
  assert.ok(Object.values(a.history).every((h) => h.length > 0 && h.at(-1)!.getTime() < WINDOW.from));
});

const at = (s: number) => 1_000_000 + s * 1000;
const request = (over: Partial<RequestRecord>): RequestRecord => ({ preset: 'office', burst: false, sentAt: at(0), claimed: false, usableAt: null, failed: false, ...over });

test('hits, the cause of each miss and the time to usable of a tiny hand-made day', () => {
  const rollouts: RolloutWindow[] = [{ preset: 'office', from: at(10), to: at(20) }];
  const records = [
    request({ claimed: true, sentAt: at(0), usableAt: at(0) + 300 }),
    request({ claimed: true, sentAt: at(1), usableAt: at(1) + 500 }),
    request({ sentAt: at(2), usableAt: at(2) + 6_000 }), // empty pool
    request({ sentAt: at(12), usableAt: at(12) + 7_000 }), // in the rollout window
    request({ preset: 'spiky', sentAt: at(12), usableAt: at(12) + 8_000, burst: true }), // another preset's burst
    request({ preset: 'broken', sentAt: at(3), failed: true }), // never usable
    request({ sentAt: at(20), usableAt: at(20) + 5_000 }), // the window is over
    request({ sentAt: at(30), gaveUpAfter: 45_000 }), // still starting when given up: a miss, counted at 45 s
  ];
  assert.deepEqual(
    records.map((r) => causeOf(r, rollouts)),
    ['hit', 'hit', 'empty pool', 'rollout', 'burst', 'failure', 'empty pool', 'empty pool'],
  );
  const s = summarize(records, rollouts, [], { buildsStarted: 9, wasted: 2 });
  assert.equal(s.requests, 8);
  assert.equal(s.hits, 2);
  assert.equal(s.hitRate, 2 / 8);
  assert.deepEqual(s.misses, { 'empty pool': 3, rollout: 1, burst: 1, failure: 1 });
  assert.deepEqual([s.neverUsable, s.gaveUp], [1, 1]);
  assert.deepEqual(s.timeToUsable.hits, { p50: 300, p95: 500, p99: 500 });
  assert.deepEqual(s.timeToUsable.misses, { p50: 7_000, p95: 45_000, p99: 45_000 });
  assert.deepEqual(s.timeToUsable.overall, { p50: 6_000, p95: 45_000, p99: 45_000 });
  assert.deepEqual([s.buildsStarted, s.wasted], [9, 2]);
  // A refused create is a failure, never a hit.
  assert.equal(causeOf(request({ claimed: null, failed: true }), rollouts), 'failure');
});

test("standby container-seconds (hot and frozen) and CPU-seconds count a container's intervals that start while it is a standby", () => {
  const samples: EngineSample[] = [
    { at: at(0), containers: [{ id: 'a', standby: true, frozen: false, cpuNs: 0 }, { id: 'b', standby: false, frozen: false, cpuNs: 0 }] },
    {
      at: at(2),
      containers: [
        { id: 'a', standby: true, frozen: false, cpuNs: 1e9 },
        { id: 'b', standby: false, frozen: false, cpuNs: 5e9 },
        { id: 'c', standby: true, frozen: false, cpuNs: 0 },
        { id: 'f', standby: true, frozen: true, cpuNs: 0 },
      ],
    },
    // a is claimed: its interval from 2 s still counts (it was a standby when it began), later ones do not. f is thawed.
    {
      at: at(3),
      containers: [
        { id: 'a', standby: false, frozen: false, cpuNs: 1.5e9 },
        { id: 'c', standby: true, frozen: false, cpuNs: 2e8 },
        { id: 'f', standby: true, frozen: false, cpuNs: 0 },
      ],
    },
    // c's counter was not readable: its time counts, its CPU does not.
    { at: at(5), containers: [{ id: 'a', standby: false, frozen: false, cpuNs: 9e9 }, { id: 'c', standby: true, frozen: false, cpuNs: null }] },
  ];
  const usage = standbyUsage(samples);
  // f was frozen from 2 s to 3 s (1 s frozen); its interval from 3 s is hot but it is gone at 5 s.
  assert.equal(usage.containerSeconds, 2 + 1 + 1 + 2);
  assert.equal(usage.frozenSeconds, 1);
  assert.equal(Math.round(usage.cpuSeconds * 1000) / 1000, 1 + 0.5 + 0.2);
  assert.deepEqual(standbyUsage([]), { containerSeconds: 0, frozenSeconds: 0, cpuSeconds: 0 });
});

test('the picture draws every panel and escapes its text', () => {
  const panel = { desired: [{ x: 5, y: 2 }, { x: 8, y: 6 }], eligible: [{ x: 5, y: 2 }], hits: [9], misses: [10, 11], marks: [{ x: 13, label: 'v2' }] };
  const svg = renderDaySvg({ title: 'a < b', subtitle: 's', columns: ['coder', 'warmpool'], rows: ['office'], panels: [[panel, panel]], xMin: 5, xMax: 21 });
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('a &lt; b'));
  assert.equal(svg.match(/class="miss"/g)?.length, 4);
  assert.equal(svg.match(/class="desired"/g)?.length, 2);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('both configuration files load with the sizing each stands for and the same hit-rate goal', () => {
  const [coder, warmpool] = CONFIG_NAMES.map(loadDayConfig) as [DayConfig, DayConfig];
  assert.deepEqual([coder.name, coder.sizing, warmpool.name, warmpool.sizing], ['coder', 'best-static-schedule', 'warmpool', 'forecast']);
  assert.equal(coder.target_hit_rate, warmpool.target_hit_rate);
  assert.deepEqual([coder.rollout, coder.standby, warmpool.rollout, warmpool.standby], ['activate-at-once', 'running', 'staged', { hot: 1 }]);
});
