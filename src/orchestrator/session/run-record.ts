/**
 * What a run writes to the store as it goes (commands, workers, merges, events)
 * and reads back from it (for a resumed run's report, `runs show`, `runs list`).
 * The store is the record; these helpers only translate.
 */
import path from 'node:path';
import { StoreError } from '../../errors.js';
import {
  acquireBaseDirLock,
  acquireRunLock,
  lockStaleness,
  newRunId,
  openSqliteStore,
  type LockHandle,
  type LockTakeover,
  runLockKey,
  type RunRecord,
  type Store,
  type WorkerStatus as StoreWorkerStatus,
} from '../../store/index.js';
import type { CommandLogEntry, CommandRequest, CommandResult } from '../../tools/run-repo-command/types.js';
import { mainHistory, takeSnapshot, type GitSnapshot } from '../report/git-snapshot.js';
import type { CommandRecord } from '../report/report.js';

/** The codex worker layer's outcome → the store's worker status. */
export function storeWorkerStatus(status: string, aborted = false): StoreWorkerStatus {
  switch (status) {
    case 'complete':
      return 'succeeded';
    case 'stuck':
      return 'stalled';
    case 'running':
      return 'running';
    case 'pending':
      return 'starting';
    default:
      return aborted ? 'aborted' : 'failed';
  }
}

/** A command record without the (possibly large) output, as kept in the store's event data. */
export function slimRecord(record: CommandRecord): CommandRecord {
  return { request: record.request, entry: record.entry, result: { ...record.result, stdout: '', stderr: '' } };
}

/** The worker id of a worker run dir (`…/workers/<workerId>`). */
export const workerIdOf = (runDir: string): string => path.basename(runDir);

/** Records one finished gateway call: the command row and, for a codex worker, the worker row. */
export function recordCommand(
  store: Store,
  runId: string,
  request: CommandRequest,
  result: CommandResult,
  entry: CommandLogEntry,
  aborted: boolean,
): void {
  store.transaction(() => {
    store.addCommand({
      runId,
      ts: entry.ts,
      worktree: request.worktree,
      command: request.command,
      allowed: entry.allowed,
      rule: entry.rule || undefined,
      reason: entry.reason,
      exitCode: entry.exitCode,
      durationMs: entry.durationMs,
      dryRun: entry.dryRun,
    });
    const w = result.worker;
    if (w) {
      store.upsertWorker({
        runId,
        workerId: workerIdOf(w.runDir),
        status: storeWorkerStatus(w.status, aborted),
        threadId: w.threadId,
        runDir: w.runDir,
        usage: { input: w.usage.inputTokens, output: w.usage.outputTokens, cachedInput: w.usage.cachedInputTokens },
        exitCode: result.exitCode,
        error: w.status === 'complete' ? null : w.summary || result.reason,
        endedAt: entry.ts,
      });
    }
  });
}

/**
 * Records the merges main gained since the run started (merge commits on its
 * first-parent line), each once: a branch the store already has as merged, or
 * a merge commit already recorded, is skipped. Returns the new records' branches.
 */
export async function syncMerges(store: Store, runId: string, baseDir: string, beforeHead: string | null): Promise<string[]> {
  const head = (await takeSnapshot(baseDir)).head;
  const history = await mainHistory(baseDir, beforeHead, head);
  const added: string[] = [];
  store.transaction(() => {
    const known = new Set(store.listMerges(runId).map((m) => m.sha));
    for (const m of history.merges) {
      const branch = m.branch ?? m.sha;
      if (known.has(m.sha) || store.hasMerged(runId, branch)) continue;
      store.addMerge({ runId, branch, outcome: 'merged', sha: m.sha, detail: m.subject });
      known.add(m.sha);
      added.push(branch);
    }
  });
  return added;
}

/** The store event data of a `run.started` event: the git snapshot the report compares against. */
export interface RunStartData {
  snapshot?: GitSnapshot;
}

/** The snapshot of main taken when the run first started (for a resumed run's report). */
export function initialSnapshot(store: Store, runId: string): GitSnapshot | undefined {
  const first = store.listEvents(runId, { limit: 50 }).find((e) => e.type === 'run.started');
  return (first?.data as RunStartData | undefined)?.snapshot;
}

/** The command records of earlier processes of the run (from the store's `command.finished` events). */
export function storedRecords(store: Store, runId: string): CommandRecord[] {
  const out: CommandRecord[] = [];
  for (const e of store.listEvents(runId)) {
    if (e.type !== 'command.finished') continue;
    const record = (e.data as { record?: CommandRecord } | null)?.record;
    if (record && record.request && record.entry && record.result) out.push(record);
  }
  return out;
}

/** How many model turns earlier processes of the run recorded. */
export function storedTurns(store: Store, runId: string): number {
  return store.listEvents(runId).filter((e) => e.type === 'agent.turn').length;
}

/** Whether the run's lock is held by a live process. */
export function runIsLive(store: Store, runId: string): boolean {
  const lock = store.getLock(runLockKey(runId));
  return lock !== undefined && lockStaleness(lock) === undefined;
}

/**
 * A run that says `running` (or `pending`) but whose process is gone — its run
 * lock is missing or stale — is `interrupted`; the store is corrected and the
 * fresh record returned.
 */
export function reconcileRunStatus(store: Store, run: RunRecord): RunRecord {
  if (run.status !== 'running' && run.status !== 'pending') return run;
  if (runIsLive(store, run.id)) return run;
  // Check under the lock itself so a run that just started is not marked.
  let handle;
  try {
    handle = acquireRunLock(store, run.id, { heartbeatMs: 0 });
  } catch {
    return store.requireRun(run.id);
  }
  try {
    const fresh = store.requireRun(run.id);
    if (fresh.status !== 'running' && fresh.status !== 'pending') return fresh;
    return store.updateRun(run.id, { status: 'interrupted' });
  } finally {
    handle.release();
  }
}

/** A run this process drives: the store, the record, and the locks it holds. */
export interface ActiveRun {
  store: Store;
  run: RunRecord;
  resumed: boolean;
  /** The stale run lock this process took over (a resume after a crash). */
  tookOver: LockTakeover | undefined;
  /** Releases the locks and closes the store when this process opened it (idempotent). */
  release(): void;
}

/**
 * Opens the store (unless given), takes the base-dir lock (two runs never work
 * one base dir at once) and the run lock (pid + heartbeat), and creates the run
 * — or, for a resume, takes over the run of `resume` (an id or a prefix), which
 * must not be held by a live process. Everything is written before it returns.
 */
export function beginRun(args: {
  store?: Store;
  stateDir: string;
  baseDir: string;
  task: string;
  model: string;
  dryRun: boolean;
  resume?: string;
  onLost?: (error: StoreError) => void;
}): ActiveRun {
  const owned = args.store === undefined;
  const store = args.store ?? openSqliteStore(args.stateDir);
  const locks: LockHandle[] = [];
  const release = () => {
    for (const l of locks.splice(0).reverse()) l.release();
    if (owned) {
      try {
        store.close();
      } catch {
        /* ignore */
      }
    }
  };
  const lockOptions = args.onLost ? { onLost: args.onLost } : {};
  try {
    if (args.resume !== undefined) {
      const found = store.requireRun(args.resume);
      if (found.status === 'succeeded') {
        throw new StoreError(`run ${found.id} already succeeded; there is nothing to resume`, {
          hint: `see codex-orch runs report ${found.id}`,
        });
      }
      const runLock = acquireRunLock(store, found.id, lockOptions);
      locks.push(runLock);
      locks.push(acquireBaseDirLock(store, found.baseDir, { ...lockOptions, runId: found.id }));
      const run = store.updateRun(found.id, { status: 'running', pid: process.pid, finishedAt: null, error: null });
      return { store, run, resumed: true, tookOver: runLock.tookOver, release };
    }
    const id = newRunId();
    locks.push(acquireBaseDirLock(store, args.baseDir, { ...lockOptions, runId: id }));
    locks.push(acquireRunLock(store, id, lockOptions));
    const run = store.createRun({
      id,
      task: args.task,
      baseDir: args.baseDir,
      status: 'running',
      pid: process.pid,
      model: args.model,
      dryRun: args.dryRun,
    });
    return { store, run, resumed: false, tookOver: undefined, release };
  } catch (error) {
    release();
    throw error;
  }
}
