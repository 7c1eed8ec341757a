/**
 * Sets a subtask's earlier attempt aside so it can start again from main (a
 * person's retry): uncommitted files in its worktree are committed on its
 * branch (nothing is lost), the worktree is removed (no --force: git refuses
 * again if anything changed), and the branch is renamed
 * `task-<slug>-attempt-<n>` (the first free n), which leaves `task-<slug>`
 * free to be made fresh. No commit is rewritten or deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from '../errors.js';
import { withGitLock } from './lock.js';
import { branchExists, commonGitDir, dirtyFiles, listWorktrees, resolveCommit, runGit } from './repo.js';
import { commitAll, removeWorktree, taskBranch, worktreePath } from './worktrees.js';

export interface SetAside {
  /** The name the earlier branch is kept under; null when there was no branch. */
  branch: string | null;
  head: string | null;
  /** The commit made of the worktree's uncommitted files; null when it was clean (or absent). */
  savedUncommitted: string | null;
}

const realOrResolved = (p: string): string => {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
};

export async function setAsideAttempt(
  baseDir: string,
  slug: string,
  options: { mainDir?: string; message?: string } = {},
): Promise<SetAside> {
  const mainDir = options.mainDir ?? path.join(path.resolve(baseDir), 'main');
  const target = worktreePath(baseDir, slug);
  const branch = taskBranch(slug);
  let savedUncommitted: string | null = null;
  const wt = (await listWorktrees(mainDir)).find((w) => realOrResolved(w.path) === realOrResolved(target));
  if (wt && !wt.prunable) {
    if (wt.branch !== branch)
      throw new GitError(`${target} is a worktree of ${wt.branch ? `branch ${wt.branch}` : 'a detached HEAD'}, not ${branch}`, {
        hint: 'move that worktree away, then retry',
        context: { path: target, branch, found: wt.branch },
      });
    if ((await dirtyFiles(target)).length > 0)
      savedUncommitted = await commitAll(target, options.message ?? `codex-orch: uncommitted work of ${branch}, kept before a retry`);
  }
  await removeWorktree(baseDir, slug, { mainDir });
  if (!(await branchExists(mainDir, branch))) return { branch: null, head: null, savedUncommitted };
  return withGitLock(`repo:${await commonGitDir(mainDir)}`, async () => {
    let n = 1;
    while (await branchExists(mainDir, `${branch}-attempt-${n}`)) n++;
    const kept = `${branch}-attempt-${n}`;
    // A rename, not a delete: the earlier attempt's commits stay reachable under the new name.
    await runGit(mainDir, ['branch', '-m', branch, kept]);
    return { branch: kept, head: await resolveCommit(mainDir, `refs/heads/${kept}`), savedUncommitted };
  });
}
