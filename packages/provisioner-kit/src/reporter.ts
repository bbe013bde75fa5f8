import { setTimeout as delay } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { BuildResult, resultJobId } from '@warmpool/bus';
import type { Logger } from '@warmpool/runtime';

export type ReporterOptions = {
  /** First retry delay while Redis is away; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
};

/**
 * Publishes results on the build-results queue. A failed publish (Redis restarting) is retried with capped
 * exponential backoff until it succeeds or the reporter is stopped, so a result is never dropped while the
 * process lives; the pending count feeds liveness.
 */
export class Reporter {
  private pendingCount = 0;
  private lastError: string | null = null;
  private lastWarnAt = 0;
  private readonly stop = new AbortController();

  constructor(
    private readonly queue: Queue,
    private readonly logger: Logger,
    private readonly options: ReporterOptions = {},
  ) {}

  async report(result: BuildResult): Promise<void> {
    const payload = BuildResult.parse(result);
    const jobId = resultJobId(payload);
    let wait = this.options.initialDelayMs ?? 200;
    this.pendingCount++;
    try {
      for (;;) {
        try {
          await this.queue.add(payload.type, payload, { jobId });
          this.lastError = null;
          return;
        } catch (err) {
          if (this.stop.signal.aborted) throw err;
          this.lastError = (err as Error).message;
          // One warning every 10 s at most: a long outage must not flood the log.
          if (Date.now() - this.lastWarnAt > 10_000) {
            this.lastWarnAt = Date.now();
            this.logger.warn({ jobId, err: this.lastError }, 'cannot publish build result yet; retrying');
          }
          await delay(wait, undefined, { signal: this.stop.signal }).catch(() => undefined);
          wait = Math.min(wait * 2, this.options.maxDelayMs ?? 5_000);
        }
      }
    } finally {
      this.pendingCount--;
    }
  }

  /** Results waiting to be published, and the last publish error while any is waiting. */
  get state(): { pending: number; lastError: string | null } {
    return { pending: this.pendingCount, lastError: this.pendingCount > 0 ? this.lastError : null };
  }

  /** Gives up retrying: reports still failing reject (their requests are redelivered and report again). */
  abort(): void {
    this.stop.abort();
  }
}
