/**
 * Exponential backoff with "equal jitter": the n-th retry waits between half and all of base * 2^(n-1),
 * capped. Jitter spreads retries of many deliveries to one recovering receiver over time.
 */
export function webhookBackoffMs(attemptsMade: number, baseMs: number, maxMs = 10 * 60_000, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
