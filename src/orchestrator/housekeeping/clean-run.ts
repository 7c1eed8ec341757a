import { StoreError, isOrchestratorError } from '../../errors.js';
import { deleteMergedTaskBranch, removeWorktree } from '../../git/index.js';
import { runLockKey, type RunRecord, type Store } from '../../store/index.js';
import { runIsLive } from '../session/run-record.js';
import { runWorktrees } from './run-worktrees.js';
import { unmergedCompleteWork } from './unmerged-work.js';

export interface CleanResult {
  runId: string;
  removed: string[];
  kept: { worktree: string; reason: string }[];
  branchesDeleted: string[];
  branchesKept: { branch: string; reason: string }[];
}

/**
 * Removes a run's task worktrees (never one with uncommitted changes: the git
 * layer refuses) and, with `branches`, deletes their branches with `git branch -d`
 * (git refuses a branch that is not merged; never -D).
 */
export async function cleanRun(store: Store, stateDir: string, run: RunRecord, options: { branches?: boolean } = {}): Promise<CleanResult> {
  if (runIsLive(store, run.id)) {
    const lock = store.getLock(runLockKey(run.id));
    throw new StoreError(`run ${run.id} is running (pid ${lock?.pid}); its worktrees are in use`, {
      hint: 'wait for it to finish or stop it first',
    });
  }
  const result: CleanResult = { runId: run.id, removed: [], kept: [], branchesDeleted: [], branchesKept: [] };
  const waiting = unmergedCompleteWork(store, stateDir, run);
  for (const name of runWorktrees(store, stateDir, run)) {
    const slug = name.slice('task-'.length);
    const why = waiting.get(name);
    if (why) {
      result.kept.push({ worktree: name, reason: why });
      continue;
    }
    let gone = false;
    try {
      const r = await removeWorktree(run.baseDir, slug);
      if (r.removed) result.removed.push(name);
      gone = true;
    } catch (error) {
      result.kept.push({ worktree: name, reason: isOrchestratorError(error) ? error.message : String(error) });
    }
    if (gone && options.branches) {
      const b = await deleteMergedTaskBranch(run.baseDir, slug);
      if (b.outcome === 'deleted') result.branchesDeleted.push(b.branch);
      else if (b.outcome === 'refused') result.branchesKept.push({ branch: b.branch, reason: b.reason ?? 'git branch -d refused' });
    }
  }
  return result;
}
