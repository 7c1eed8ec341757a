import type { QueueConfig } from '../../config/config.js';
import { queuedRunTask, queuedTaskRunner } from '../../dispatcher/queued-tasks.js';
import type { DispatchOutcome, RunSummary, RunTask } from '../../dispatcher/types.js';
import { checkQueue, redactUrl } from '../../queue/connection.js';
import { TaskQueue, startTaskConsumer, type TaskConsumer } from '../../queue/task-queue.js';

/** A dispatcher on the `tasks` queue: the RunTask its sources' tasks go through (queue and wait), and the consumer it runs. */
export interface DispatchQueue {
  /** The producer's RunTask, for the dispatch loop. */
  runTask: RunTask;
  /** One line for the user: where the queue is and how many tasks this dispatcher runs at once. */
  describe: string;
  /** Stops taking jobs (running ones are stopped by the dispatch's signal and go back to the queue), then closes the connections. */
  close(): Promise<void>;
}

export interface DispatchQueueOptions {
  queue: QueueConfig;
  /** The local dispatcher's RunTask (with its ledger): what a taken job runs through. */
  runTask: RunTask;
  /** Jobs this dispatcher runs at once (over different repositories). */
  concurrency: number;
  /** The dispatch's signal: stops the runs of taken jobs (they go back to the queue). */
  signal: AbortSignal;
  /**
   * The name of a base dir's Redis lock (one run at a time per name, on every machine): the CLI's real path of the
   * base dir, the same key its local dispatch loop keeps tasks of one base dir apart by. Every machine has the
   * task's base dir at the same path, so the path names the repository everywhere.
   */
  repoIdOf: (baseDir: string) => string;
  /** A finished run's summary from this machine's state dir, sent back with the outcome (the producer's GitHub comment). */
  summarize?: (baseDir: string, outcome: DispatchOutcome) => RunSummary | undefined;
  onLine: (line: string) => void;
}

/**
 * `dispatch --queue` / ORCHESTRATOR_QUEUE: this dispatcher puts its tasks on
 * the `tasks` queue and runs queued tasks (its own and other dispatchers'),
 * one run per repository at a time across every dispatcher. A Redis that does
 * not answer fails here, before any task is taken (QueueError, exit 8).
 */
export async function openDispatchQueue(options: DispatchQueueOptions): Promise<DispatchQueue> {
  const q = options.queue;
  const server = await checkQueue(q.url);
  const onStatus = (_: 'down' | 'up', message: string): void => options.onLine(`tasks queue: ${message}`);
  const queue = new TaskQueue({ url: q.url, prefix: q.prefix, onStatus });
  let consumer: TaskConsumer;
  try {
    consumer = await startTaskConsumer({
      url: q.url,
      prefix: q.prefix,
      concurrency: options.concurrency,
      lockMs: q.lockMs,
      stalledMs: q.stalledMs,
      run: queuedTaskRunner(options.runTask, options.signal, { summarize: options.summarize }),
      onError: (message) => options.onLine(`tasks queue: ${message}`),
      onEvent: (e) => {
        if (e.type === 'failed') options.onLine(`tasks queue: ${e.taskId} (${e.repoId}) attempt failed: ${e.detail ?? 'no reason given'}`);
        if (e.type === 'requeued') options.onLine(`tasks queue: ${e.taskId} (${e.repoId}) back to the queue: ${e.detail ?? ''}`);
      },
    });
  } catch (error) {
    await queue.close();
    throw error;
  }
  // At the abort no job is taken any more (a task stopped here must go to another dispatcher, not come back here).
  const closeConsumer = (): void => void consumer.close();
  if (options.signal.aborted) closeConsumer();
  else options.signal.addEventListener('abort', closeConsumer, { once: true });
  return {
    runTask: queuedRunTask(queue, { repoIdOf: options.repoIdOf }),
    describe:
      `tasks queue ${redactUrl(q.url)} (Redis ${server.version}, prefix ${q.prefix}): tasks are queued there and run by any ` +
      `dispatcher on it, one per repository at a time; this one runs ${options.concurrency} at once`,
    close: async () => {
      options.signal.removeEventListener('abort', closeConsumer);
      await consumer.close();
      await queue.close();
    },
  };
}
