/**
 * A person's retry of one subtask of a plan run that failed or got stuck:
 * `codex-orch runs retry`, the dashboard's Retry button, the MCP server's
 * `retry_subtask`. The run must not be live (its process would not see the
 * change: stop it first). Under the run lock the store records the request
 * (retry-record.ts) and resets the subtask to `pending` — in the store and
 * in the saved manifest, which a resume reads — with no codex thread and no
 * branch, so the next process of the run starts it again from main on a new
 * thread; its dependents that were blocked by it become runnable again. Its
 * earlier workers, events, decisions and merge records stay as they were, and
 * its attempt count goes on (the next start is attempt n+1). Then, when the
 * caller passes `resume`, the run is started again (the dashboard and the CLI
 * start `codex-orch runs resume` in the background).
 */
import { RetryError, StoreError } from '../errors.js';
import { createSchedule, type Manifest, type ManifestTask } from '../scheduler/index.js';
import { acquireRunLock, runLockKey, type RunRecord, type Store, type SubtaskRecord, type SubtaskStatus } from '../store/index.js';
import { now } from './events.js';
import { runManifest, saveManifest } from './plan/manifest-file.js';
import { recordRetryRequest } from './retry-record.js';
import { findRun, findSubtask, type LookupFailure } from './run-lookup.js';
import { runIsLive } from './session/run-record.js';
import { runStartInfo } from './session/run-session.js';

const notFound: LookupFailure = (message, hint) => new RetryError('not-found', message, { hint });

/** The statuses a person may retry: a subtask the executor gave up on. */
export const RETRYABLE_STATUSES: readonly SubtaskStatus[] = ['error', 'stuck'];

/** Whether the dashboard offers Retry on this subtask (the run must also not be live). */
export const isRetryable = (t: Pick<SubtaskRecord, 'status'>): boolean => RETRYABLE_STATUSES.includes(t.status);

export interface RetrySubtaskOptions<R> {
  store: Store;
  /** The state dir of the store (the run directory holds the manifest a resume reads). */
  stateDir: string;
  /** Run id or an unambiguous prefix. */
  runId: string;
  /** Subtask id, or its worktree/branch name (`task-<slug>`). */
  taskId: string;
  /** Starts the run again once the retry is recorded; not called when omitted. */
  resume?: (run: RunRecord) => R | Promise<R>;
}

export interface RetryResult<R> {
  runId: string;
  taskId: string;
  /** Its status before the retry. */
  previous: SubtaskStatus;
  previousReason: string | null;
  /** How many times it was started so far (the retry is start n+1). */
  attempts: number;
  /** Dependents that were blocked by it and are pending again. */
  unblocked: string[];
  at: string;
  /** What `resume` returned (null without one). */
  resumed: R | null;
  /** One line: what happens now. */
  next: string;
}

/** Why a subtask in this status cannot be retried, or null when it can. */
function refusal(run: RunRecord, t: SubtaskRecord, live: boolean, store: Store): RetryError | null {
  const what = `subtask ${t.id} of run ${run.id}`;
  switch (t.status) {
    case 'error':
    case 'stuck':
      return null;
    case 'merged':
      return new RetryError('conflict', `${what} is merged already; there is nothing to retry`);
    case 'running':
      return live
        ? new RetryError('conflict', `${what} is running now`, { hint: 'wait for it to finish, or stop the run first' })
        : new RetryError('conflict', `${what} was running when the run stopped`, {
            hint: `resume the run (it restarts it): codex-orch runs resume ${run.id}`,
          });
    case 'complete':
    case 'awaiting_approval':
      return new RetryError('conflict', `${what} is ${t.status}: its branch is ready for the merge queue`, {
        hint: `resume the run (or codex-orch runs merge ${run.id}) to merge it`,
      });
    case 'blocked': {
      const failed = store
        .listSubtasks(run.id)
        .filter((d) => t.dependsOn.includes(d.id) && isRetryable(d))
        .map((d) => d.id);
      return new RetryError('conflict', `${what} is blocked${t.reason ? ` (${t.reason})` : ''}; it runs once what it waits for does`, {
        hint: failed.length ? `retry ${failed.join(', ')}` : `resume the run: codex-orch runs resume ${run.id}`,
      });
    }
    case 'pending':
      return new RetryError('conflict', `${what} has not run yet (pending)`, {
        hint: `resume the run to start it: codex-orch runs resume ${run.id}`,
      });
  }
}

function liveRefusal(store: Store, run: RunRecord): RetryError {
  const lock = store.getLock(runLockKey(run.id));
  return new RetryError('conflict', `run ${run.id} is live${lock ? ` (pid ${lock.pid} on ${lock.hostname})` : ''}; stop it first`, {
    hint: `its process does not take retries while it runs: codex-orch runs retry ${run.id} <task> after it stopped`,
  });
}

/** The subtask reset for a fresh start, and the dependents the scheduler no longer derives as blocked. */
function resetManifest(manifest: Manifest, taskId: string, reason: string): { changed: ManifestTask[]; unblocked: string[] } {
  const tasks = manifest.phases.flatMap((p) => p.tasks);
  const mt = tasks.find((t) => t.id === taskId);
  if (!mt) throw new RetryError('conflict', `the saved plan of this run has no subtask ${taskId}`);
  Object.assign(mt, { status: 'pending', reason, threadId: null, worktree: null, branch: null, startedAt: null, endedAt: null });
  const derived = createSchedule(manifest, { wip: Number.POSITIVE_INFINITY }).tasks;
  const unblocked: string[] = [];
  for (const t of tasks) {
    const s = derived[t.id];
    if (!s || t.id === taskId || (s.status === t.status && s.reason === t.reason)) continue;
    if (t.status === 'blocked' && s.status === 'pending') unblocked.push(t.id);
    t.status = s.status;
    t.reason = s.reason;
  }
  return { changed: [mt, ...tasks.filter((t) => unblocked.includes(t.id))], unblocked };
}

/**
 * Makes a failed or stuck subtask of a plan run run again (see the top of the
 * file). Throws RetryError (`not-found`: unknown run or subtask; `conflict`:
 * merged, running, complete, blocked, pending, a live run, a run that is not
 * a plan run). Resolves once the retry is recorded and `resume` (if any) returned.
 */
export async function retrySubtask<R = never>(options: RetrySubtaskOptions<R>): Promise<RetryResult<R>> {
  const { store } = options;
  const run = findRun(store, options.runId, notFound);
  const first = findSubtask(store, run, options.taskId, notFound);
  const early = refusal(run, first, runIsLive(store, run.id), store);
  if (early) throw early;
  if (runStartInfo(store, run.id).road !== 'plan')
    throw new RetryError('conflict', `run ${run.id} is not a plan run (run --plan); its orchestrator agent decides what to redo`, {
      hint: `resume it: codex-orch runs resume ${run.id}`,
    });
  if (runIsLive(store, run.id)) throw liveRefusal(store, run);

  // Under the run lock no process of the run writes the manifest or the rows while they are reset.
  let lock;
  try {
    lock = acquireRunLock(store, run.id, { heartbeatMs: 0 });
  } catch (error) {
    if (error instanceof StoreError) throw liveRefusal(store, run);
    throw error;
  }
  let result: Omit<RetryResult<R>, 'resumed' | 'next'>;
  try {
    const t = findSubtask(store, run, first.id, notFound);
    const late = refusal(run, t, false, store);
    if (late) throw late;
    const { manifest, manifestFile } = runManifest(options.stateDir, store.requireRun(run.id));
    const at = now();
    const reason = `retry requested at ${at} (it was ${t.status}${t.reason ? `: ${t.reason.split('\n')[0]}` : ''}); it starts again from main`;
    const { changed, unblocked } = resetManifest(manifest, t.id, reason);
    store.transaction(() => {
      recordRetryRequest(store, run.id, {
        taskId: t.id,
        from: t.status,
        reason: t.reason ?? null,
        attempts: t.attempts,
        branch: t.branch ?? null,
        threadId: t.threadId ?? null,
      });
      for (const c of changed) {
        // The retried subtask starts over (null clears a column); the others keep theirs (undefined leaves it).
        const cleared = c.id === t.id ? null : undefined;
        store.upsertSubtask({
          runId: run.id,
          id: c.id,
          status: c.status,
          reason: c.reason,
          threadId: cleared,
          worktree: cleared,
          branch: cleared,
          startedAt: cleared,
          endedAt: cleared,
        });
        // The same event a run emits on a status change, so a page that follows the run recolours the node now.
        store.appendEvent(run.id, {
          type: 'subtask.status',
          ts: at,
          data: { type: 'subtask.status', ts: at, taskId: c.id, status: c.status, reason: c.reason, attempts: c.attempts },
        });
      }
      store.updateRun(run.id, { manifest });
    });
    // The store first, then the file a resume reads (as the executor saves), so the file never claims more.
    saveManifest(manifestFile, manifest);
    result = {
      runId: run.id,
      taskId: t.id,
      previous: t.status,
      previousReason: t.reason ?? null,
      attempts: t.attempts,
      unblocked,
      at,
    };
  } finally {
    lock.release();
  }
  if (!options.resume) {
    return { ...result, resumed: null, next: `the run is not running; continue it with: codex-orch runs resume ${run.id}` };
  }
  const resumed = await options.resume(store.requireRun(run.id));
  return { ...result, resumed, next: `the run resumes and starts ${result.taskId} again from main` };
}
