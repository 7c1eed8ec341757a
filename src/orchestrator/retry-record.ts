/**
 * A person's retry of one subtask, as records in the run store (like the
 * approval gate), so that the person asking (`codex-orch runs retry`, the
 * dashboard, the MCP server) and the process that runs the plan again need
 * not be the same process, and a request survives until a process acts on it.
 *
 * The records (store events, `data.taskId` naming the subtask):
 *   retry.request {from, reason, attempts, branch, threadId}
 *                 → written by `retrySubtask` (retry.ts) under the run lock,
 *                   together with the subtask reset to `pending`
 *   retry.begun   {setAside, head, savedUncommitted, workerSeq}
 *                 → written by the executor when it starts that subtask again
 *                   on a fresh branch from main (the earlier attempt's branch
 *                   is kept under another name; see git/set-aside.ts)
 * A request with no later `begun` of the same subtask is pending.
 */
import type { Store } from '../store/index.js';

export const RETRY_RECORD = {
  request: 'retry.request',
  begun: 'retry.begun',
} as const;

/** What a subtask was when a person asked to retry it. */
export interface RetryRequestData {
  taskId: string;
  from: string;
  reason: string | null;
  attempts: number;
  branch: string | null;
  threadId: string | null;
}

export interface PendingRetry extends RetryRequestData {
  seq: number;
  at: string;
}

export interface RetryBegunData {
  taskId: string;
  /** The name the earlier attempt's branch is kept under (null when it had none). */
  setAside: string | null;
  /** Its head (the earlier attempt's last commit). */
  head: string | null;
  /** The commit of the worktree's uncommitted files, made so that nothing is lost (null when it was clean). */
  savedUncommitted: string | null;
  /** The highest worker number of the subtask before this start: later workers belong to the retry. */
  workerSeq: number;
}

const taskOf = (data: unknown): string | null => {
  const v = data !== null && typeof data === 'object' ? (data as { taskId?: unknown }).taskId : undefined;
  return typeof v === 'string' && v !== '' ? v : null;
};

/** The retries of a run's subtasks that no executor has begun yet, by subtask id. */
export function pendingRetries(store: Store, runId: string): Map<string, PendingRetry> {
  const pending = new Map<string, PendingRetry>();
  for (const e of store.listEvents(runId)) {
    if (e.type !== RETRY_RECORD.request && e.type !== RETRY_RECORD.begun) continue;
    const taskId = taskOf(e.data);
    if (!taskId) continue;
    if (e.type === RETRY_RECORD.begun) pending.delete(taskId);
    else pending.set(taskId, { ...(e.data as RetryRequestData), taskId, seq: e.seq, at: e.ts });
  }
  return pending;
}

/** Records a retry request; the caller holds the run lock and resets the subtask in the same transaction. */
export function recordRetryRequest(store: Store, runId: string, data: RetryRequestData): PendingRetry {
  const e = store.appendEvent(runId, { type: RETRY_RECORD.request, data });
  return { ...data, seq: e.seq, at: e.ts };
}

/** The executor started the subtask again from main: the request is settled. */
export function recordRetryBegun(store: Store, runId: string, data: RetryBegunData): void {
  store.appendEvent(runId, { type: RETRY_RECORD.begun, data });
}
