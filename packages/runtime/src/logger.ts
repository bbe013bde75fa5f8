import { pino, type Logger } from 'pino';
import { traceLogFields } from './tracing.js';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line: tokens, secrets, signatures, credentials in URLs. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["webhook-signature"]',
  '*.headers["webhook-signature"]',
  'signature',
  '*.signature',
  'webhookSecrets',
  'metricsToken',
  '*.metricsToken',
  '*.webhookSecrets',
  'smtp.auth',
  '*.smtp.auth',
  'auth.pass',
  '*.auth.pass',
  'databaseUrl',
  '*.databaseUrl',
  'redisUrl',
  '*.redisUrl',
  'redis.url',
  '*.redis.url',
  'redis.password',
  '*.redis.password',
  'webhookUrl',
  '*.webhookUrl',
  'chatUrl',
  '*.chatUrl',
];

/** The one logger factory: JSON lines, a `service` field, secrets redacted, `trace_id`/`span_id` inside a span. */
export function createLogger(service: string, options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: service,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service, pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: traceLogFields,
    },
    options.destination,
  );
}
