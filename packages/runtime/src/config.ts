import { z } from 'zod';
import { parseRedisTarget, RedisTargetError, type RedisTarget } from './redis-target.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Every environment variable Warmpool reads (SPEC §8), with defaults. Durations are milliseconds. */
const EnvSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://postgres@127.0.0.1:5432/warmpool'),
  // Parsed (single server or cluster seeds) after the schema, see parseRedisTarget.
  REDIS_URL: z.string().optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  WARMPOOL_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - only').default('warmpool'),
  WARMPOOL_RECONCILE_INTERVAL_MS: int(1_000, 86_400_000).default(15_000),
  WARMPOOL_BACKOFF_INTERVAL_MS: int(1_000, 86_400_000).default(60_000),
  WARMPOOL_BACKOFF_LOOKBACK_MS: int(60_000, 30 * 86_400_000).default(3_600_000),
  WARMPOOL_FAILURE_HARD_LIMIT: int(0, 1_000).default(3),
  WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: int(1, 100_000).default(50),
  WARMPOOL_WORKER_CONCURRENCY: int(1, 1_000).default(8),
  WARMPOOL_HTTP_PORT: int(0, 65_535).default(8080),
  WARMPOOL_HTTP_HOST: z.string().default('127.0.0.1'),
  WARMPOOL_MAX_BODY_BYTES: int(1_024, 64 * 1024 * 1024).default(1024 * 1024),
  WARMPOOL_PUBLIC_URL: z.url().default('http://127.0.0.1:8080'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WARMPOOL_WEBHOOK_URL: z.url().optional(),
  WARMPOOL_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WARMPOOL_WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(5_000),
  WARMPOOL_WEBHOOK_ATTEMPTS: int(1, 50).default(6),
  WARMPOOL_BULL_BOARD: bool.default(true),
  WARMPOOL_METRICS_REFRESH_MS: int(500, 3_600_000).default(10_000),
  WARMPOOL_REPUBLISH_PENDING_AFTER_MS: int(1_000, 86_400_000).default(120_000),
});

export type Config = {
  databaseUrl: string;
  /** One Redis server or a Redis Cluster (REDIS_URL or REDIS_CLUSTER_NODES). */
  redis: RedisTarget;
  queuePrefix: string;
  reconcileIntervalMs: number;
  backoffIntervalMs: number;
  backoffLookbackMs: number;
  failureHardLimit: number;
  maxInflightPrebuildBuilds: number;
  workerConcurrency: number;
  httpPort: number;
  httpHost: string;
  maxBodyBytes: number;
  publicUrl: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  webhookTimeoutMs: number;
  webhookAttempts: number;
  bullBoard: boolean;
  metricsRefreshMs: number;
  /** A build still pending this long after its request was published gets the request published again. */
  republishPendingAfterMs: number;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws ConfigError naming every bad variable. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
  let redis: RedisTarget | undefined;
  try {
    redis = parseRedisTarget(cleaned.REDIS_URL, cleaned.REDIS_CLUSTER_NODES);
  } catch (err) {
    if (!(err instanceof RedisTargetError)) throw err;
    lines.push(`${cleaned.REDIS_CLUSTER_NODES !== undefined ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'}: ${err.message}`);
  }
  if (!parsed.success || !redis) throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redis,
    queuePrefix: e.WARMPOOL_QUEUE_PREFIX,
    reconcileIntervalMs: e.WARMPOOL_RECONCILE_INTERVAL_MS,
    backoffIntervalMs: e.WARMPOOL_BACKOFF_INTERVAL_MS,
    backoffLookbackMs: e.WARMPOOL_BACKOFF_LOOKBACK_MS,
    failureHardLimit: e.WARMPOOL_FAILURE_HARD_LIMIT,
    maxInflightPrebuildBuilds: e.WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS,
    workerConcurrency: e.WARMPOOL_WORKER_CONCURRENCY,
    httpPort: e.WARMPOOL_HTTP_PORT,
    httpHost: e.WARMPOOL_HTTP_HOST,
    maxBodyBytes: e.WARMPOOL_MAX_BODY_BYTES,
    publicUrl: e.WARMPOOL_PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    webhookUrl: e.WARMPOOL_WEBHOOK_URL,
    webhookSecret: e.WARMPOOL_WEBHOOK_SECRET,
    webhookTimeoutMs: e.WARMPOOL_WEBHOOK_TIMEOUT_MS,
    webhookAttempts: e.WARMPOOL_WEBHOOK_ATTEMPTS,
    bullBoard: e.WARMPOOL_BULL_BOARD,
    metricsRefreshMs: e.WARMPOOL_METRICS_REFRESH_MS,
    republishPendingAfterMs: e.WARMPOOL_REPUBLISH_PENDING_AFTER_MS,
  };
}

/** The settings that shape a preset's evaluation (core EvaluationSettings), read from one place. */
export function evaluationSettings(config: Config): { backoffIntervalMs: number; backoffLookbackMs: number; failureHardLimit: number } {
  return { backoffIntervalMs: config.backoffIntervalMs, backoffLookbackMs: config.backoffLookbackMs, failureHardLimit: config.failureHardLimit };
}
