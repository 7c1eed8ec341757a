import fs from 'node:fs';
import path from 'node:path';
import { FINISHED_RUN_STATUSES, pruneStaleLocks, readJsonFile, runDir, runsRoot, type Store } from '../../store/index.js';
import { reconcileRunStatus } from '../session/run-record.js';
import { cleanRun } from './clean-run.js';
import { unmergedCompleteWork } from './unmerged-work.js';

export interface PruneResult {
  worktreesRemoved: { runId: string; worktree: string }[];
  worktreesKept: { runId: string; worktree: string; reason: string }[];
  locksRemoved: { key: string; pid: number }[];
  runsDeleted: string[];
  dirsDeleted: string[];
}

/** Worktrees of finished runs, stale locks, and runs (rows and directories) finished more than `olderThanDays` ago. */
export async function pruneRuns(store: Store, stateDir: string, options: { olderThanDays: number; now?: number }): Promise<PruneResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.olderThanDays * 86_400_000;
  const result: PruneResult = { worktreesRemoved: [], worktreesKept: [], locksRemoved: [], runsDeleted: [], dirsDeleted: [] };
  result.locksRemoved = pruneStaleLocks(store).map((l) => ({ key: l.key, pid: l.pid }));
  for (const listed of store.listRuns()) {
    const run = reconcileRunStatus(store, listed);
    if (!FINISHED_RUN_STATUSES.includes(run.status)) continue;
    const cleaned = await cleanRun(store, stateDir, run);
    for (const w of cleaned.removed) result.worktreesRemoved.push({ runId: run.id, worktree: w });
    for (const k of cleaned.kept) result.worktreesKept.push({ runId: run.id, ...k });
    const finished = Date.parse(run.finishedAt ?? run.updatedAt);
    if (finished < cutoff && cleaned.kept.length === 0 && unmergedCompleteWork(store, stateDir, run).size === 0) {
      fs.rmSync(runDir(stateDir, run.id).root, { recursive: true, force: true });
      store.deleteRun(run.id);
      result.runsDeleted.push(run.id);
    }
  }
  // Run directories the store does not know (a deleted database, a crash before the run was recorded).
  let dirs: string[];
  try {
    dirs = fs.readdirSync(runsRoot(stateDir));
  } catch {
    dirs = [];
  }
  for (const d of dirs) {
    const full = path.join(runsRoot(stateDir), d);
    let known: boolean;
    try {
      known = store.getRun(d)?.id === d;
    } catch {
      known = true;
    }
    if (known) continue;
    const mtime = fs.statSync(full).mtimeMs;
    const manifest = readJsonFile(path.join(full, 'manifest.json')) as { phases?: { tasks?: { status?: string }[] }[] } | undefined;
    const hasWaitingWork = (manifest?.phases ?? []).some((p) => (p.tasks ?? []).some((t) => t.status === 'complete'));
    if (mtime < cutoff && !hasWaitingWork) {
      fs.rmSync(full, { recursive: true, force: true });
      result.dirsDeleted.push(d);
    }
  }
  return result;
}
