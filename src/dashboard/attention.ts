import type { MergeRecord, RunRecord, SubtaskRecord } from '../store/index.js';
import type { EventRecord } from '../store/index.js';

/** Something in a run that waits for a person, with the actions that settle it. */
export interface AttentionItem {
  kind: 'interrupted' | 'stuck' | 'error' | 'smoke-failed' | 'conflict' | 'budget' | 'approval';
  taskId?: string;
  message: string;
  actions: ('resume' | 'retry' | 'approve' | 'reject')[];
}

/** The latest merge record of each branch. */
function latestMerges(merges: readonly MergeRecord[]): Map<string, MergeRecord> {
  const out = new Map<string, MergeRecord>();
  for (const m of merges) out.set(m.subtaskId ?? m.branch, m);
  return out;
}

/**
 * What needs the user: a run that stopped before it finished, a subtask that is
 * stuck or failed, a merge whose smoke test or conflict is unresolved, a budget
 * that stopped the plan, a merge that waits for approval.
 */
export function attentionItems(
  run: RunRecord,
  subtasks: readonly SubtaskRecord[],
  merges: readonly MergeRecord[],
  events: readonly EventRecord[],
  waitingApproval: readonly string[] = [],
  /** Whether the run's process is alive: it takes no retry then (stop it first). */
  live = false,
): AttentionItem[] {
  const items: AttentionItem[] = [];
  if (run.status === 'interrupted' || run.status === 'aborted') {
    items.push({
      kind: 'interrupted',
      message: `the run is ${run.status}${run.error ? `: ${run.error}` : ''}; resume it to go on`,
      actions: ['resume'],
    });
  }
  const last = latestMerges(merges);
  for (const t of subtasks) {
    if (waitingApproval.includes(t.id))
      items.push({
        kind: 'approval',
        taskId: t.id,
        message: `${t.id} passed review and waits for your approval to merge`,
        actions: ['approve', 'reject'],
      });
    if (t.status === 'stuck' || t.status === 'error') {
      items.push({
        kind: t.status,
        taskId: t.id,
        message: `${t.id} is ${t.status}${t.reason ? `: ${t.reason}` : ''}${live ? ' (stop the run to retry it)' : ''}`,
        actions: live ? [] : ['retry'],
      });
    }
    const m = last.get(t.id) ?? (t.branch ? last.get(t.branch) : undefined);
    if (t.status !== 'merged' && m && (m.outcome === 'smoke-failed' || m.outcome === 'conflict')) {
      items.push({
        kind: m.outcome,
        taskId: t.id,
        message: `${t.id}: ${m.outcome === 'smoke-failed' ? 'the smoke test failed after merging' : 'merge conflict'}${m.detail ? ` (${m.detail.split('\n')[0]})` : ''}`,
        actions: [],
      });
    }
  }
  for (const e of events) {
    const d = e.data as { stoppedBy?: unknown } | null;
    if (e.type === 'plan.finished' && d && typeof d.stoppedBy === 'string' && d.stoppedBy) {
      items.push({
        kind: 'budget',
        message: `the plan was stopped by ${d.stoppedBy}`,
        actions: run.status === 'succeeded' ? [] : ['resume'],
      });
    }
  }
  return items;
}
