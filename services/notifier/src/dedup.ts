import { createHash } from 'node:crypto';
import type { RenderedMessage } from '@warmpool/db';

/**
 * Per-recipient dedup key (UNIQUE (user_id, dedup_key)): a hash of the rendered message plus the UTC date,
 * so an identical message reaches one recipient at most once per UTC day.
 */
export function dailyDedupKey(message: RenderedMessage, now: Date): string {
  const labels = Object.keys(message.labels)
    .sort()
    .map((k) => [k, message.labels[k]]);
  const digest = createHash('sha256').update(JSON.stringify([message.kind, message.title, message.body, labels])).digest('hex');
  return `${digest}|${now.toISOString().slice(0, 10)}`;
}
