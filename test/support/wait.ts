/**
 * Deadlines are failure bounds, not performance targets (those live in the bench): on a loaded machine everything
 * is slower, so every deadline is multiplied by WARMPOOL_TEST_WAIT_SCALE (default 3).
 */
const WAIT_SCALE = Number(process.env.WARMPOOL_TEST_WAIT_SCALE ?? 3);

/** Polls `probe` until it returns a truthy value or the deadline passes; for conditions with no event to await. */
export async function waitFor<T>(probe: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000) * WAIT_SCALE;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'} (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}
