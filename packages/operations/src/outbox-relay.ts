import type { Queue } from 'bullmq';
import { traceJobOptions, type QueueSet } from '@warmpool/bus';
import { lockPendingOutbox, markOutboxPublished, setOutboxTraceparent, withTransaction, type PendingOutboxRow, type Pool, type PoolClient } from '@warmpool/db';
import { activeTraceparent, contextFromTraceparent, SpanKind, startSpan, traceparentOf, type Logger, type Span } from '@warmpool/runtime';

/**
 * Relays outbox rows to their queues. Job id = idempotency key, so a row published twice (crash between
 * the add and the commit) is one job. Callers `flush()` right after committing for low latency; `start()`
 * also polls, so rows written by a process that died before flushing are still delivered.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly pool: Pool,
    private readonly queues: QueueSet,
    private readonly logger: Logger,
    private readonly options: { batchSize?: number; pollMs?: number } = {},
  ) {}

  /** Publishes every pending row; concurrent calls coalesce into one extra pass. Returns rows published. */
  flush(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let total = 0;
      try {
        do {
          this.again = false;
          for (;;) {
            const n = await this.publishBatch();
            total += n;
            if (n < (this.options.batchSize ?? 500)) break;
          }
        } while (this.again);
      } finally {
        this.running = undefined;
      }
      return total;
    })();
    return this.running;
  }

  start(): void {
    const tick = () => {
      this.flush()
        .catch((err: unknown) => this.logger.warn({ err }, 'outbox relay pass failed; will retry'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.pollMs ?? 1_000);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async publishBatch(): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const rows = await lockPendingOutbox(client, this.options.batchSize ?? 500);
      if (rows.length === 0) return 0;
      const byQueue = new Map<Queue, typeof rows>();
      for (const row of rows) {
        const queue = this.queues.byName(row.queue);
        if (!queue) {
          this.logger.error({ outboxId: row.id, queue: row.queue }, 'outbox row names an unknown queue; dropped');
          continue;
        }
        byQueue.set(queue, [...(byQueue.get(queue) ?? []), row]);
      }
      // A row written inside a trace is published in a producer span of that trace, and its job carries that span.
      const spans = new Map<PendingOutboxRow, Span>();
      try {
        for (const [queue, batch] of byQueue) {
          await queue.addBulk(
            batch.map((row) => {
              const span = row.traceparent ? publishSpan(row, queue.name) : undefined;
              if (span) spans.set(row, span);
              return {
                name: row.name,
                data: row.payload,
                opts: { jobId: row.idempotency_key, ...(row.priority > 0 ? { priority: row.priority } : {}), ...traceJobOptions(span && traceparentOf(span)) },
              };
            }),
          );
        }
        await markOutboxPublished(client, rows.map((r) => r.id));
      } finally {
        for (const span of spans.values()) span.end();
      }
      return rows.length;
    });
  }
}

function publishSpan(row: PendingOutboxRow, queue: string): Span {
  return startSpan(
    'outbox publish',
    { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': queue, 'messaging.message.id': row.idempotency_key, 'warmpool.outbox.id': String(row.id) } },
    contextFromTraceparent(row.traceparent),
  );
}

/**
 * Runs a one-statement write (the claim) so that its outbox rows carry the active span's context: in a transaction
 * that sets it first when a span is recording, on the pool as before (no extra round trip) when not.
 */
export async function withOutboxTraceparent<T>(pool: Pool, fn: (db: Pool | PoolClient) => Promise<T>): Promise<T> {
  const traceparent = activeTraceparent();
  if (!traceparent) return fn(pool);
  return withTransaction(pool, async (client) => {
    await setOutboxTraceparent(client, traceparent);
    return fn(client);
  });
}

export type OutboxDeps = { pool: Pool; relay: OutboxRelay; logger: Logger };

/**
 * Runs `fn` in a transaction whose outbox rows are relayed right after the commit, so no caller has to remember the
 * flush. A failed flush is logged and left to the relay's poll (the rows are committed). With `background`, the
 * flush is not awaited (the claim answer must not wait for Redis).
 */
export async function withOutboxTransaction<T>(deps: OutboxDeps, fn: (client: PoolClient) => Promise<T>, options: { background?: boolean } = {}): Promise<T> {
  // The rows this transaction writes carry the active span's context (migration 026); one statement, only when tracing.
  const traceparent = activeTraceparent();
  const result = await withTransaction(deps.pool, traceparent ? async (client) => (await setOutboxTraceparent(client, traceparent), fn(client)) : fn);
  const flushed = deps.relay.flush().catch((err: unknown) => deps.logger.warn({ err }, 'outbox flush failed; the relay poll will deliver'));
  if (!options.background) await flushed;
  return result;
}
