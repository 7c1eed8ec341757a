import { isAncestor, resolveCommit, runGit } from './repo.js';

/**
 * Whether a task branch's work is already in main's history, asked of git
 * alone (it is the last word, also when the run store is lost): the branch tip
 * is reachable from HEAD and came in through a merge, not by being a commit of
 * main's own first-parent line (a fresh branch with no commits of its own is
 * not "merged"), and that merge was not reverted since (the merge queue's
 * `git revert -m 1` after a failed smoke test; a revert of that revert brings
 * it back). Returns the merge commit that brought it in, or null.
 */
export async function branchMergedInto(mainDir: string, branch: string): Promise<string | null> {
  const tip = await resolveCommit(mainDir, `refs/heads/${branch}`);
  if (!tip) return null;
  const head = await resolveCommit(mainDir, 'HEAD');
  if (!head || !(await isAncestor(mainDir, tip, head))) return null;
  const own = await runGit(mainDir, ['rev-list', '--first-parent', head], { allowFail: true });
  if (own.exitCode !== 0 || own.stdout.split('\n').includes(tip)) return null;
  // The oldest commit of main's first-parent line that descends from the tip: the merge that brought it in.
  const path = await runGit(mainDir, ['rev-list', '--first-parent', '--ancestry-path', '--reverse', `${tip}..${head}`], {
    allowFail: true,
  });
  const merge = path.stdout.split('\n').find(Boolean) ?? head;
  const revert = await revertOf(mainDir, merge, head);
  return revert && !(await revertOf(mainDir, revert, head)) ? null : merge;
}

/** The newest commit of main's first-parent line after `commit` that reverts it (git's "This reverts commit <sha>"), or null. */
async function revertOf(mainDir: string, commit: string, head: string): Promise<string | null> {
  const r = await runGit(
    mainDir,
    ['rev-list', '--first-parent', '--fixed-strings', `--grep=This reverts commit ${commit}`, '-n', '1', `${commit}..${head}`],
    { allowFail: true },
  );
  return r.exitCode === 0 ? (r.stdout.trim().split('\n')[0] ?? '') || null : null;
}
