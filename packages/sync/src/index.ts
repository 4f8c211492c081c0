export { AsyncResult } from './async-result.js';
export { Channel } from './channel.js';
export { Condition } from './condition.js';
export { Event } from './event.js';
export type { GroupLike, MapOptions } from './group.js';
export { Group } from './group.js';
export { JoinableQueue } from './joinable-queue.js';
export { Pool, PoolFull } from './pool.js';
export { PriorityQueue } from './priority-queue.js';
export type { QueueWaitOptions } from './queue.js';
export { LifoQueue, Queue } from './queue.js';
export { QueueEmpty, QueueFull, QueueShutDown } from './queue-errors.js';
export type { ResourcePoolOptions, ResourcePoolStats, ResourcePoolUseOptions } from './resource-pool.js';
export { ResourcePool } from './resource-pool.js';
export { RLock } from './rlock.js';
export type { AcquireOptions } from './semaphore.js';
export { BoundedSemaphore, Lock, Semaphore } from './semaphore.js';
export type {
  ThreadPoolOptions,
  ThreadPoolRunOptions,
  ThreadPoolStats,
  ThreadPoolTaskContext,
} from './thread-pool.js';
export { ThreadPool } from './thread-pool.js';
