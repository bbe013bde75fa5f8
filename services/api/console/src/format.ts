import type { PresetStatus } from './api.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export const shortTime = (iso: string) => timeFormat.format(new Date(iso));
export const fullTime = (iso: string) => fullFormat.format(new Date(iso));

export type StatusView = { label: string; tone: 'ok' | 'warn' | 'bad' | 'muted'; detail: string };

/** One status per preset, most urgent first: what stops it, then what slows it. */
export function statusOf(p: PresetStatus): StatusView {
  if (p.status === 'validation_failed') return { label: 'validation failed', tone: 'bad', detail: 'The preset cannot build with its parameters; fix the template, then resume.' };
  if (p.status === 'hard_limited') return { label: 'hard-limited', tone: 'bad', detail: 'Builds failed repeatedly; no new builds until the preset is resumed.' };
  if (p.paused) return { label: 'paused', tone: 'muted', detail: 'Reconciliation is paused site-wide.' };
  if (p.backoffUntil) return { label: `backoff until ${shortTime(p.backoffUntil)}`, tone: 'warn', detail: 'Recent builds failed; the next attempt waits.' };
  if (p.staged) {
    const deadline = p.rolloutDeadline ? ` by ${shortTime(p.rolloutDeadline)}` : '';
    return { label: `staged ${p.eligible}/${p.desiredNow}`, tone: 'warn', detail: `Warming in a staged rollout: not claimable; the version becomes active when every staged preset is warm${deadline}.` };
  }
  if (!p.active) return { label: 'inactive', tone: 'muted', detail: 'Not the active version of its template.' };
  return { label: 'healthy', tone: 'ok', detail: 'The pool is reconciled towards its desired count.' };
}

export const presetPath = (id: string) => `/console/presets/${id}`;

/** Hit rate over 24 h as the page shows it: a percentage with what it is made of, or "—" and why there is none. */
export function hitRateOf(p: PresetStatus): { text: string; detail: string } {
  if (p.hitRate24h === null) return { text: '—', detail: 'No workspace requests recorded for this preset in the last 24 hours.' };
  const hits = Math.round(p.hitRate24h * p.requests24h);
  return { text: `${Math.round(p.hitRate24h * 100)}%`, detail: `${hits} of ${p.requests24h} request(s) in the last 24 hours got a prebuild.` };
}
