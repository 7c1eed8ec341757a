/**
 * The executor's side of a person's retry (../retry-record.ts): a subtask
 * with a pending request starts again from main. Before its worktree is made,
 * the earlier attempt's worktree and branch are set aside (the branch kept as
 * `task-<slug>-attempt-<n>`, uncommitted files committed there first), the
 * request is settled in the store, and the subtask gets a new codex thread:
 * no thread of a worker from before the retry is resumed, also after a crash.
 */
import { setAsideAttempt } from '../../git/index.js';
import type { Store } from '../../store/index.js';
import { RETRY_RECORD, pendingRetries, recordRetryBegun, type PendingRetry } from '../retry-record.js';
import { short, type TaskRun } from './plan-types.js';
import type { StepContext } from './step-context.js';

/** The worker number each subtask had when its latest retry began (its new thread comes after it). */
function retryFloors(store: Store, runId: string): Map<string, number> {
  const floors = new Map<string, number>();
  for (const e of store.listEvents(runId)) {
    if (e.type !== RETRY_RECORD.begun) continue;
    const d = e.data as { taskId?: unknown; workerSeq?: unknown } | null;
    if (typeof d?.taskId === 'string' && typeof d.workerSeq === 'number') floors.set(d.taskId, d.workerSeq);
  }
  return floors;
}

export function createRetryStep(s: Pick<StepContext, 'ctx' | 'baseDir' | 'mainDir' | 'mainBranch' | 'decide' | 'withStore'>) {
  const store = s.ctx.store;
  const pending: Map<string, PendingRetry> = store ? pendingRetries(store, s.ctx.runId) : new Map<string, PendingRetry>();
  const floors = store ? retryFloors(store, s.ctx.runId) : new Map<string, number>();

  /** Workers numbered this or lower belong to attempts before a retry: their threads are not resumed. */
  const threadFloor = (id: string): number => (pending.has(id) ? Number.POSITIVE_INFINITY : (floors.get(id) ?? 0));

  /** Sets the earlier attempt aside and settles the request (nothing for a subtask without one). */
  const freshStart = async (t: TaskRun): Promise<void> => {
    const request = pending.get(t.id);
    if (!request) return;
    const aside = await setAsideAttempt(s.baseDir, t.slug, { mainDir: s.mainDir });
    pending.delete(t.id);
    t.threadId = null;
    t.mt.threadId = null;
    floors.set(t.id, t.workerSeq);
    s.withStore('retry', (st) =>
      recordRetryBegun(st, s.ctx.runId, {
        taskId: t.id,
        setAside: aside.branch,
        head: aside.head,
        savedUncommitted: aside.savedUncommitted,
        workerSeq: t.workerSeq,
      }),
    );
    s.decide(
      'schedule',
      'retry',
      `retry requested at ${request.at} (it was ${request.from}); ${
        aside.branch
          ? `the earlier attempt is kept as branch ${aside.branch} (${short(aside.head)})${aside.savedUncommitted ? ', its uncommitted files committed there first' : ''}`
          : 'it had no branch'
      }; starting again from ${s.mainBranch} on a new thread`,
      t.id,
      { setAside: aside.branch, head: aside.head, from: request.from },
    );
  };

  return { threadFloor, freshStart };
}
