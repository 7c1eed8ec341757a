/**
 * The nouns of the Task Dispatcher: tasks come from a `TaskSource`,
 * each runs through an injected `RunTask` (in the product: one orchestrator
 * run), and the source is told how it ended. The dispatcher never imports the
 * orchestrator; the CLI hands it a `RunTask`.
 */

import type { TaskFailure } from '../store/task-ledger.js';

/**
 * Why an outcome is not a success: a stored `TaskFailure` (`run`, `busy`,
 * `interrupted`, `disk`, `error`), or `config`: the task could not run because
 * of the configuration (no API key, no main/ in the base dir); never recorded
 * in the ledger, so it runs once the configuration is fixed.
 */
export type OutcomeFailure = TaskFailure | 'config';

/** One unit of work: a task description for one base dir (a directory that holds main/). */
export interface DispatchTask {
  /** Stable id: given by the submitter, or a content hash (12 hex of sha256 of task + baseDir). */
  id: string;
  /** The task text handed to the orchestrator. */
  task: string;
  /** Absolute base dir; when absent the dispatcher's default base dir is used. */
  baseDir?: string;
}

/** What a finished run did (from its report), for a source that tells the task's author: the GitHub issue's final comment. */
export interface RunSummary {
  subtasks: { id: string; status: string }[];
  files: string[];
  tests: { command: string; ok: boolean }[];
  merges: { branch: string | null; sha: string }[];
  tokens: number;
  /** Where the work is: the base dir's main/. */
  mainDir: string;
}

/** How one run ended. `failed` is an outcome, not an exception: the run happened and did not reach its goal. */
export interface DispatchOutcome {
  status: 'succeeded' | 'failed';
  merges: number;
  tokens: number;
  durationMs: number;
  error?: string;
  runId?: string;
  /**
   * The run was stopped by the abort signal before it reached its end; it may be
   * offered again or resumed. When absent, a `failed` outcome that arrives after
   * the dispatch's signal aborted counts as interrupted (see `isInterrupted`).
   */
  interrupted?: boolean;
  /** Not run now: the task id already ran (or is running) and this is that run's outcome (the idempotency ledger). */
  duplicate?: boolean;
  /**
   * Why it did not succeed, when the runner knows. `busy` (the base dir is held by
   * another run, or the task runs under another dispatcher) is not a failure:
   * the dispatcher waits and offers the task to the runner again.
   */
  failure?: OutcomeFailure;
  /**
   * The run's summary, attached by the machine that ran it (on the `tasks` queue: the consumer, whose state dir
   * has the report), so a source on another machine can tell the author what was done.
   */
  summary?: RunSummary;
}

/** What the dispatcher hands a runner besides the task and the signal. */
export interface RunTaskContext {
  /** Tell it the run id as soon as the run has one (before it ends), so a successor of a killed dispatcher can resume that run. */
  onRunId?(runId: string): void;
}

/** The task a runner receives: always with an absolute base dir; `resume` is the run id of an interrupted attempt to continue. */
export type RunnableTask = DispatchTask & { baseDir: string; resume?: string };

/**
 * Runs one task to its end. The task it receives always has `baseDir` set
 * (absolute). It should stop promptly when `signal` aborts and still resolve
 * with an outcome; a rejection is recorded as a failed task.
 */
export type RunTask = (task: RunnableTask, signal: AbortSignal, context?: RunTaskContext) => Promise<DispatchOutcome>;

/**
 * A task as handed out by a source, with the way back to it. Exactly one of
 * `ack`, `fail` or `release` is called for every task the dispatcher takes:
 * - `ack(outcome)`: the task ran; the outcome says whether it succeeded or failed.
 * - `fail(reason)`: the task could not run (no base dir, duplicate id, runner threw).
 * - `release()`: the dispatcher stopped (abort) before starting it, or the run was
 *   interrupted by the abort; the source may offer it again later. Optional: a
 *   source without it simply forgets a task not started, and is acked with the
 *   outcome of an interrupted one.
 */
export interface SourcedTask extends DispatchTask {
  /** The name of the source it came from, when it differs from the TaskSource's (merged sources). */
  source?: string;
  /** Told when the task starts running (synchronously; a throw is ignored). */
  onStart?(): void;
  ack(outcome: DispatchOutcome): Promise<void>;
  fail(reason: Error | string): Promise<void>;
  release?(): Promise<void>;
}

/**
 * Where tasks come from: an environment variable, a file inbox, an HTTP intake,
 * a tracker. A finite source ends its iterator when it has no more tasks; a
 * long-running one waits for new tasks and ends when `signal` aborts. Errors
 * thrown by the iterator stop the dispatch (after running tasks have finished).
 */
export interface TaskSource {
  readonly name: string;
  tasks(signal: AbortSignal): AsyncIterable<SourcedTask>;
}

/**
 * One line of the dispatch summary. `skipped`: taken from the source but not
 * started because of an abort. `interrupted`: started, then stopped by the abort
 * before its end (released back to its source when it can take it).
 */
export interface DispatchSummaryRow {
  id: string;
  task: string;
  /** The absolute base dir the task ran in, or null when it had none. */
  baseDir: string | null;
  source: string;
  status: 'succeeded' | 'failed' | 'skipped' | 'interrupted';
  merges: number;
  tokens: number;
  durationMs: number;
  error: string | null;
  runId: string | null;
  /** The outcome is an earlier run's (the task id had already run); nothing ran now. */
  duplicate: boolean;
}

export interface DispatchSummary {
  /** `failed` when any task failed; otherwise `aborted` when the dispatch was stopped; else `succeeded`. */
  status: 'succeeded' | 'failed' | 'aborted';
  aborted: boolean;
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  interrupted: number;
  tokens: number;
  merges: number;
  durationMs: number;
  /** Rows in the order the tasks were received from the source. */
  rows: DispatchSummaryRow[];
  /** ack/fail/release calls that threw: the task's result may not be recorded by its source. */
  sourceErrors: string[];
}

/** Progress, for a terminal or a log. Delivered synchronously; a throwing listener is ignored. */
export type DispatchEvent =
  | { type: 'task-received'; id: string; task: string; baseDir: string | null; source: string }
  | { type: 'task-started'; id: string; task: string; baseDir: string; running: number }
  | { type: 'task-finished'; row: DispatchSummaryRow }
  | { type: 'task-rejected'; row: DispatchSummaryRow }
  | { type: 'task-skipped'; row: DispatchSummaryRow }
  /** The task could not start because its base dir (or the task) is held elsewhere; offered again after `retryInMs`. */
  | { type: 'task-waiting'; id: string; baseDir: string; reason: string; retryInMs: number; waits: number }
  | { type: 'source-error'; id: string; operation: 'ack' | 'fail' | 'release'; error: string }
  | { type: 'aborting'; running: number; pending: number };

export interface DispatchOptions {
  /** How many tasks may run at once (over different base dirs). Default 1. */
  concurrency?: number;
  /** Absolute base dir for tasks that carry none. */
  defaultBaseDir?: string;
  /** Stops taking new tasks; running tasks get the same signal. */
  signal?: AbortSignal;
  onEvent?: (event: DispatchEvent) => void;
  /**
   * How many tasks may be taken from the source and wait for their base dir
   * (or a free slot) at once. Default max(16, 4 × concurrency). Bounds what a
   * long-running source hands over ahead of time.
   */
  maxPending?: number;
  /**
   * The key two base dirs share when they are the same directory. Default
   * `path.resolve`; the CLI passes one that also follows symlinks.
   */
  baseDirKey?: (absoluteDir: string) => string;
  /**
   * Let a task whose id was already taken in this dispatch through to the runner
   * instead of failing it (for an idempotent runner, see `withIdempotency`, which
   * answers it with the earlier run's outcome). Default false.
   */
  allowRepeatIds?: boolean;
  /**
   * How long a task whose base dir is busy waits before it is offered again:
   * `initialMs` (default 250), doubling up to `maxMs` (default 15 000), ±20 % jitter.
   */
  busyRetry?: { initialMs?: number; maxMs?: number };
  /** Clock for durations; default `Date.now`. */
  now?: () => number;
}
