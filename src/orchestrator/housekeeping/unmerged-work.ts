import path from 'node:path';
import { readJsonFile, runDir, type RunRecord, type Store } from '../../store/index.js';

/**
 * Worktrees of the run's plan subtasks that are complete but not merged (from
 * the store, else the saved manifest): their branch is finished work waiting
 * for `runs merge`, so neither clean nor prune may take it away.
 */
export function unmergedCompleteWork(store: Store, stateDir: string, run: RunRecord): Map<string, string> {
  const out = new Map<string, string>();
  const note = (id: string, worktree: string | null | undefined) => {
    const name = worktree ? path.basename(worktree) : `task-${id}`;
    out.set(name, `subtask ${id} is complete but not merged; merge it with codex-orch runs merge ${run.id}`);
  };
  for (const t of store.listSubtasks(run.id)) if (t.status === 'complete') note(t.id, t.worktree);
  const manifest = readJsonFile(path.join(runDir(stateDir, run.id).root, 'manifest.json')) as
    { phases?: { tasks?: { id: string; status?: string; worktree?: string | null }[] }[] } | undefined;
  for (const phase of manifest?.phases ?? []) for (const t of phase.tasks ?? []) if (t.status === 'complete') note(t.id, t.worktree);
  return out;
}
