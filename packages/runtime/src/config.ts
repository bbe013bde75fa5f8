import { z } from 'zod';
import { parseRedisTarget, RedisTargetError, type RedisTarget } from './redis-target.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// A webhook signing secret: the Standard Webhooks form `whsec_<base64 of 24-64 bytes>`, or any other text of 16+ characters.
export const WebhookSecret = z.string().superRefine((value, ctx) => {
  if (!value.startsWith('whsec_')) {
    if (value.length < 16) ctx.addIssue({ code: 'custom', message: 'must be at least 16 characters (or whsec_<base64>)' });
    return;
  }
  const encoded = value.slice('whsec_'.length);
  const bytes = Buffer.from(encoded, 'base64').length;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || bytes < 24 || bytes > 64) ctx.addIssue({ code: 'custom', message: 'whsec_ secrets must be base64 of 24 to 64 bytes' });
});

// `addr@host` or `Display Name <addr@host>`.
const mailbox = z.string().regex(/^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'must be an address like warmpool@example.com or "Warmpool <warmpool@example.com>"');
const SMTP_DEFAULT_PORT = { tls: 465, starttls: 587, none: 25 } as const;
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Every environment variable Warmpool reads (BEHAVIOUR.md §8), with defaults. Durations are milliseconds. */
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
  WARMPOOL_INFLIGHT_CAP_SHARING: z.enum(['fair', 'fifo']).default('fair'),
  WARMPOOL_WORKER_CONCURRENCY: int(1, 1_000).default(8),
  WARMPOOL_RECONCILE_BATCH_SIZE: int(1, 1_000).default(64),
  WARMPOOL_API_CACHE_MS: int(0, 60_000).default(5_000),
  WARMPOOL_HTTP_PORT: int(0, 65_535).default(8080),
  WARMPOOL_HTTP_HOST: z.string().default('127.0.0.1'),
  WARMPOOL_MAX_BODY_BYTES: int(1_024, 64 * 1024 * 1024).default(1024 * 1024),
  WARMPOOL_PUBLIC_URL: z.url().default('http://127.0.0.1:8080'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WARMPOOL_WEBHOOK_URL: z.url().optional(),
  WARMPOOL_WEBHOOK_SECRET: WebhookSecret.optional(),
  WARMPOOL_WEBHOOK_SECRET_PREVIOUS: WebhookSecret.optional(),
  WARMPOOL_WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(5_000),
  WARMPOOL_WEBHOOK_ATTEMPTS: int(1, 50).default(6),
  WARMPOOL_BULL_BOARD: bool.default(true),
  WARMPOOL_METRICS_REFRESH_MS: int(500, 3_600_000).default(10_000),
  WARMPOOL_METRICS_TOKEN: z.string().regex(/^[\x21-\x7e]{24,256}$/, 'must be 24–256 visible ASCII characters (no spaces)').optional(),
  WARMPOOL_REPUBLISH_PENDING_AFTER_MS: int(1_000, 86_400_000).default(120_000),
  WARMPOOL_SMTP_HOST: z.string().regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, 'must be a host name or IP address').optional(),
  WARMPOOL_SMTP_PORT: int(1, 65_535).optional(),
  WARMPOOL_SMTP_TLS: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  WARMPOOL_SMTP_USER: z.string().optional(),
  WARMPOOL_SMTP_PASSWORD: z.string().optional(),
  WARMPOOL_SMTP_FROM: mailbox.optional(),
  WARMPOOL_SMTP_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WARMPOOL_SMTP_ATTEMPTS: int(1, 50).default(6),
})
  // Rules between variables: each issue names the variable to fix.
  .superRefine((e, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (e.WARMPOOL_WEBHOOK_SECRET_PREVIOUS && !e.WARMPOOL_WEBHOOK_SECRET) issue('WARMPOOL_WEBHOOK_SECRET_PREVIOUS', 'needs WARMPOOL_WEBHOOK_SECRET (the new secret) as well');
    if (e.WARMPOOL_SMTP_HOST && !e.WARMPOOL_SMTP_FROM) issue('WARMPOOL_SMTP_FROM', 'required when WARMPOOL_SMTP_HOST is set');
    if (!e.WARMPOOL_SMTP_USER !== !e.WARMPOOL_SMTP_PASSWORD) issue(e.WARMPOOL_SMTP_USER ? 'WARMPOOL_SMTP_PASSWORD' : 'WARMPOOL_SMTP_USER', 'WARMPOOL_SMTP_USER and WARMPOOL_SMTP_PASSWORD go together');
    if (e.WARMPOOL_SMTP_USER && e.WARMPOOL_SMTP_TLS === 'none' && !isLoopback(e.WARMPOOL_SMTP_HOST)) issue('WARMPOOL_SMTP_TLS', 'none would send the password in clear text; use starttls or tls');
  });

const isLoopback = (host: string | undefined) => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host ?? '');

/** SMTP settings; absent when WARMPOOL_SMTP_HOST is unset (no e-mail is sent). */
export type SmtpConfig = {
  host: string;
  port: number;
  /** tls: TLS from the first byte (usually 465); starttls: upgrade required (usually 587); none: plain (local relays). */
  tls: 'starttls' | 'tls' | 'none';
  auth: { user: string; pass: string } | undefined;
  from: string;
  timeoutMs: number;
  attempts: number;
};

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
  /** How creates share the cap when it binds: max-min fair between presets, or first come first served. */
  inflightCapSharing: 'fair' | 'fifo';
  workerConcurrency: number;
  /** Presets reconciled together (one snapshot query, one transaction for plain creates and deletes). */
  reconcileBatchSize: number;
  /** How long an API replica caches token principals, organization ids and active template versions (0 = never). */
  apiCacheMs: number;
  httpPort: number;
  httpHost: string;
  maxBodyBytes: number;
  publicUrl: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  webhookUrl: string | undefined;
  /** Active global signing secrets, current first (two during a rollover); empty = none configured. */
  webhookSecrets: string[];
  webhookTimeoutMs: number;
  webhookAttempts: number;
  bullBoard: boolean;
  metricsRefreshMs: number;
  /** The bearer credential a scraper presents for the api's /metrics (unset: only a site-wide owner's token). */
  metricsToken: string | undefined;
  /** A build still pending this long after its request was published gets the request published again. */
  republishPendingAfterMs: number;
  smtp: SmtpConfig | undefined;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The variables starting with `prefix`, without unset or empty ones (empty strings count as unset). */
const setVariables = (env: Record<string, string | undefined>, prefix = '') =>
  Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith(prefix) && v !== undefined && v !== '')) as Record<string, string>;

/** One line per bad variable: `NAME: why`. */
const issueLines = (error: z.ZodError) => error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);

/**
 * A service's own variables (those starting with `prefix`) parsed by its schema, the way `loadConfig` parses the
 * shared ones: ConfigError naming every bad variable, `invalid <what> configuration`.
 */
export function parseEnvGroup<T extends z.ZodTypeAny>(schema: T, env: Record<string, string | undefined>, prefix: string, what: string): z.output<T> {
  const parsed = schema.safeParse(setVariables(env, prefix));
  if (!parsed.success) throw new ConfigError(`invalid ${what} configuration:\n  ${issueLines(parsed.error).join('\n  ')}`);
  return parsed.data;
}

/** Parses the environment; throws ConfigError naming every bad variable. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = setVariables(env);
  const parsed = EnvSchema.safeParse(cleaned);
  const lines = parsed.success ? [] : issueLines(parsed.error);
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
    inflightCapSharing: e.WARMPOOL_INFLIGHT_CAP_SHARING,
    workerConcurrency: e.WARMPOOL_WORKER_CONCURRENCY,
    reconcileBatchSize: e.WARMPOOL_RECONCILE_BATCH_SIZE,
    apiCacheMs: e.WARMPOOL_API_CACHE_MS,
    httpPort: e.WARMPOOL_HTTP_PORT,
    httpHost: e.WARMPOOL_HTTP_HOST,
    maxBodyBytes: e.WARMPOOL_MAX_BODY_BYTES,
    publicUrl: e.WARMPOOL_PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    webhookUrl: e.WARMPOOL_WEBHOOK_URL,
    webhookSecrets: [e.WARMPOOL_WEBHOOK_SECRET, e.WARMPOOL_WEBHOOK_SECRET_PREVIOUS].filter((v): v is string => v !== undefined),
    webhookTimeoutMs: e.WARMPOOL_WEBHOOK_TIMEOUT_MS,
    webhookAttempts: e.WARMPOOL_WEBHOOK_ATTEMPTS,
    bullBoard: e.WARMPOOL_BULL_BOARD,
    metricsRefreshMs: e.WARMPOOL_METRICS_REFRESH_MS,
    metricsToken: e.WARMPOOL_METRICS_TOKEN,
    republishPendingAfterMs: e.WARMPOOL_REPUBLISH_PENDING_AFTER_MS,
    smtp: e.WARMPOOL_SMTP_HOST
      ? {
          host: e.WARMPOOL_SMTP_HOST,
          port: e.WARMPOOL_SMTP_PORT ?? SMTP_DEFAULT_PORT[e.WARMPOOL_SMTP_TLS],
          tls: e.WARMPOOL_SMTP_TLS,
          auth: e.WARMPOOL_SMTP_USER && e.WARMPOOL_SMTP_PASSWORD ? { user: e.WARMPOOL_SMTP_USER, pass: e.WARMPOOL_SMTP_PASSWORD } : undefined,
          from: e.WARMPOOL_SMTP_FROM ?? '',
          timeoutMs: e.WARMPOOL_SMTP_TIMEOUT_MS,
          attempts: e.WARMPOOL_SMTP_ATTEMPTS,
        }
      : undefined,
  };
}

/** The settings that shape a preset's evaluation (core EvaluationSettings), read from one place. */
export function evaluationSettings(config: Config): { backoffIntervalMs: number; backoffLookbackMs: number; failureHardLimit: number } {
  return { backoffIntervalMs: config.backoffIntervalMs, backoffLookbackMs: config.backoffLookbackMs, failureHardLimit: config.failureHardLimit };
}
