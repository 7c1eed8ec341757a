/**
 * The dispatcher's use of the task ledger (src/store/task-ledger.ts, in each
 * state dir's state.db): a task id (given, or a content hash) runs once per
 * state dir, across dispatcher invocations and processes. `withIdempotency`
 * wraps a runner with it: it claims the id, tells the runner which run to
 * resume, links the run id as soon as the run has one, and records how the
 * attempt ended and why it failed.
 */
import path from 'node:path';
import { openStore, type StoreTarget } from '../store/index.js';
import {
  type TaskClaim,
  type TaskEntry,
  type TaskFailure,
  type TaskLedger,
  type TaskLedgerOptions,
  type TaskState,
} from '../store/task-ledger.js';
import { isInterrupted } from './dispatch.js';
import type { DispatchOutcome, RunTask } from './types.js';

/** A task ledger with the store it was opened on: `location` is its state.db (undefined in memory); `close` closes that store. */
export interface DispatchLedger extends TaskLedger {
  readonly location: string | undefined;
  close(): void;
}
export type LedgerEntry = TaskEntry;
export type LedgerClaim = TaskClaim;
export type LedgerState = TaskState;
export type LedgerOptions = TaskLedgerOptions;

function openLedger(target: StoreTarget, options: LedgerOptions): DispatchLedger {
  const store = openStore(target, { taskLedger: options });
  const tasks = store.tasks;
  return {
    location: store.location,
    claim: (task, owner, claimOptions) => tasks.claim(task, owner, claimOptions),
    linkRun: (id, owner, runId) => tasks.linkRun(id, owner, runId),
    finish: (id, owner, outcome, state, failure) => tasks.finish(id, owner, outcome, state, failure),
    unclaim: (id, owner, previous) => tasks.unclaim(id, owner, previous),
    get: (id) => tasks.get(id),
    list: () => tasks.list(),
    addIntake: (entry) => tasks.addIntake(entry),
    removeIntake: (id) => tasks.removeIntake(id),
    listIntake: (source) => tasks.listIntake(source),
    close: () => store.close(),
  };
}

/** The ledger of a state dir: `store.tasks` of `<stateDir>/state.db` (created and migrated on first use). */
export function openDispatchLedger(stateDir: string, options: LedgerOptions = {}): DispatchLedger {
  return openLedger({ stateDir }, options);
}

/** A ledger in memory (tests, benchmarks): the same store code on an in-memory SQLite database. */
export function createMemoryLedger(options: LedgerOptions = {}): DispatchLedger {
  return openLedger({ memory: true }, options);
}

/** Ledgers by state dir, opened on first use. */
export interface LedgerSet {
  /** The ledger of a task's base dir. */
  forBaseDir(baseDir: string): DispatchLedger;
  /** The entry of a task id in its base dir's ledger, without claiming it. */
  lookup(id: string, baseDir: string): LedgerEntry | undefined;
  close(): void;
}

/**
 * One ledger per state dir: `stateDirOf(baseDir)` says where a base dir's state
 * lives (the CLI: the config's state dir for that base dir), `open` opens it
 * (default `openDispatchLedger`).
 */
export function ledgerSet(
  stateDirOf: (baseDir: string) => string,
  open: (stateDir: string) => DispatchLedger = (d) => openDispatchLedger(d),
): LedgerSet {
  const open_ = new Map<string, DispatchLedger>();
  const forBaseDir = (baseDir: string): DispatchLedger => {
    const dir = path.resolve(stateDirOf(baseDir));
    let ledger = open_.get(dir);
    if (!ledger) {
      ledger = open(dir);
      open_.set(dir, ledger);
    }
    return ledger;
  };
  return {
    forBaseDir,
    lookup: (id, baseDir) => forBaseDir(baseDir).get(id),
    close: () => {
      for (const l of open_.values()) l.close();
      open_.clear();
    },
  };
}

/** The outcome a duplicate is answered with: the earlier run's, marked as not run now. */
export function duplicateOutcome(entry: LedgerEntry): DispatchOutcome {
  const o = entry.outcome;
  return {
    status: entry.state === 'succeeded' ? 'succeeded' : 'failed',
    merges: o?.merges ?? 0,
    tokens: o?.tokens ?? 0,
    durationMs: o?.durationMs ?? 0,
    runId: entry.runId || undefined,
    error: o?.error || undefined,
    failure: entry.state === 'failed' ? (entry.failure ?? 'run') : undefined,
    duplicate: true,
    interrupted: false,
  };
}

/**
 * The run an attempt continues: the run of an interrupted attempt, of one whose
 * dispatcher died, or of one stopped by a full disk or a runner error. A run
 * that failed on its own (`run`) starts over.
 */
export function runToResume(previous: LedgerEntry | undefined): string | undefined {
  if (!previous?.runId) return undefined;
  if (previous.state === 'succeeded') return undefined;
  if (previous.state === 'failed' && (previous.failure ?? 'run') === 'run') return undefined;
  return previous.runId;
}

/** How an outcome is stored: its state and the reason it did not succeed. */
function stateOf(outcome: DispatchOutcome, signal: AbortSignal): { state: 'succeeded' | 'failed' | 'interrupted'; failure?: TaskFailure } {
  if (isInterrupted(outcome, signal)) return { state: 'interrupted', failure: outcome.failure === 'disk' ? 'disk' : 'interrupted' };
  if (outcome.status === 'succeeded') return { state: 'succeeded' };
  const failure = outcome.failure;
  return { state: 'failed', failure: failure === undefined || failure === 'config' ? 'run' : failure };
}

export interface IdempotencyOptions {
  /** Also run a task whose run failed (`dispatch --retry`); default false: it is answered with its outcome. */
  retry?: boolean;
}

/**
 * Wraps a RunTask so that a task id runs once per ledger:
 * - a task that already ran gets its earlier outcome back (`duplicate: true`,
 *   nothing runs), unless it failed for an infrastructure reason (busy,
 *   interrupted, disk, a runner error): then it runs again;
 * - one running under another live dispatcher is answered `failure: 'busy'`
 *   (the dispatcher waits and asks again);
 * - an interrupted attempt, or one whose dispatcher died, resumes its run
 *   (`task.resume`); the run id is recorded as soon as the run has one;
 * - a configuration error (`failure: 'config'`) is not recorded: the claim is
 *   given back, so the task runs once the configuration is fixed;
 * - a base dir that was busy gives the claim back as `interrupted`/`busy`.
 */
export function withIdempotency(
  runTask: RunTask,
  ledgers: Pick<LedgerSet, 'forBaseDir'>,
  owner: string,
  options: IdempotencyOptions = {},
): RunTask {
  return async (task, signal, context) => {
    const ledger = ledgers.forBaseDir(task.baseDir);
    const claim = ledger.claim(task, owner, options.retry ? { retry: true } : {});
    if (claim.kind === 'done') return duplicateOutcome(claim.entry);
    if (claim.kind === 'busy') {
      const where = claim.entry.pid === process.pid ? 'this dispatcher' : `pid ${claim.entry.pid} on ${claim.entry.hostname}`;
      return {
        status: 'failed',
        merges: 0,
        tokens: 0,
        durationMs: 0,
        error: `task ${task.id} is already running (claimed by ${where} at ${claim.entry.claimedAt})`,
        duplicate: true,
        interrupted: false,
        failure: 'busy',
      };
    }
    const resume = task.resume ?? runToResume(claim.previous);
    let outcome: DispatchOutcome;
    try {
      outcome = await runTask({ ...task, resume }, signal, {
        onRunId: (runId) => {
          try {
            ledger.linkRun(task.id, owner, runId);
          } catch {
            /* the outcome records it at the end */
          }
          context?.onRunId?.(runId);
        },
      });
    } catch (error) {
      // The runner could not run it (it rejects rather than reporting a failed run): not a run, so it may be tried again.
      const reason = error instanceof Error ? error.message : String(error);
      ledger.finish(task.id, owner, { status: 'failed', merges: 0, tokens: 0, durationMs: 0, error: reason }, 'interrupted', 'error');
      throw error;
    }
    if (outcome.failure === 'config') {
      ledger.unclaim(task.id, owner, claim.previous);
      return { ...outcome, interrupted: false };
    }
    if (outcome.failure === 'busy') {
      ledger.finish(task.id, owner, outcome, 'interrupted', 'busy');
      return { ...outcome, interrupted: false };
    }
    const { state, failure } = stateOf(outcome, signal);
    ledger.finish(task.id, owner, outcome, state, failure);
    return { ...outcome, interrupted: state === 'interrupted' };
  };
}
