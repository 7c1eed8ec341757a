/**
 * The dispatcher's idempotency ledger: a task id (given, or a content hash) runs
 * once per state dir, across dispatcher invocations and processes.
 *
 * It is the dispatcher's own small table in `<stateDir>/dispatch.db` (SQLite,
 * WAL), not a row in the run store: runOrchestrator creates and owns its run
 * record, so the dispatcher only links a task id to the run id it got back.
 * Every claim is one IMMEDIATE transaction, so two dispatchers never both run
 * a task.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { isPidAlive } from '../store/run-lock.js';
import { isInterrupted } from './dispatch.js';
import type { DispatchOutcome, RunTask } from './types.js';

export const LEDGER_DB = 'dispatch.db';

/** `running`: claimed by a live dispatcher; `interrupted`: stopped by an abort or a dead dispatcher, may run again. */
export type LedgerState = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface LedgerEntry {
  id: string;
  task: string;
  baseDir: string;
  state: LedgerState;
  /** The orchestrator run of the latest attempt, once known. */
  runId?: string;
  /** The outcome of the finished (or interrupted) attempt. */
  outcome?: DispatchOutcome;
  /** How many times it was claimed to run. */
  attempts: number;
  pid: number;
  hostname: string;
  owner: string;
  claimedAt: string;
  updatedAt: string;
}

export type LedgerClaim =
  /** Ours to run now; `previous` is the interrupted or abandoned attempt it continues. */
  | { kind: 'claimed'; entry: LedgerEntry; previous?: LedgerEntry }
  /** Already ran: `entry.outcome` is its outcome. */
  | { kind: 'done'; entry: LedgerEntry }
  /** Running now under a live dispatcher (another process, or another dispatch of this one). */
  | { kind: 'busy'; entry: LedgerEntry };

export interface DispatchLedger {
  readonly location: string | undefined;
  claim(task: { id: string; task: string; baseDir: string }, owner: string): LedgerClaim;
  /** Records the end of our attempt; false when the claim is no longer ours. */
  finish(id: string, owner: string, outcome: DispatchOutcome, state: 'succeeded' | 'failed' | 'interrupted'): boolean;
  get(id: string): LedgerEntry | undefined;
  list(): LedgerEntry[];
  close(): void;
}

export interface LedgerOptions {
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
  run_id: string | null;
  outcome: string | null;
  attempts: number;
  pid: number;
  hostname: string;
  owner: string;
  claimed_at: string;
  updated_at: string;
}

const toEntry = (r: Row): LedgerEntry => ({
  id: r.id,
  task: r.task,
  baseDir: r.base_dir,
  state: r.state as LedgerState,
  ...(r.run_id ? { runId: r.run_id } : {}),
  ...(r.outcome ? { outcome: JSON.parse(r.outcome) as DispatchOutcome } : {}),
  attempts: r.attempts,
  pid: r.pid,
  hostname: r.hostname,
  owner: r.owner,
  claimedAt: r.claimed_at,
  updatedAt: r.updated_at,
});

/**
 * Decides a claim against the stored entry. A `running` entry of this host
 * whose pid is gone (kill -9, crash) is abandoned and may be taken over; one of
 * another host is treated as live (no clock or pid to check it against).
 */
function decide(entry: LedgerEntry | undefined, alive: (pid: number) => boolean, hostname: string): 'new' | 'done' | 'busy' | 'retake' {
  if (!entry) return 'new';
  if (entry.state === 'succeeded' || entry.state === 'failed') return 'done';
  if (entry.state === 'interrupted') return 'retake';
  if (entry.hostname !== hostname) return 'busy';
  return alive(entry.pid) ? 'busy' : 'retake';
}

/** The SQLite ledger at `<stateDir>/dispatch.db` (created on first use). */
export function openDispatchLedger(stateDir: string, options: LedgerOptions = {}): DispatchLedger {
  fs.mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, LEDGER_DB);
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS dispatch_tasks (
      id TEXT PRIMARY KEY, task TEXT NOT NULL, base_dir TEXT NOT NULL, state TEXT NOT NULL,
      run_id TEXT, outcome TEXT, attempts INTEGER NOT NULL, pid INTEGER NOT NULL, hostname TEXT NOT NULL,
      owner TEXT NOT NULL, claimed_at TEXT NOT NULL, updated_at TEXT NOT NULL
    ) STRICT`);
  } catch (cause) {
    throw new StoreError(`cannot open the dispatch ledger ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const alive = options.isPidAlive ?? isPidAlive;
  const pid = options.pid ?? process.pid;
  const hostname = options.hostname ?? os.hostname();
  const select = db.prepare<[string], Row>('SELECT * FROM dispatch_tasks WHERE id = ?');
  const insert = db.prepare(
    `INSERT INTO dispatch_tasks (id, task, base_dir, state, attempts, pid, hostname, owner, claimed_at, updated_at)
     VALUES (@id, @task, @baseDir, 'running', 1, @pid, @hostname, @owner, @at, @at)`,
  );
  const retake = db.prepare(
    `UPDATE dispatch_tasks SET state = 'running', attempts = attempts + 1, pid = @pid, hostname = @hostname, owner = @owner,
     claimed_at = @at, updated_at = @at WHERE id = @id`,
  );
  const finishStmt = db.prepare(
    `UPDATE dispatch_tasks SET state = @state, outcome = @outcome, run_id = COALESCE(@runId, run_id), updated_at = @at
     WHERE id = @id AND owner = @owner AND state = 'running'`,
  );
  const claimTx = db.transaction((task: { id: string; task: string; baseDir: string }, owner: string): LedgerClaim => {
    const before = select.get(task.id);
    const entry = before ? toEntry(before) : undefined;
    const at = new Date().toISOString();
    switch (decide(entry, alive, hostname)) {
      case 'done':
        return { kind: 'done', entry: entry as LedgerEntry };
      case 'busy':
        return { kind: 'busy', entry: entry as LedgerEntry };
      case 'new':
        insert.run({ id: task.id, task: task.task, baseDir: task.baseDir, pid, hostname, owner, at });
        return { kind: 'claimed', entry: toEntry(select.get(task.id) as Row) };
      default:
        retake.run({ id: task.id, pid, hostname, owner, at });
        return { kind: 'claimed', entry: toEntry(select.get(task.id) as Row), previous: entry as LedgerEntry };
    }
  });
  return {
    location: file,
    claim: (task, owner) => claimTx.immediate(task, owner),
    finish: (id, owner, outcome, state) =>
      finishStmt.run({ id, owner, state, outcome: JSON.stringify(outcome), runId: outcome.runId ?? null, at: new Date().toISOString() }).changes === 1,
    get: (id) => {
      const r = select.get(id);
      return r ? toEntry(r) : undefined;
    },
    list: () => db.prepare<[], Row>('SELECT * FROM dispatch_tasks ORDER BY updated_at DESC, id').all().map(toEntry),
    close: () => db.close(),
  };
}

/** A ledger in memory (tests, benchmarks, `--no-ledger`-like embeddings): the same rules within one process. */
export function createMemoryLedger(options: LedgerOptions = {}): DispatchLedger {
  const rows = new Map<string, LedgerEntry>();
  const alive = options.isPidAlive ?? isPidAlive;
  const pid = options.pid ?? process.pid;
  const hostname = options.hostname ?? os.hostname();
  const copy = (e: LedgerEntry): LedgerEntry => JSON.parse(JSON.stringify(e)) as LedgerEntry;
  return {
    location: undefined,
    claim(task, owner) {
      const entry = rows.get(task.id);
      const at = new Date().toISOString();
      const decision = decide(entry, alive, hostname);
      if (decision === 'done' || decision === 'busy') return { kind: decision, entry: copy(entry as LedgerEntry) };
      const next: LedgerEntry = {
        id: task.id,
        task: entry?.task ?? task.task,
        baseDir: entry?.baseDir ?? task.baseDir,
        state: 'running',
        ...(entry?.runId ? { runId: entry.runId } : {}),
        ...(entry?.outcome ? { outcome: entry.outcome } : {}),
        attempts: (entry?.attempts ?? 0) + 1,
        pid,
        hostname,
        owner,
        claimedAt: at,
        updatedAt: at,
      };
      rows.set(task.id, next);
      return entry ? { kind: 'claimed', entry: copy(next), previous: copy(entry) } : { kind: 'claimed', entry: copy(next) };
    },
    finish(id, owner, outcome, state) {
      const entry = rows.get(id);
      if (!entry || entry.owner !== owner || entry.state !== 'running') return false;
      rows.set(id, { ...entry, state, outcome: { ...outcome }, ...(outcome.runId ? { runId: outcome.runId } : {}), updatedAt: new Date().toISOString() });
      return true;
    },
    get: (id) => {
      const e = rows.get(id);
      return e ? copy(e) : undefined;
    },
    list: () => [...rows.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : a.id.localeCompare(b.id))).map(copy),
    close: () => undefined,
  };
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
export function ledgerSet(stateDirOf: (baseDir: string) => string, open: (stateDir: string) => DispatchLedger = (d) => openDispatchLedger(d)): LedgerSet {
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
    ...(entry.runId ? { runId: entry.runId } : {}),
    ...(o?.error ? { error: o.error } : {}),
    duplicate: true,
    interrupted: false,
  };
}

/**
 * Wraps a RunTask so that a task id runs once per ledger: a task already run
 * gets its earlier outcome back (`duplicate: true`, nothing runs); one running
 * under another live dispatcher is answered `failed` with the reason; an
 * interrupted or abandoned one runs again. The ledger entry is closed with the
 * outcome (`interrupted` when the abort stopped it or the runner threw, so it
 * may run again).
 */
export function withIdempotency(runTask: RunTask, ledgers: Pick<LedgerSet, 'forBaseDir'>, owner: string): RunTask {
  return async (task, signal) => {
    const ledger = ledgers.forBaseDir(task.baseDir);
    const claim = ledger.claim(task, owner);
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
      };
    }
    let outcome: DispatchOutcome;
    try {
      outcome = await runTask(task, signal);
    } catch (error) {
      // The runner could not run it (it rejects rather than reporting a failed run): not a run, so it may be tried again.
      const reason = error instanceof Error ? error.message : String(error);
      ledger.finish(task.id, owner, { status: 'failed', merges: 0, tokens: 0, durationMs: 0, error: reason }, 'interrupted');
      throw error;
    }
    const state = isInterrupted(outcome, signal) ? 'interrupted' : outcome.status;
    ledger.finish(task.id, owner, outcome, state);
    return { ...outcome, interrupted: state === 'interrupted' };
  };
}
