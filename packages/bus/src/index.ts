export { QUEUES, BUILD_PRIORITY, WORKER_TIMING, queuePrefix, type QueueName } from './queues.js';
export * from './events.js';
export { createRedis } from './connection.js';
export { createQueueSet, enqueueReconcile, enqueueReconciles, armWakeUp, armWakeUps, type QueueSet } from './queue-set.js';
