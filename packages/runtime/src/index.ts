export { loadConfig, ConfigError, type Config } from './config.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { onShutdown } from './shutdown.js';
export { parseRedisTarget, RedisTargetError, type RedisTarget, type RedisNode } from './redis-target.js';
