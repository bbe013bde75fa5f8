import { Counter, Registry } from 'prom-client';

export type DeliveryResult = 'delivered' | 'retry' | 'dead_letter' | 'skipped';

/** The notifier's own metrics, in a registry of their own (merged into a service registry by main). */
export const notifierRegistry = new Registry();

/** Webhook delivery outcomes: `retry` per failed attempt that will be retried, the rest once per delivery. */
export const deliveriesTotal = new Counter({
  name: 'warmpool_notification_deliveries_total',
  help: 'Webhook deliveries of notifications by result (delivered, retry, dead_letter, skipped).',
  labelNames: ['result'],
  registers: [notifierRegistry],
});

export async function deliveryCount(result: DeliveryResult): Promise<number> {
  const metric = await deliveriesTotal.get();
  return metric.values.find((v) => v.labels.result === result)?.value ?? 0;
}
