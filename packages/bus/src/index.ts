export { QUEUES, BUILD_PRIORITY, queuePrefix, type QueueName } from './queues.js';
export * from './events.js';
export { createRedis, type RedisClient } from './connection.js';
export { createQueueSet, enqueueReconcile, enqueueReconciles, armWakeUp, armWakeUps, type QueueSet } from './queue-set.js';
