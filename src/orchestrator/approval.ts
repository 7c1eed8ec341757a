/**
 * A person's side of the merge gate (`run --approve`): see what waits, approve
 * a subtask's merge, or reject it with a note that goes back to its worker on
 * its codex thread. Used by `codex-orch runs approve|reject`, `runs list`, the
 * dashboard and the MCP server; works whether or not the run's process is
 * alive (the decision is in the store; a resumed run picks it up).
 */
import { ApprovalError } from '../errors.js';
import type { RunRecord, RunStatus, Store, SubtaskRecord } from '../store/index.js';
import { gateStates, recordDecision, type ApprovalDecision } from './approval-gate.js';
import { findRun, findSubtask, type LookupFailure } from './run-lookup.js';
import { runIsLive } from './session/run-record.js';

const notFound: LookupFailure = (message, hint) => new ApprovalError(message, { hint });

export interface PendingApproval {
  runId: string;
  taskId: string;
  title: string;
  branch: string | null;
  worktree: string | null;
  /** The branch head the person is asked about. */
  head: string | null;
  /** When the wait began (null when its record is missing). */
  requestedAt: string | null;
  runStatus: RunStatus;
  /** Whether the run's process is alive to act on a decision now. */
  live: boolean;
}

export interface ApprovalResult {
  runId: string;
  taskId: string;
  decision: ApprovalDecision;
  note: string | null;
  /** The branch head that was decided on. */
  head: string | null;
  at: string;
  live: boolean;
  /** One line: what happens now. */
  next: string;
}

function notWaiting(run: RunRecord, t: SubtaskRecord, waiting: string[]): ApprovalError {
  return new ApprovalError(`subtask ${t.id} of run ${run.id} is not waiting for approval (it is ${t.status})`, {
    hint: waiting.length ? `waiting: ${waiting.join(', ')}` : 'nothing in this run waits for approval',
  });
}

function decide(store: Store, runId: string, taskId: string, decision: ApprovalDecision, note: string | null): ApprovalResult {
  const run = findRun(store, runId, notFound);
  const event = store.transaction(() => {
    const t = findSubtask(store, run, taskId, notFound);
    if (t.status !== 'awaiting_approval') {
      throw notWaiting(
        run,
        t,
        store
          .listSubtasks(run.id)
          .filter((s) => s.status === 'awaiting_approval')
          .map((s) => s.id),
      );
    }
    const st = gateStates(store, run.id).get(t.id);
    const head = st?.kind === 'requested' ? st.head : null;
    return { record: recordDecision(store, run.id, t.id, decision, note, head), taskId: t.id, head };
  });
  const live = runIsLive(store, run.id);
  const next = live
    ? decision === 'approved'
      ? 'the run merges it now'
      : 'the run sends the note to its worker, then asks again'
    : `the run is not running; continue it with: codex-orch resume ${run.id}`;
  return { runId: run.id, taskId: event.taskId, decision, note, head: event.head, at: event.record.ts, live, next };
}

/** Lets a waiting subtask's branch be merged. */
// Async so that a store behind a network (or the dashboard's server) can implement it later without a signature change.
export async function approveMerge(store: Store, runId: string, taskId: string): Promise<ApprovalResult> {
  return Promise.resolve().then(() => decide(store, runId, taskId, 'approved', null));
}

/** Sends a waiting subtask back to its worker with `note`; it is asked about again after the rework. */
export async function rejectMerge(store: Store, runId: string, taskId: string, note: string): Promise<ApprovalResult> {
  const trimmed = note.trim();
  if (trimmed === '') throw new ApprovalError('a rejection needs a note for the worker', { hint: 'say what to change: --note "…"' });
  return Promise.resolve().then(() => decide(store, runId, taskId, 'rejected', trimmed));
}

/** Every subtask waiting for approval (of one run, or of every run in the store), oldest wait first. */
export function pendingApprovals(store: Store, runId?: string): PendingApproval[] {
  const runs = runId === undefined ? store.listRuns() : [findRun(store, runId, notFound)];
  const out: PendingApproval[] = [];
  for (const run of runs) {
    const waiting = store.listSubtasks(run.id).filter((t) => t.status === 'awaiting_approval');
    if (waiting.length === 0) continue;
    const states = gateStates(store, run.id);
    const live = runIsLive(store, run.id);
    for (const t of waiting) {
      const st = states.get(t.id);
      out.push({
        runId: run.id,
        taskId: t.id,
        title: t.title,
        branch: t.branch ?? (st?.kind === 'requested' ? st.branch : null),
        worktree: t.worktree ?? null,
        head: st?.kind === 'requested' ? st.head : null,
        requestedAt: st?.kind === 'requested' ? st.at : null,
        runStatus: run.status,
        live,
      });
    }
  }
  return out.sort((a, b) => (a.requestedAt ?? '').localeCompare(b.requestedAt ?? ''));
}
