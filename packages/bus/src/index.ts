// The contracts (queue names, priorities, payload schemas, keys) live in @warmpool/contracts; they are re-exported
// here so that code holding a queue needs one import.
export * from '@warmpool/contracts';
export { queuePrefix, WORKER_TIMING } from './queues.js';
export { createRedis, type RedisClient } from './connection.js';
export { watchDataLoss } from './data-loss.js';
export { createQueueSet, enqueueReconcile, enqueueReconciles, armWakeUp, armWakeUps, type QueueSet } from './queue-set.js';
export { traceJobOptions, withJobSpan } from './tracing.js';
export { wireService, type ServiceWiring } from './wiring.js';
