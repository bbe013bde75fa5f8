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

/**
 * Awaits `promise` (an event that may never come: a close, a report, a process exit), failing after the deadline with
 * the name of what it waited for instead of holding the test until the runner's timeout.
 */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const ms = timeoutMs * WAIT_SCALE;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
