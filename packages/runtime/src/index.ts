export { loadConfig, parseEnvGroup, ConfigError, evaluationSettings, type Config, type SmtpConfig, WebhookSecret } from './config.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { onShutdown } from './shutdown.js';
export { startHealthServer, serveHealth, healthPortFromEnv, withTimeout, watchWorkerProgress, workerLiveness, type HealthCheck, type HealthEndpoint } from './health.js';
export { createRegistry, registerQueueMetrics, registerWorkerMetrics } from './metrics.js';
export { parseRedisTarget, RedisTargetError, type RedisTarget, type RedisNode } from './redis-target.js';
export {
  startTracing,
  startMemoryTracing,
  tracingSettings,
  withSpan,
  startSpan,
  runWithSpan,
  traceparentOf,
  activeTraceparent,
  contextFromTraceparent,
  linkFromTraceparent,
  traceLogFields,
  SpanKind,
  SpanStatusCode,
  type Tracing,
  type TracingSettings,
  type FinishedSpan,
  type Span,
  type Attributes,
} from './tracing.js';
