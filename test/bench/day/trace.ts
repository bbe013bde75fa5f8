/**
 * The `day` bench's trace (pure): a seeded working day of workspace requests for four presets, in virtual time, plus
 * three weeks of history before it (what the forecast learns from). The same seed gives the same requests.
 */
import { createRandom } from '@warmpool/provisioner-sim';
import { poisson } from '../sizing.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DAY_MS = 24 * HOUR;
/** The virtual day: Tuesday 28 April 2026, UTC (three full weeks of history before it). */
export const DAY_START = Date.parse('2026-04-28T00:00:00Z');
/** The working day the bench plays, 05:00–21:00 (the night's few requests are left out). */
export const WINDOW = { from: DAY_START + 5 * HOUR, to: DAY_START + 21 * HOUR };
const HISTORY_DAYS = 21;

export type PresetName = 'office' | 'quiet' | 'spiky' | 'broken';
/** Requests per hour at an hour of a weekday (weekends: a tenth of it). */
type Profile = (hour: number) => number;

export const PROFILES: Record<PresetName, Profile> = {
  // Office hours with a lunch dip and shoulders.
  office: (h) => (h >= 9 && h < 17 ? (h === 12 ? 1.5 : 3.5) : (h >= 7 && h < 9) || (h >= 17 && h < 19) ? 1 : 0.1),
  quiet: (h) => (h >= 8 && h < 20 ? 0.4 : 0),
  // Little steady demand: its load comes in bursts.
  spiky: (h) => (h >= 8 && h < 18 ? 0.5 : 0),
  broken: (h) => (h >= 8 && h < 18 ? 0.4 : 0),
};

/** Bursts: `count` requests within `spreadMinutes` from `hour` of the day; none of them is in the history. */
export const BURSTS: { preset: PresetName; hour: number; count: number; spreadMinutes: number }[] = [
  { preset: 'spiky', hour: 10.5, count: 6, spreadMinutes: 4 },
  { preset: 'office', hour: 15, count: 5, spreadMinutes: 3 },
];

/** A new version of `office`'s template is rolled out at this hour while it is being claimed. */
export const ROLLOUT = { preset: 'office' as PresetName, hour: 13 };

export type TraceRequest = { at: number; preset: PresetName; burst: boolean };
export type DayTrace = {
  /** The working day's requests (within WINDOW), ascending by `at` (virtual epoch ms). */
  requests: TraceRequest[];
  /** Per preset, the request instants of the weeks before the day (ascending). */
  history: Record<PresetName, Date[]>;
};

/** Poisson counts per minute, spread uniformly within the minute, for one day starting at `dayStart`. */
function dayOf(profile: Profile, dayStart: number, rand: () => number, scale: number): number[] {
  const out: number[] = [];
  for (let t = dayStart; t < dayStart + DAY_MS; t += MINUTE) {
    const n = poisson((profile(new Date(t).getUTCHours()) * scale) / 60, rand);
    out.push(...Array.from({ length: n }, () => t + Math.floor(rand() * MINUTE)).sort((a, b) => a - b));
  }
  return out;
}

export function dayTrace(seed: number): DayTrace {
  const rand = createRandom(seed);
  const requests: TraceRequest[] = [];
  const history = {} as Record<PresetName, Date[]>;
  for (const preset of Object.keys(PROFILES) as PresetName[]) {
    const past: Date[] = [];
    for (let d = HISTORY_DAYS; d >= 1; d--) {
      const start = DAY_START - d * DAY_MS;
      const weekend = [0, 6].includes(new Date(start).getUTCDay());
      past.push(...dayOf(PROFILES[preset], start, rand, weekend ? 0.1 : 1).map((t) => new Date(t)));
    }
    history[preset] = past;
    const day = dayOf(PROFILES[preset], DAY_START, rand, 1).filter((at) => at >= WINDOW.from && at < WINDOW.to);
    requests.push(...day.map((at) => ({ at, preset, burst: false })));
  }
  for (const b of BURSTS) {
    const from = DAY_START + b.hour * HOUR;
    for (let i = 0; i < b.count; i++) requests.push({ at: from + Math.floor(rand() * b.spreadMinutes * MINUTE), preset: b.preset, burst: true });
  }
  requests.sort((a, b) => a.at - b.at || a.preset.localeCompare(b.preset));
  return { requests, history };
}
