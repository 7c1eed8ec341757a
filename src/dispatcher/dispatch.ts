import path from 'node:path';
import { OrchestratorError } from '../errors.js';
import type {
  DispatchEvent,
  DispatchOptions,
  DispatchOutcome,
  DispatchSummary,
  DispatchSummaryRow,
  RunTask,
  SourcedTask,
  TaskSource,
} from './types.js';

interface Pending {
  sourced: SourcedTask;
  row: DispatchSummaryRow;
  /** The exclusion key of its base dir. */
  key: string;
  /** Waiting for a busy base dir: not offered again until its retry timer fires. */
  waiting: boolean;
  /** How many times it found its base dir busy. */
  waits: number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Whether an outcome means "stopped by the abort, not finished": the runner said
 * so, or the run failed after the dispatch's signal had aborted (a run stopped
 * by Ctrl-C/SIGTERM reports `failed`/`aborted`; it is offered again, not filed
 * as a failure).
 */
export function isInterrupted(outcome: DispatchOutcome, signal: AbortSignal): boolean {
  if (outcome.interrupted !== undefined) return outcome.interrupted;
  return outcome.status === 'failed' && signal.aborted && outcome.duplicate !== true;
}

/** The wait before offering a busy task again: doubling from `initialMs` up to `maxMs`, ±20 % so dispatchers do not retry in step. */
export function busyDelay(waits: number, options: { initialMs?: number; maxMs?: number } = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 15_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, waits - 1));
  return Math.max(1, Math.round(base * (0.8 + 0.4 * random())));
}

/**
 * Takes tasks from `source` and runs each through `runTask`:
 * - at most `concurrency` at once, and never two on the same base dir (compared
 *   by `baseDirKey`, default the resolved absolute path); tasks of one base dir
 *   start in the order the source gave them;
 * - a task whose base dir turns out busy (the runner answers `failure: 'busy'`:
 *   another process's run holds it) waits with a growing backoff and is offered
 *   again; it is not a failure and keeps its place among its base dir's tasks;
 * - a task with neither its own base dir nor `defaultBaseDir`, with a relative
 *   base dir, or with an id already seen in this dispatch is failed, not run;
 * - every task taken is acked (it ran: succeeded or failed), failed (it could
 *   not run) or released (aborted before it started) on its source;
 * - `signal` stops taking new tasks; running tasks see the same signal and the
 *   dispatch waits for them, so nothing is left running when it resolves.
 *
 * Resolves with the summary. Rejects only when the source's iterator throws
 * (after running tasks have finished) or on bad options.
 */
export async function dispatch(source: TaskSource, runTask: RunTask, options: DispatchOptions = {}): Promise<DispatchSummary> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new OrchestratorError('usage', `concurrency must be a whole number of at least 1, got ${concurrency}`);
  }
  const maxPending = options.maxPending ?? Math.max(16, concurrency * 4);
  if (!Number.isInteger(maxPending) || maxPending < 1) {
    throw new OrchestratorError('usage', `maxPending must be a whole number of at least 1, got ${maxPending}`);
  }
  if (options.defaultBaseDir !== undefined && !path.isAbsolute(options.defaultBaseDir)) {
    throw new OrchestratorError('usage', `the default base dir must be an absolute path, got ${JSON.stringify(options.defaultBaseDir)}`);
  }
  const defaultBaseDir = options.defaultBaseDir === undefined ? undefined : path.resolve(options.defaultBaseDir);
  const keyOf = options.baseDirKey ?? ((dir: string) => path.resolve(dir));
  const now = options.now ?? Date.now;
  const signal = options.signal ?? new AbortController().signal;
  const emit = (event: DispatchEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      /* a listener must not break the dispatch */
    }
  };

  const startedAt = now();
  const rows: DispatchSummaryRow[] = [];
  const sourceErrors: string[] = [];
  const seenIds = new Set<string>();
  const pending: Pending[] = [];
  const busy = new Set<string>();
  const running = new Set<Promise<void>>();
  const retryTimers = new Set<NodeJS.Timeout>();
  let sourceDone = false;
  let sourceError: { error: unknown } | undefined;
  let abortAnnounced = false;

  // One waiter at a time: the pull loop (for room in `pending`) or the final drain.
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const changed = (): Promise<void> =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const onAbort = (): void => notify();
  if (!signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
  /**
   * `p`, or 'aborted' when the signal fires first. Not `Promise.race([p, aborted])`:
   * every race would leave a reaction on the long-lived `aborted` promise, which a
   * long-running dispatch (--watch) would pile up for every task.
   */
  const untilAborted = <T>(p: Promise<T>): Promise<T | 'aborted'> =>
    new Promise<T | 'aborted'>((resolve, rejectRace) => {
      if (signal.aborted) return resolve('aborted');
      const stop = (): void => resolve('aborted');
      signal.addEventListener('abort', stop, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', stop);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', stop);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what the source rejected with
          rejectRace(e);
        },
      );
    });

  const tell = async (task: SourcedTask, operation: 'ack' | 'fail' | 'release', call: () => Promise<void>): Promise<void> => {
    try {
      await call();
    } catch (error) {
      const text = `${source.name}: ${operation} of task ${task.id} failed: ${message(error)}`;
      sourceErrors.push(text);
      emit({ type: 'source-error', id: task.id, operation, error: message(error) });
    }
  };

  const reject = async (sourced: SourcedTask, row: DispatchSummaryRow, reason: string): Promise<void> => {
    row.status = 'failed';
    row.error = reason;
    emit({ type: 'task-rejected', row });
    await tell(sourced, 'fail', () => sourced.fail(reason));
  };

  /** Puts a task whose base dir was busy back at the head of the queue, to be offered again after a backoff. */
  const wait = (item: Pending, reason: string): void => {
    item.waits += 1;
    const delay = busyDelay(item.waits, options.busyRetry);
    item.waiting = true;
    pending.unshift(item);
    emit({ type: 'task-waiting', id: item.row.id, baseDir: item.row.baseDir as string, reason, retryInMs: delay, waits: item.waits });
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      item.waiting = false;
      pump();
    }, delay);
    retryTimers.add(timer);
  };

  const start = (item: Pending): void => {
    const { sourced, row, key } = item;
    const baseDir = row.baseDir as string;
    busy.add(key);
    const begun = now();
    if (item.waits === 0) {
      try {
        sourced.onStart?.();
      } catch {
        /* a source's start hook must not break the dispatch */
      }
      emit({ type: 'task-started', id: row.id, task: row.task, baseDir, running: running.size + 1 });
    }
    const job = (async () => {
      let outcome: DispatchOutcome | undefined;
      let thrown: unknown;
      try {
        outcome = await runTask({ id: sourced.id, task: sourced.task, baseDir }, signal);
      } catch (error) {
        thrown = error;
      }
      if (outcome?.failure === 'busy') {
        busy.delete(key);
        if (!signal.aborted) {
          wait(item, outcome.error ?? 'the base dir is busy');
          pump();
          return;
        }
        // Stopped while its base dir was busy: it never started; hand it back.
        row.error = 'not started: the dispatch was aborted';
        emit({ type: 'task-skipped', row });
        if (sourced.release) await tell(sourced, 'release', async () => sourced.release?.());
        return;
      }
      const interrupted = outcome !== undefined && isInterrupted(outcome, signal);
      if (outcome) {
        row.status = interrupted ? 'interrupted' : outcome.status === 'succeeded' ? 'succeeded' : 'failed';
        row.merges = outcome.merges;
        row.tokens = outcome.tokens;
        row.durationMs = outcome.durationMs;
        row.error =
          outcome.error ?? (row.status === 'failed' ? 'the run failed without giving a reason' : interrupted ? 'interrupted' : null);
        row.runId = outcome.runId ?? null;
        row.duplicate = outcome.duplicate === true;
      } else {
        row.status = 'failed';
        row.durationMs = now() - begun;
        row.error = message(thrown);
      }
      // The base dir is free again before the source hears back, so a slow ack
      // does not hold up the next task of the same repository.
      busy.delete(key);
      pump();
      emit({ type: 'task-finished', row });
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call on its own object
      const release = sourced.release;
      if (interrupted && release) {
        await tell(sourced, 'release', () => release.call(sourced));
      } else if (outcome) {
        const o = outcome;
        await tell(sourced, 'ack', () => sourced.ack(o));
      } else {
        await tell(sourced, 'fail', () => sourced.fail(thrown instanceof Error ? thrown : message(thrown)));
      }
    })();
    running.add(job);
    void job.finally(() => {
      running.delete(job);
      notify();
    });
  };

  /** Starts what may start: in arrival order, skipping base dirs that are busy or have an earlier waiting task. */
  const pump = (): void => {
    if (signal.aborted) return;
    const blocked = new Set(busy);
    for (let i = 0; i < pending.length && busy.size < concurrency;) {
      const item = pending[i] as Pending;
      if (blocked.has(item.key) || item.waiting) {
        // A waiting task also holds back the later tasks of its base dir (they start in order).
        blocked.add(item.key);
        i += 1;
        continue;
      }
      blocked.add(item.key);
      pending.splice(i, 1);
      start(item);
    }
    notify();
  };

  const admit = async (sourced: SourcedTask): Promise<void> => {
    const given = sourced.baseDir;
    const baseDir = given !== undefined && given !== '' ? (path.isAbsolute(given) ? path.resolve(given) : undefined) : defaultBaseDir;
    const row: DispatchSummaryRow = {
      id: sourced.id,
      task: sourced.task,
      baseDir: baseDir ?? null,
      source: sourced.source ?? source.name,
      status: 'skipped',
      merges: 0,
      tokens: 0,
      durationMs: 0,
      error: null,
      runId: null,
      duplicate: false,
    };
    rows.push(row);
    emit({ type: 'task-received', id: row.id, task: row.task, baseDir: row.baseDir, source: row.source });
    if (!options.allowRepeatIds && seenIds.has(sourced.id)) {
      await reject(sourced, row, `duplicate task id "${sourced.id}": a task with this id was already taken in this dispatch`);
      return;
    }
    seenIds.add(sourced.id);
    if (given !== undefined && given !== '' && baseDir === undefined) {
      await reject(sourced, row, `base dir ${JSON.stringify(given)} is not an absolute path`);
      return;
    }
    if (baseDir === undefined) {
      await reject(sourced, row, 'no base dir: the task has none and no default was given (--base-dir or ORCHESTRATOR_BASE_DIR)');
      return;
    }
    pending.push({ sourced, row, key: keyOf(baseDir), waits: 0, waiting: false });
    pump();
  };

  // The pull loop: take tasks while there is room, until the source ends or the signal aborts.
  let iterator: AsyncIterator<SourcedTask> | undefined;
  try {
    iterator = source.tasks(signal)[Symbol.asyncIterator]();
    while (!signal.aborted) {
      if (pending.length >= maxPending) {
        await untilAborted(changed());
        continue;
      }
      const nextTask = iterator.next();
      const next = await untilAborted(nextTask);
      if (next === 'aborted') {
        // A task that arrives after the abort was never taken: hand it back.
        void nextTask.then(
          (late) => {
            // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call on its own object
            const release = late.done ? undefined : late.value.release;
            if (!late.done && release) void tell(late.value, 'release', () => release.call(late.value));
          },
          () => undefined,
        );
        break;
      }
      if (next.done) {
        sourceDone = true;
        break;
      }
      await admit(next.value);
    }
  } catch (error) {
    sourceError = { error };
  }
  if (!sourceDone && iterator) {
    const it = iterator;
    // Aborted or failed: close the iterator without waiting on it (a long-running
    // source may be parked in next(); its own signal handling ends it).
    void Promise.resolve()
      .then(() => it.return?.())
      .catch(() => undefined);
  }

  // Drain: run what is pending (unless aborted), wait for what runs.
  for (;;) {
    if (signal.aborted || sourceError) {
      if (signal.aborted && !abortAnnounced) {
        abortAnnounced = true;
        emit({ type: 'aborting', running: running.size, pending: pending.length });
      }
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
      for (const item of pending.splice(0)) {
        item.row.error = signal.aborted ? 'not started: the dispatch was aborted' : 'not started: the task source failed';
        emit({ type: 'task-skipped', row: item.row });
        // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call on its own object
        const release = item.sourced.release;
        if (release) await tell(item.sourced, 'release', () => release.call(item.sourced));
      }
    }
    if (pending.length === 0 && running.size === 0) break;
    pump();
    if (pending.length === 0 && running.size === 0) break;
    await changed();
  }
  signal.removeEventListener('abort', onAbort);

  if (sourceError) throw sourceError.error;

  const count = (status: DispatchSummaryRow['status']) => rows.filter((r) => r.status === status).length;
  const failed = count('failed');
  return {
    status: failed > 0 ? 'failed' : signal.aborted ? 'aborted' : 'succeeded',
    aborted: signal.aborted,
    total: rows.length,
    succeeded: count('succeeded'),
    failed,
    skipped: count('skipped'),
    interrupted: count('interrupted'),
    tokens: rows.reduce((n, r) => n + r.tokens, 0),
    merges: rows.reduce((n, r) => n + r.merges, 0),
    durationMs: now() - startedAt,
    rows,
    sourceErrors,
  };
}
