import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { describeIssues } from '@warmpool/bus';
import type { AttemptOutcome } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { PermanentDeliveryError } from './http-post.js';
import { deliveriesTotal, type Channel } from './metrics.js';

/** Validates a delivery job's payload; a malformed one is logged and failed without retries. */
export function parseJob<T>(schema: z.ZodType<T>, job: Pick<Job, 'id' | 'data'>, logger: Logger, what: string): T {
  const parsed = schema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  logger.error({ jobId: job.id, problem: describeIssues(parsed.error) }, `malformed ${what} job rejected`);
  throw new UnrecoverableError(`malformed ${what} job: ${describeIssues(parsed.error)}`);
}

export type Attempt = {
  channel: Channel;
  attempt: number;
  maxAttempts: number;
  log: Logger;
  /** What the logs may show of the destination (no secrets, no query strings). */
  target: string;
  perform: () => Promise<void>;
  record: (outcome: AttemptOutcome) => Promise<void>;
};

/**
 * One attempt of a delivery on any channel. Success, or failure on the last attempt (or a permanent one), is final
 * and stored; earlier failures store the attempt count and error and throw so BullMQ retries with the backoff.
 */
export async function runAttempt(a: Attempt): Promise<{ result: string }> {
  try {
    await a.perform();
  } catch (err) {
    const error = (err as Error).message;
    const final = a.attempt >= a.maxAttempts || err instanceof PermanentDeliveryError;
    await a.record({ status: final ? 'dead_letter' : 'pending', attempts: a.attempt, error });
    deliveriesTotal.inc({ channel: a.channel, result: final ? 'dead_letter' : 'retry' });
    if (final) {
      a.log.error({ attempt: a.attempt, target: a.target, error }, `${a.channel} delivery dead-lettered`);
      throw new UnrecoverableError(`${a.channel} delivery dead-lettered after ${a.attempt} attempt(s): ${error}`);
    }
    a.log.warn({ attempt: a.attempt, maxAttempts: a.maxAttempts, target: a.target, error }, `${a.channel} delivery failed; will retry`);
    throw new Error(error, { cause: err });
  }
  await a.record({ status: 'delivered', attempts: a.attempt, error: null });
  deliveriesTotal.inc({ channel: a.channel, result: 'delivered' });
  a.log.info({ attempt: a.attempt }, `${a.channel} delivered`);
  return { result: 'delivered' };
}
