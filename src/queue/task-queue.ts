/**
 * The `tasks` queue: whole tasks spread over several dispatcher machines, one
 * run per repository at a time. A task's job id is its task id, so adding it
 * twice is a no-op. A dispatcher that finds the task's repository busy moves
 * the job back to `delayed` (BullMQ's `moveToDelayed` + `DelayedError`) rather
 * than failing it; a dead dispatcher's job stalls and another one runs it.
 * A task that completed is remembered (`task-done:<id>`), so a job delivered
 * again after a crash returns the earlier result instead of running twice.
 */
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { silentLogger, type Logger } from '../logging/logger.js';
import { redisConnection } from './connection.js';
import { TASK_QUEUE } from './names.js';
import { repoLockKey, tryRepoLock } from './repo-lock.js';

export const queuedTaskSchema = z.object({
  id: z.string().min(1).max(200),
  task: z.string().min(1),
  /** The repository the task works on: at most one task per repository runs at once. */
  repoId: z.string().min(1),
  baseDir: z.string().optional(),
  source: z.string().optional(),
});
export type QueuedTask = z.infer<typeof queuedTaskSchema>;

export interface TaskQueueOptions {
  url: string;
  prefix: string;
}

export class TaskQueue {
  private readonly queue: Queue;
  private readonly connection: Redis;
  constructor(options: TaskQueueOptions) {
    this.connection = redisConnection({ url: options.url });
    this.queue = new Queue(TASK_QUEUE, { connection: this.connection, prefix: options.prefix });
  }

  /** Queues a task; a task id already queued (or done) is not queued again. */
  async add(task: QueuedTask): Promise<{ jobId: string }> {
    const t = queuedTaskSchema.parse(task);
    const job = await this.queue.add('task', t, {
      jobId: t.id.replace(/[^A-Za-z0-9_.-]/g, '_'),
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    return { jobId: job.id ?? t.id };
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}

export type RunQueuedTask = (task: QueuedTask, signal: AbortSignal) => Promise<unknown>;

export interface TaskConsumerOptions extends TaskQueueOptions {
  run: RunQueuedTask;
  /** Tasks at once in this process (over different repositories). Default 1. */
  concurrency?: number;
  lockMs: number;
  stalledMs: number;
  /** How long a task whose repository is busy waits before it is tried again (ms, default 1000). */
  busyDelayMs?: number;
  logger?: Logger;
  onEvent?: (e: {
    type: 'started' | 'completed' | 'busy' | 'duplicate' | 'failed';
    taskId: string;
    repoId: string;
    detail?: string;
  }) => void;
}

export interface TaskConsumer {
  close(force?: boolean): Promise<void>;
}

function doneKey(prefix: string, id: string): string {
  return `${prefix}:task-done:${id}`;
}

export async function startTaskConsumer(options: TaskConsumerOptions): Promise<TaskConsumer> {
  const log = (options.logger ?? silentLogger).child({ component: 'task-consumer' });
  const redis: Redis = redisConnection({ url: options.url });
  const workerConnection = redisConnection({ url: options.url });
  const worker = new Worker(
    TASK_QUEUE,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      const task = queuedTaskSchema.parse(job.data);
      const done = await redis.get(doneKey(options.prefix, task.id));
      if (done !== null) {
        options.onEvent?.({ type: 'duplicate', taskId: task.id, repoId: task.repoId });
        return JSON.parse(done) as unknown;
      }
      const lock = await tryRepoLock(redis, repoLockKey(options.prefix, task.repoId), options.lockMs);
      if (!lock) {
        options.onEvent?.({ type: 'busy', taskId: task.id, repoId: task.repoId });
        const jitter = Math.round(Math.random() * (options.busyDelayMs ?? 1_000) * 0.5);
        await job.moveToDelayed(Date.now() + (options.busyDelayMs ?? 1_000) + jitter, token);
        throw new DelayedError();
      }
      try {
        options.onEvent?.({ type: 'started', taskId: task.id, repoId: task.repoId });
        const result = (await options.run(task, signal ?? new AbortController().signal)) ?? null;
        await redis.set(doneKey(options.prefix, task.id), JSON.stringify(result), 'EX', 30 * 24 * 3600);
        options.onEvent?.({ type: 'completed', taskId: task.id, repoId: task.repoId });
        return result;
      } catch (error) {
        options.onEvent?.({ type: 'failed', taskId: task.id, repoId: task.repoId, detail: (error as Error).message });
        throw error;
      } finally {
        await lock.release();
      }
    },
    {
      connection: workerConnection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 1,
      lockDuration: options.lockMs,
      stalledInterval: options.stalledMs,
      maxStalledCount: 3,
    },
  );
  worker.on('error', (e) => log.warn({ err: e }, 'task consumer error'));
  await worker.waitUntilReady();
  return {
    close: async (force = false) => {
      await worker.close(force);
      redis.disconnect();
      workerConnection.disconnect();
    },
  };
}
