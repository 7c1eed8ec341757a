import path from 'node:path';
import { readJsonFile, runDir, type RunRecord, type Store } from '../../store/index.js';
import type { RunReport } from '../report/report.js';

/** Worktree directory names (directly in the base dir) that a run worked in. */
export function runWorktrees(store: Store, stateDir: string, run: RunRecord): string[] {
  const names = new Set<string>();
  for (const c of store.listCommands({ runId: run.id })) {
    if (c.worktree.startsWith('task-')) names.add(c.worktree);
    for (const m of c.command.matchAll(/worktree\s+add\s+(?:-\S+\s+)*(?:\S+\/)?(task-[A-Za-z0-9._-]+)/g)) names.add(m[1]!);
  }
  for (const t of store.listSubtasks(run.id)) if (t.worktree) names.add(path.basename(t.worktree));
  const report = readJsonFile(runDir(stateDir, run.id).report) as Partial<RunReport> | undefined;
  for (const w of report?.worktreesCreated ?? []) if (w.startsWith('task-')) names.add(w);
  return [...names].filter((n) => /^task-[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n) && !n.includes('..')).sort();
}
