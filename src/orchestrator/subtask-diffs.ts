/**
 * What a subtask's branch changes against the base it forked from — before the
 * merge (what an approval lets in) or, once merged, what its merge commit
 * brought in. `codex-orch runs diff` prints these.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { branchDiff, currentBranch, resolveCommit, type BranchDiff, type FileDiff } from '../git/index.js';
import type { RunRecord, Store, SubtaskRecord } from '../store/index.js';

export interface SubtaskDiff {
  taskId: string;
  title: string;
  status: string;
  branch: string;
  /** True when the diff is of the subtask's merge commit (its branch is in main). */
  merged: boolean;
  base: string;
  head: string;
  files: FileDiff[];
}

/** The subtask by id, or by its worktree/branch name (`task-<slug>`). */
function pickSubtasks(store: Store, run: RunRecord, task: string | undefined): SubtaskRecord[] {
  const all = store.listSubtasks(run.id);
  if (task === undefined) {
    const withBranch = all.filter((t) => t.branch);
    if (withBranch.length === 0)
      throw new UsageError(`run ${run.id} has no subtask with a branch yet`, { hint: 'a subtask gets its branch when its worker starts' });
    return withBranch;
  }
  const found = all.find((t) => t.id === task) ?? all.find((t) => t.branch === task || (t.worktree && path.basename(t.worktree) === task));
  if (!found)
    throw new UsageError(`run ${run.id} has no subtask ${task}`, {
      hint: all.length ? `its subtasks: ${all.map((t) => t.id).join(', ')}` : 'it has no plan subtasks',
    });
  if (!found.branch) throw new UsageError(`subtask ${found.id} has no branch yet (it is ${found.status})`);
  return [found];
}

export async function subtaskDiffs(store: Store, run: RunRecord, task: string | undefined): Promise<SubtaskDiff[]> {
  const mainDir = path.join(run.baseDir, 'main');
  const mainBranch = (await currentBranch(mainDir)) ?? 'HEAD';
  const merges = store.listMerges(run.id);
  const out: SubtaskDiff[] = [];
  for (const t of pickSubtasks(store, run, task)) {
    const branch = t.branch as string;
    const merge = [...merges].reverse().find((m) => m.branch === branch && m.outcome === 'merged' && m.sha);
    let d: BranchDiff;
    let merged = false;
    // A merge commit's second parent is the branch as merged; its first, main just before.
    if (merge?.sha && store.hasMerged(run.id, branch) && (await resolveCommit(mainDir, `${merge.sha}^2`))) {
      d = await branchDiff(mainDir, `${merge.sha}^1`, `${merge.sha}^2`);
      merged = true;
    } else {
      d = await branchDiff(mainDir, mainBranch, branch);
    }
    out.push({ taskId: t.id, title: t.title, status: t.status, branch, merged, base: d.base, head: d.head, files: d.files });
  }
  return out;
}
