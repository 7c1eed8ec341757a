/**
 * The task ledger: the one home of task idempotency. A dispatcher task id (given,
 * or a content hash) runs once per state dir, across dispatcher invocations and
 * processes; the row says who runs it now, how its last attempt ended and WHY it
 * failed, so an infrastructure failure (busy, interrupted, disk) runs again while
 * a run that failed on its own merits is answered with that outcome.
 *
 * It lives in `state.db` beside the runs (table `dispatch_tasks`, plus
 * `intake_tasks` for tasks an intake accepted but has not handed over yet). Every
 * claim is one IMMEDIATE transaction, so two dispatchers never both run a task.
 * The old `<stateDir>/dispatch.db` of earlier versions is imported by a store
 * migration (legacy-ledger.ts).
 */
import os from 'node:os';
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { isPidAlive } from './pid.js';

/** `running`: claimed by a live dispatcher; `interrupted`: stopped by an abort or a dead dispatcher, may run again. */
export type TaskState = 'running' | 'succeeded' | 'failed' | 'interrupted';

/**
 * Why an attempt did not succeed:
 * - `run`: the run happened and did not reach its goal (final: a re-drop gets this outcome back);
 * - `busy`: the base dir (or the task) was held by another run; waited for, never final;
 * - `interrupted`: stopped by an abort or a dispatcher that died; resumes its run;
 * - `disk`: the disk was full (ENOSPC, SQLITE_FULL); runs again (resuming its run) once re-dropped;
 * - `error`: the runner itself threw; runs again.
 * Configuration errors are never recorded: the entry is dropped, so the task runs once the config is fixed.
 */
export const TASK_FAILURES = ['run', 'busy', 'interrupted', 'disk', 'error'] as const;
export type TaskFailure = (typeof TASK_FAILURES)[number];
/** Failures after which the same task id runs again when offered again. */
export const RETRYABLE_FAILURES: readonly TaskFailure[] = ['busy', 'interrupted', 'disk', 'error'];

/** What an attempt ended with (the dispatcher's outcome, stored as JSON). */
export interface TaskOutcome {
  status: 'succeeded' | 'failed';
  merges: number;
  tokens: number;
  durationMs: number;
  error?: string;
  runId?: string;
  interrupted?: boolean;
  duplicate?: boolean;
  failure?: string;
}

export interface TaskEntry {
  id: string;
  task: string;
  baseDir: string;
  state: TaskState;
  /** Why the last attempt did not succeed (absent while running for the first time, or after success). */
  failure?: TaskFailure;
  /** The orchestrator run of the latest attempt, once known (recorded as soon as the run starts). */
  runId?: string;
  outcome?: TaskOutcome;
  /** How many times it was claimed to run. */
  attempts: number;
  pid: number;
  hostname: string;
  owner: string;
  claimedAt: string;
  updatedAt: string;
}

export type TaskClaim =
  /** Ours to run now; `previous` is the interrupted or failed attempt it continues (resume `previous.runId`). */
  | { kind: 'claimed'; entry: TaskEntry; previous?: TaskEntry }
  /** Already ran: `entry.outcome` is its outcome. */
  | { kind: 'done'; entry: TaskEntry }
  /** Running now under a live dispatcher (another process, or another dispatch of this one). */
  | { kind: 'busy'; entry: TaskEntry };

/** A task an intake accepted and keeps until a dispatcher has settled it. */
export interface IntakeEntry {
  id: string;
  task: string;
  baseDir: string | null;
  source: string;
  submittedAt: string;
}

export interface TaskLedger {
  /** `retry`: also take a task whose run failed (`dispatch --retry`); never one that succeeded or runs under a live holder. */
  claim(task: { id: string; task: string; baseDir: string }, owner: string, options?: { retry?: boolean }): TaskClaim;
  /** Links the attempt to its run as soon as the run id is known; false when the claim is no longer ours. */
  linkRun(id: string, owner: string, runId: string): boolean;
  /** Records the end of our attempt; false when the claim is no longer ours. */
  finish(id: string, owner: string, outcome: TaskOutcome, state: 'succeeded' | 'failed' | 'interrupted', failure?: TaskFailure): boolean;
  /**
   * Gives a claim back without recording an outcome (a configuration error: the task
   * did not run). A first attempt's entry is deleted; a later one goes back to the
   * state it was claimed from.
   */
  unclaim(id: string, owner: string, previous: TaskEntry | undefined): boolean;
  get(id: string): TaskEntry | undefined;
  /** Newest first. */
  list(): TaskEntry[];

  /** Keeps an accepted task (idempotent by id); `at` defaults to now. */
  addIntake(entry: Omit<IntakeEntry, 'submittedAt'> & { submittedAt?: string }): IntakeEntry;
  removeIntake(id: string): boolean;
  /** Oldest first. */
  listIntake(source?: string): IntakeEntry[];
}

export interface TaskLedgerOptions {
  /** For tests; default `isPidAlive`. */
  isPidAlive?: (pid: number) => boolean;
  pid?: number;
  hostname?: string;
}

interface Row {
  id: string;
  task: string;
  base_dir: string;
  state: string;
  failure: string | null;
  run_id: string | null;
  outcome: string | null;
  attempts: number;
  pid: number;
  hostname: string;
  owner: string;
  claimed_at: string;
  updated_at: string;
}

interface IntakeRow {
  id: string;
  task: string;
  base_dir: string | null;
  source: string;
  submitted_at: string;
}

const toEntry = (r: Row): TaskEntry => {
  const e: TaskEntry = {
    id: r.id,
    task: r.task,
    baseDir: r.base_dir,
    state: r.state as TaskState,
    attempts: r.attempts,
    pid: r.pid,
    hostname: r.hostname,
    owner: r.owner,
    claimedAt: r.claimed_at,
    updatedAt: r.updated_at,
  };
  if (r.failure) e.failure = r.failure as TaskFailure;
  if (r.run_id) e.runId = r.run_id;
  if (r.outcome) e.outcome = JSON.parse(r.outcome) as TaskOutcome;
  return e;
};

const toIntake = (r: IntakeRow): IntakeEntry => ({
  id: r.id,
  task: r.task,
  baseDir: r.base_dir,
  source: r.source,
  submittedAt: r.submitted_at,
});

/**
 * Decides a claim against the stored entry. A `running` entry of ours (a task
 * that waited for its base dir) is ours again; one of this host whose pid is
 * gone (kill -9, crash) is abandoned and may be taken over; one of another host
 * is treated as live (no clock or pid to check it against). A failed entry runs
 * again when it failed for an infrastructure reason (or on `retry`).
 */
export function decideClaim(
  entry: TaskEntry | undefined,
  who: { owner: string; hostname: string; alive: (pid: number) => boolean; retry?: boolean },
): 'new' | 'done' | 'busy' | 'retake' {
  if (!entry) return 'new';
  if (entry.state === 'succeeded') return 'done';
  if (entry.state === 'failed') {
    const retryable = entry.failure === undefined ? false : RETRYABLE_FAILURES.includes(entry.failure);
    return retryable || who.retry === true ? 'retake' : 'done';
  }
  if (entry.state === 'interrupted') return 'retake';
  if (entry.owner === who.owner) return 'retake';
  if (entry.hostname !== who.hostname) return 'busy';
  return who.alive(entry.pid) ? 'busy' : 'retake';
}

/**
 * The ledger over a store's open database (`Store.tasks`); the store owns the
 * connection, its migrations and closing it.
 */
export function sqliteTaskLedger(db: Database.Database, location: string | undefined, options: TaskLedgerOptions = {}): TaskLedger {
  const alive = options.isPidAlive ?? isPidAlive;
  const pid = options.pid ?? process.pid;
  const hostname = options.hostname ?? os.hostname();
  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      const code = (cause as { code?: unknown }).code;
      throw new StoreError(`${location ?? 'task ledger'}: ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
        cause,
        hint: code === 'SQLITE_FULL' ? 'free some disk space' : undefined,
        context: { code },
      });
    }
  };
  const select = db.prepare<[string], Row>('SELECT * FROM dispatch_tasks WHERE id = ?');
  const insert = db.prepare(
    `INSERT INTO dispatch_tasks (id, task, base_dir, state, attempts, pid, hostname, owner, claimed_at, updated_at)
     VALUES (@id, @task, @baseDir, 'running', 1, @pid, @hostname, @owner, @at, @at)`,
  );
  const retake = db.prepare(
    `UPDATE dispatch_tasks SET state = 'running', attempts = attempts + @step, pid = @pid, hostname = @hostname, owner = @owner,
     claimed_at = @at, updated_at = @at WHERE id = @id`,
  );
  const link = db.prepare(
    `UPDATE dispatch_tasks SET run_id = @runId, updated_at = @at WHERE id = @id AND owner = @owner AND state = 'running'`,
  );
  const finishStmt = db.prepare(
    `UPDATE dispatch_tasks SET state = @state, failure = @failure, outcome = @outcome, run_id = COALESCE(@runId, run_id), updated_at = @at
     WHERE id = @id AND owner = @owner AND state = 'running'`,
  );
  const deleteOwned = db.prepare(`DELETE FROM dispatch_tasks WHERE id = ? AND owner = ? AND state = 'running'`);
  const restore = db.prepare(
    `UPDATE dispatch_tasks SET state = @state, failure = @failure, outcome = @outcome, attempts = @attempts, pid = @pid, hostname = @hostname,
     owner = @prevOwner, claimed_at = @claimedAt, updated_at = @updatedAt WHERE id = @id AND owner = @owner AND state = 'running'`,
  );
  const claimTx = db.transaction((task: { id: string; task: string; baseDir: string }, owner: string, retry: boolean): TaskClaim => {
    const before = select.get(task.id);
    const entry = before ? toEntry(before) : undefined;
    const at = new Date().toISOString();
    switch (decideClaim(entry, { owner, hostname, alive, retry })) {
      case 'done':
        return { kind: 'done', entry: entry as TaskEntry };
      case 'busy':
        return { kind: 'busy', entry: entry as TaskEntry };
      case 'new':
        insert.run({ id: task.id, task: task.task, baseDir: task.baseDir, pid, hostname, owner, at });
        return { kind: 'claimed', entry: toEntry(select.get(task.id) as Row) };
      default: {
        const prev = entry as TaskEntry;
        // After a busy base dir, or taking our own claim back, it is the same attempt, not a new one.
        const step =
          (prev.state === 'interrupted' && prev.failure === 'busy') || (prev.state === 'running' && prev.owner === owner) ? 0 : 1;
        retake.run({ id: task.id, pid, hostname, owner, at, step });
        return { kind: 'claimed', entry: toEntry(select.get(task.id) as Row), previous: prev };
      }
    }
  });
  const insertIntake = db.prepare(
    `INSERT INTO intake_tasks (id, task, base_dir, source, submitted_at) VALUES (@id, @task, @baseDir, @source, @submittedAt) ON CONFLICT (id) DO NOTHING`,
  );
  const selectIntake = db.prepare<[string], IntakeRow>('SELECT * FROM intake_tasks WHERE id = ?');
  return {
    claim: (task, owner, claimOptions = {}) => wrap('claim', () => claimTx.immediate(task, owner, claimOptions.retry === true)),
    linkRun: (id, owner, runId) => wrap('linkRun', () => link.run({ id, owner, runId, at: new Date().toISOString() }).changes === 1),
    finish: (id, owner, outcome, state, failure) =>
      wrap(
        'finish',
        () =>
          finishStmt.run({
            id,
            owner,
            state,
            failure: state === 'succeeded' ? null : (failure ?? (state === 'interrupted' ? 'interrupted' : 'run')),
            outcome: JSON.stringify(outcome),
            runId: outcome.runId ?? null,
            at: new Date().toISOString(),
          }).changes === 1,
      ),
    unclaim: (id, owner, previous) =>
      wrap('unclaim', () => {
        if (!previous || previous.state === 'running') return deleteOwned.run(id, owner).changes === 1;
        return (
          restore.run({
            id,
            owner,
            state: previous.state,
            failure: previous.failure ?? null,
            outcome: previous.outcome ? JSON.stringify(previous.outcome) : null,
            attempts: previous.attempts,
            pid: previous.pid,
            hostname: previous.hostname,
            prevOwner: previous.owner,
            claimedAt: previous.claimedAt,
            updatedAt: previous.updatedAt,
          }).changes === 1
        );
      }),
    get: (id) =>
      wrap('get', () => {
        const r = select.get(id);
        return r ? toEntry(r) : undefined;
      }),
    list: () => wrap('list', () => db.prepare<[], Row>('SELECT * FROM dispatch_tasks ORDER BY updated_at DESC, id').all().map(toEntry)),
    addIntake: (entry) =>
      wrap('addIntake', () => {
        insertIntake.run({
          id: entry.id,
          task: entry.task,
          baseDir: entry.baseDir,
          source: entry.source,
          submittedAt: entry.submittedAt ?? new Date().toISOString(),
        });
        return toIntake(selectIntake.get(entry.id) as IntakeRow);
      }),
    removeIntake: (id) => wrap('removeIntake', () => db.prepare('DELETE FROM intake_tasks WHERE id = ?').run(id).changes === 1),
    listIntake: (source) =>
      wrap('listIntake', () =>
        (source === undefined
          ? db.prepare<[], IntakeRow>('SELECT * FROM intake_tasks ORDER BY submitted_at, id').all()
          : db.prepare<[string], IntakeRow>('SELECT * FROM intake_tasks WHERE source = ? ORDER BY submitted_at, id').all(source)
        ).map(toIntake),
      ),
  };
}
