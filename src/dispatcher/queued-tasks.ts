/**
 * The dispatcher over the `tasks` queue (src/queue/task-queue.ts), for several
 * dispatcher machines: each dispatcher is a producer and a consumer.
 *
 * - Producer: `queuedRunTask` is the RunTask the dispatch loop runs each task
 *   of its sources through. It queues the task (job id: the ledger's task id and
 *   its base dir, so one task from two dispatchers is one job) and waits on
 *   QueueEvents for the job's end; that outcome goes back to the task's source
 *   (inbox done/ and failed/, the HTTP intake's records, GitHub comments) as in
 *   a local dispatch. Aborted while waiting, it answers `interrupted`: the
 *   source gets the task back, the job goes on elsewhere.
 * - Consumer: `queuedTaskRunner` runs a job through the local dispatcher's
 *   RunTask (with its ledger) under the per-repository Redis lock. A task that
 *   cannot run here now (its base dir or task is held elsewhere, or this
 *   dispatcher is stopping) goes back to the queue (`RequeueTask`), not failed;
 *   an infrastructure failure (a full disk, a runner error, the configuration
 *   of this machine) fails the attempt, so BullMQ tries it again (maybe on
 *   another machine); a run's own outcome, success or failure, completes it.
 */
import { RequeueTask, TASK_ATTEMPTS, type RunQueuedTask, type TaskQueue } from '../queue/task-queue.js';
import { busyDelay, isInterrupted } from './dispatch.js';
import type { DispatchOutcome, RunSummary, RunTask } from './types.js';

const failedOutcome = (error: string, extra: Partial<DispatchOutcome> = {}): DispatchOutcome => ({
  status: 'failed',
  merges: 0,
  tokens: 0,
  durationMs: 0,
  error,
  ...extra,
});

/** A job's return value is the outcome a consumer's RunTask gave; anything else is a failure that says so. */
function outcomeOf(value: unknown): DispatchOutcome {
  const o = value as Partial<DispatchOutcome> | null;
  if (o && (o.status === 'succeeded' || o.status === 'failed') && typeof o.merges === 'number' && typeof o.tokens === 'number') {
    return o as DispatchOutcome;
  }
  return failedOutcome(`the queued task's job ended without an outcome (${JSON.stringify(value)})`, { failure: 'error' });
}

/**
 * The producer's RunTask: queue the task, wait for its job. `repoIdOf` names
 * the repository whose lock the task's run holds (the id agents use too).
 */
export function queuedRunTask(
  queue: Pick<TaskQueue, 'add' | 'wait'>,
  options: { repoIdOf: (baseDir: string) => string; source?: string },
): RunTask {
  return async (task, signal) => {
    const started = Date.now();
    const { jobId } = await queue.add({
      id: task.id,
      task: task.task,
      baseDir: task.baseDir,
      repoId: options.repoIdOf(task.baseDir),
      source: options.source || undefined,
    });
    const end = await queue.wait(jobId, signal);
    if (end === 'aborted') {
      return failedOutcome('stopped waiting for the queued task: the dispatch was aborted (the task stays queued)', {
        durationMs: Date.now() - started,
        interrupted: true,
      });
    }
    if (end.state === 'failed') {
      return failedOutcome(`the queued task failed ${TASK_ATTEMPTS} times: ${end.reason}`, {
        durationMs: Date.now() - started,
        failure: 'error',
        interrupted: false,
      });
    }
    return outcomeOf(end.value);
  };
}

/**
 * The consumer's run function over the local RunTask. `stop` is the
 * dispatcher's own abort (SIGINT/SIGTERM): a run it stops goes back to the
 * queue and resumes (its ledger entry says which run) wherever it runs next.
 */
export function queuedTaskRunner(
  runTask: RunTask,
  stop: AbortSignal,
  options: {
    busyRetry?: { initialMs?: number; maxMs?: number };
    /** The finished run's summary from this machine's state dir: attached to the outcome, which goes back to the producer's source. */
    summarize?: (baseDir: string, outcome: DispatchOutcome) => RunSummary | undefined;
  } = {},
): RunQueuedTask {
  const waits = new Map<string, number>();
  return async (queued, jobSignal) => {
    if (queued.baseDir === undefined) throw new Error(`queued task ${queued.id} has no base dir`);
    // Taken just as this dispatcher stops: not started here.
    if (stop.aborted) throw new RequeueTask('this dispatcher is stopping', 0);
    const signal = AbortSignal.any([stop, jobSignal]);
    const key = `${queued.id}\0${queued.baseDir}`;
    const outcome = await runTask({ id: queued.id, task: queued.task, baseDir: queued.baseDir }, signal);
    if (outcome.failure === 'busy') {
      const n = (waits.get(key) ?? 0) + 1;
      waits.set(key, n);
      throw new RequeueTask(outcome.error ?? 'the base dir is busy', busyDelay(n, options.busyRetry));
    }
    waits.delete(key);
    if (outcome.interrupted === true || isInterrupted(outcome, signal)) {
      throw new RequeueTask(outcome.error ?? 'interrupted', stop.aborted ? 0 : busyDelay(1, options.busyRetry));
    }
    if (outcome.failure === 'disk' || outcome.failure === 'error' || outcome.failure === 'config') {
      throw new Error(outcome.error ?? `the run could not run (${outcome.failure})`);
    }
    if (outcome.summary || !options.summarize) return outcome;
    let summary: RunSummary | undefined;
    try {
      summary = options.summarize(queued.baseDir, outcome);
    } catch {
      // An unreadable report costs the comment its details, never the job: the run is done.
    }
    return summary ? { ...outcome, summary } : outcome;
  };
}
