/**
 * The `tasks` queue: whole tasks spread over several dispatcher machines, one
 * run per repository at a time. A task's job id is its task id, so adding it
 * twice is a no-op. A dispatcher that finds the task's repository busy moves
 * the job back to `delayed` (BullMQ's `moveToDelayed` + `DelayedError`) rather
 * than failing it; a dead dispatcher's job stalls and another one runs it.
 * A task that completed is remembered (`task-done:<id>`), so a job delivered
 * again after a crash returns the earlier result instead of running twice.
 * A run function that throws `RequeueTask` (its task cannot run here now) sends
 * the job back to `delayed` as well; any other throw fails the attempt (BullMQ
 * retries it with backoff). The producer waits for its job's end on QueueEvents
 * (`TaskQueue.wait`), so the outcome travels back to whoever queued the task.
 */
import { DelayedError, Job as BullJob, Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { silentLogger, type Logger } from '../logging/logger.js';
import { redisConnection } from './connection.js';
import { TASK_QUEUE, taskJobId } from './names.js';
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
  /** Called once per Redis outage with a one-line description, and again when it is back. */
  onStatus?: (status: 'down' | 'up', message: string) => void;
}

/** How a queued task's job ended: its run function's result, or the reason its last attempt failed. */
export type TaskJobEnd = { state: 'completed'; value: unknown } | { state: 'failed'; reason: string };

/** The attempts a task's job gets before it stays failed (a runner error, a full disk; a busy repository is no attempt). */
export const TASK_ATTEMPTS = 5;

/**
 * Thrown by a run function when the task cannot run here now (its repository
 * or task is held elsewhere, or this dispatcher is stopping): the job goes back
 * to `delayed` for `delayMs`, without counting an attempt, and no result is kept.
 */
export class RequeueTask extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RequeueTask';
  }
}

export class TaskQueue {
  private readonly queue: Queue;
  private readonly connection: Redis;
  private events: Promise<{ events: QueueEvents; connection: Redis }> | undefined;
  constructor(private readonly options: TaskQueueOptions) {
    this.connection = redisConnection({ url: options.url, onStatus: options.onStatus });
    this.queue = new Queue(TASK_QUEUE, { connection: this.connection, prefix: options.prefix });
    // Every waiting producer listens for the queue's 'closing' (Job.waitUntilFinished): many at once is normal.
    this.queue.setMaxListeners(0);
  }

  /**
   * Queues a task; a task already queued (or done) is not queued again (job id:
   * `taskJobId(id, baseDir)`). A job of the same task that stayed failed is
   * retried: dropping a task again runs it again after an infrastructure failure.
   */
  async add(task: QueuedTask): Promise<{ jobId: string }> {
    const t = queuedTaskSchema.parse(task);
    const jobId = taskJobId(t.id, t.baseDir);
    const job = await this.queue.add('task', t, {
      jobId,
      attempts: TASK_ATTEMPTS,
      backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    if ((await job.getState()) === 'failed') {
      // Two producers may both try; the second finds it no longer failed.
      await job.retry('failed').catch(() => undefined);
    }
    return { jobId };
  }

  /**
   * Waits for a job's end (completed or finally failed), or resolves 'aborted'
   * when `signal` aborts first (the job goes on; a later `wait` gets its end).
   */
  async wait(jobId: string, signal: AbortSignal): Promise<TaskJobEnd | 'aborted'> {
    if (signal.aborted) return 'aborted';
    this.events ??= (async () => {
      const connection = redisConnection({ url: this.options.url });
      const events = new QueueEvents(TASK_QUEUE, { connection, prefix: this.options.prefix });
      events.on('error', () => undefined); // the connection reports outages (onStatus of the queue's own)
      await events.waitUntilReady();
      return { events, connection };
    })();
    const { events } = await this.events;
    const job = await BullJob.fromId(this.queue, jobId);
    if (!job) return { state: 'failed', reason: `job ${jobId} is not in the queue (removed?)` };
    return new Promise<TaskJobEnd | 'aborted'>((resolve) => {
      const onAbort = (): void => resolve('aborted');
      // Aborted while the events connection or the job were being fetched: an abort listener added now would never fire.
      if (signal.aborted) return resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      job.waitUntilFinished(events).then(
        (value: unknown) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ state: 'completed', value });
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ state: 'failed', reason: error instanceof Error ? error.message : String(error) });
        },
      );
    });
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  }

  async close(): Promise<void> {
    await this.queue.close();
    const opened = await this.events?.catch(() => undefined);
    await opened?.events.close();
    opened?.connection.disconnect();
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
  onStatus?: (status: 'down' | 'up', message: string) => void;
  /** A worker error (a lost job lock, a Redis command that failed), besides the log. */
  onError?: (message: string) => void;
  onEvent?: (e: {
    /** `requeued`: the run function threw `RequeueTask` (detail: its message). */
    type: 'started' | 'completed' | 'busy' | 'requeued' | 'duplicate' | 'failed';
    taskId: string;
    repoId: string;
    detail?: string;
  }) => void;
}

export interface TaskConsumer {
  /** Stops taking jobs, waits for the running ones (unless `force`), closes the connections; later calls wait for the first. */
  close(force?: boolean): Promise<void>;
}

function doneKey(prefix: string, id: string): string {
  return `${prefix}:task-done:${id}`;
}

export async function startTaskConsumer(options: TaskConsumerOptions): Promise<TaskConsumer> {
  const log = (options.logger ?? silentLogger).child({ component: 'task-consumer' });
  const redis: Redis = redisConnection({ url: options.url, onStatus: options.onStatus });
  const workerConnection = redisConnection({ url: options.url });
  const worker = new Worker(
    TASK_QUEUE,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      const task = queuedTaskSchema.parse(job.data);
      const key = taskJobId(task.id, task.baseDir);
      const done = await redis.get(doneKey(options.prefix, key));
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
        await redis.set(doneKey(options.prefix, key), JSON.stringify(result), 'EX', 30 * 24 * 3600);
        options.onEvent?.({ type: 'completed', taskId: task.id, repoId: task.repoId });
        return result;
      } catch (error) {
        if (error instanceof RequeueTask) {
          options.onEvent?.({ type: 'requeued', taskId: task.id, repoId: task.repoId, detail: error.message });
          await job.moveToDelayed(Date.now() + error.delayMs, token);
          throw new DelayedError();
        }
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
  worker.on('error', (e) => {
    log.warn({ err: e }, 'task consumer error');
    options.onError?.(e.message);
  });
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    // Once: a dispatcher stops taking jobs at its abort and closes again when it ends.
    close: (force = false) =>
      (closing ??= (async () => {
        await worker.close(force);
        redis.disconnect();
        workerConnection.disconnect();
      })()),
  };
}
