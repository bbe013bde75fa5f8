import type { Job, JobsOptions } from 'bullmq';
import { activeTraceparent, contextFromTraceparent, linkFromTraceparent, SpanKind, withSpan, type Attributes, type Span } from '@warmpool/runtime';

// Trace context rides in BullMQ's own `opts.telemetry.metadata` (stored with the job, so a retried or re-delivered
// job stays in its trace) as a plain W3C traceparent. We propagate it ourselves rather than through bullmq-otel: one
// span per job that we name, and nothing at all when tracing is off.

/** Job options carrying the active span's context; {} when no span is recording. */
export function traceJobOptions(traceparent: string | null | undefined = activeTraceparent()): Pick<JobsOptions, 'telemetry'> {
  return traceparent ? { telemetry: { metadata: traceparent } } : {};
}

/**
 * Runs a job's handler in a consumer span continuing its producer's trace (a new trace when the job has none). With
 * `linkOnly` (delayed wake-ups: a schedule boundary is not part of the reconcile that armed it) the span starts a new
 * trace linked to the producer's.
 */
export function withJobSpan<T>(job: Job, name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, options: { linkOnly?: boolean } = {}): Promise<T> {
  const metadata = job.opts.telemetry?.metadata;
  const link = options.linkOnly ? linkFromTraceparent(metadata) : undefined;
  return withSpan(
    name,
    {
      kind: SpanKind.CONSUMER,
      ...(options.linkOnly ? { root: true, links: link ? [link] : [] } : { parent: contextFromTraceparent(metadata) }),
      attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': job.queueName, 'messaging.message.id': job.id ?? '', 'warmpool.job.attempt': job.attemptsMade + 1, ...attributes },
    },
    fn,
  );
}
