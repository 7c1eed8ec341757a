import { StoreError } from '../errors.js';
import type { RunRecord, Store, SubtaskRecord } from '../store/index.js';

/**
 * A person names a run (an id or a prefix of it) and a subtask (its id, branch
 * or worktree name); these find them or say, in one line with a hint, what is
 * wrong. `fail` makes the caller's own error (approval, retry), so each answer
 * keeps its error class and exit code.
 */
export type LookupFailure = (message: string, hint: string) => Error;

export function findRun(store: Store, runId: string, fail: LookupFailure): RunRecord {
  let run: RunRecord | undefined;
  try {
    run = store.getRun(runId);
  } catch (error) {
    // Several runs match an abbreviated id: say which, as a person's mistake.
    if (error instanceof StoreError) throw fail(error.message, 'give more of the run id');
    throw error;
  }
  if (!run) throw fail(`no run ${runId}`, 'see codex-orch runs list');
  return run;
}

/** The subtask by id, or by its worktree/branch name (`task-<slug>`). */
export function findSubtask(store: Store, run: RunRecord, taskId: string, fail: LookupFailure): SubtaskRecord {
  const subtasks = store.listSubtasks(run.id);
  const found =
    subtasks.find((t) => t.id === taskId) ??
    subtasks.find((t) => t.branch === taskId || (t.worktree !== undefined && t.worktree.split('/').pop() === taskId));
  if (!found)
    throw fail(
      `run ${run.id} has no subtask ${taskId}`,
      subtasks.length ? `its subtasks: ${subtasks.map((t) => t.id).join(', ')}` : 'it has no plan subtasks',
    );
  return found;
}
