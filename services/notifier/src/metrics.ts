import { Counter, Registry } from 'prom-client';

export type DeliveryResult = 'delivered' | 'retry' | 'dead_letter' | 'skipped';
export type Channel = 'webhook' | 'email' | 'chat';

/** The notifier's own metrics, in a registry of their own (registered into the health server's registry by startNotifier). */
export const notifierRegistry = new Registry();

/** Delivery outcomes per channel: `retry` per failed attempt that will be retried, the rest once per delivery. */
export const deliveriesTotal = new Counter({
  name: 'warmpool_notification_deliveries_total',
  help: 'Notification deliveries by channel (webhook, email, chat) and result (delivered, retry, dead_letter, skipped).',
  labelNames: ['channel', 'result'],
  registers: [notifierRegistry],
});

export async function deliveryCount(result: DeliveryResult, channel: Channel = 'webhook'): Promise<number> {
  const metric = await deliveriesTotal.get();
  return metric.values.find((v) => v.labels.result === result && v.labels.channel === channel)?.value ?? 0;
}
