/**
 * Sending a branch back after the merge queue refused it. Everything happens in
 * the subtask's own worktree, on its own branch, and only adds commits:
 *
 * - conflict: merge main INTO the task branch and leave the conflict markers
 *   for the worker, with the files and both sides' commit messages (their
 *   intent); `finishConflictRework` checks no markers are left and commits.
 * - failed smoke test: the queue reverted the branch's merge in main, so git
 *   now considers the branch merged; merging it again would bring only its new
 *   commits. `prepareSmokeRework` merges main (with the revert) into the branch
 *   and then reverts that revert there, so the branch carries its whole change
 *   again on top of the current main before the worker fixes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from '../errors.js';
import { withGitLock } from './lock.js';
import { assertIdentity, taskBranch, worktreePath } from './worktrees.js';
import {
  currentBranch,
  dirtyFiles,
  firstLines,
  gitDir,
  headSha,
  isAncestor,
  operationInProgress,
  resolveCommit,
  runGit,
  splitZ,
  unmergedFiles,
} from './repo.js';

export interface CommitInfo {
  sha: string;
  subject: string;
  body: string;
}

export type ConflictRework =
  | { status: 'clean'; worktree: string; branch: string; mainBranch: string; mainSha: string; sha: string }
  | {
      status: 'conflict';
      worktree: string;
      branch: string;
      mainBranch: string;
      mainSha: string;
      branchSha: string;
      /** The common ancestor both sides changed from. */
      base: string;
      files: string[];
      /** What main did to the conflicting files since the branch forked (first-parent: the merges' titles). */
      mainCommits: CommitInfo[];
      /** What the task did to the conflicting files. */
      taskCommits: CommitInfo[];
    };

interface Target {
  worktree: string;
  branch: string;
  mainDir: string;
}

async function target(baseDir: string, slug: string, mainDir?: string): Promise<Target> {
  const worktree = worktreePath(baseDir, slug);
  const branch = taskBranch(slug);
  if (!fs.existsSync(worktree))
    throw new GitError(`worktree ${worktree} does not exist`, { hint: 'create it with createWorktree', context: { worktree } });
  const on = await currentBranch(worktree);
  if (on !== branch)
    throw new GitError(`${worktree} has ${on ?? 'a detached HEAD'} checked out, expected ${branch}`, { context: { worktree, branch, on } });
  return { worktree, branch, mainDir: mainDir ?? path.join(path.resolve(baseDir), 'main') };
}

async function mainRef(t: Target, mainBranch?: string): Promise<{ mainBranch: string; mainSha: string }> {
  const name = mainBranch ?? (await currentBranch(t.mainDir));
  if (!name) throw new GitError(`${t.mainDir} has a detached HEAD; cannot tell which branch is main`, { context: { mainDir: t.mainDir } });
  const sha = await resolveCommit(t.worktree, `refs/heads/${name}`);
  if (!sha) throw new GitError(`branch ${name} does not exist`, { context: { mainBranch: name } });
  return { mainBranch: name, mainSha: sha };
}

async function assertCleanWorktree(t: Target): Promise<void> {
  const dirty = await dirtyFiles(t.worktree);
  if (dirty.length > 0) {
    throw new GitError(`worktree ${t.worktree} has uncommitted changes: ${dirty.slice(0, 10).join(', ')}`, {
      hint: 'commit them first (commitAll); rework starts from a committed branch',
      context: { worktree: t.worktree, files: dirty },
    });
  }
}

async function commitsTouching(dir: string, range: string, files: string[], firstParent: boolean): Promise<CommitInfo[]> {
  const args = ['log', '--max-count=20', '--format=%H%x1f%s%x1f%b%x1e', ...(firstParent ? ['--first-parent'] : []), range, '--', ...files];
  const r = await runGit(dir, args);
  return r.stdout
    .split('\x1e')
    .map((rec) => rec.replace(/^\n/, ''))
    .filter((rec) => rec.trim() !== '')
    .map((rec) => {
      const [sha = '', subject = '', body = ''] = rec.split('\x1f');
      return { sha, subject, body: body.trim() };
    });
}

async function conflictInfo(t: Target, mainBranch: string, mainSha: string, branchSha: string): Promise<ConflictRework> {
  const files = await unmergedFiles(t.worktree);
  const base = (await runGit(t.worktree, ['merge-base', branchSha, mainSha])).stdout.trim();
  const [mainCommits, taskCommits] = await Promise.all([
    commitsTouching(t.worktree, `${base}..${mainSha}`, files, true),
    commitsTouching(t.worktree, `${base}..${branchSha}`, files, false),
  ]);
  return {
    status: 'conflict',
    worktree: t.worktree,
    branch: t.branch,
    mainBranch,
    mainSha,
    branchSha,
    base,
    files,
    mainCommits,
    taskCommits,
  };
}

/**
 * Merges main into the task branch in its worktree. Without conflicts the merge
 * is committed (`clean`); with conflicts the markers are left in place for the
 * worker (`conflict`). Calling it again while that merge is unfinished returns
 * the same conflict without merging twice.
 */
export async function prepareConflictRework(
  baseDir: string,
  slug: string,
  options: { mainDir?: string; mainBranch?: string } = {},
): Promise<ConflictRework> {
  const t = await target(baseDir, slug, options.mainDir);
  return withGitLock(`worktree:${fs.realpathSync(t.worktree)}`, async () => {
    const op = operationInProgress(await gitDir(t.worktree));
    if (op === 'a merge') {
      const mergeHead = (await runGit(t.worktree, ['rev-parse', 'MERGE_HEAD'])).stdout.trim();
      const { mainBranch } = await mainRef(t, options.mainBranch);
      return conflictInfo(t, mainBranch, mergeHead, await headSha(t.worktree));
    }
    if (op) throw new GitError(`${t.worktree} is in the middle of ${op}`, { context: { worktree: t.worktree } });
    await assertCleanWorktree(t);
    await assertIdentity(t.worktree);
    const { mainBranch, mainSha } = await mainRef(t, options.mainBranch);
    const branchSha = await headSha(t.worktree);
    const message = `Merge ${mainBranch} into ${t.branch} (conflict rework)`;
    const r = await runGit(t.worktree, ['merge', '--no-ff', '--no-edit', '-m', message, mainSha], { allowFail: true });
    if (r.exitCode === 0)
      return { status: 'clean', worktree: t.worktree, branch: t.branch, mainBranch, mainSha, sha: await headSha(t.worktree) };
    const info = operationInProgress(await gitDir(t.worktree)) === 'a merge' ? await conflictInfo(t, mainBranch, mainSha, branchSha) : null;
    if (info && info.status === 'conflict' && info.files.length > 0) return info;
    if (info) await runGit(t.worktree, ['merge', '--abort'], { allowFail: true });
    throw new GitError(`merging ${mainBranch} into ${t.branch} failed: ${firstLines(r.stderr || r.stdout)}`, {
      context: { worktree: t.worktree, output: r.stderr },
    });
  });
}

const MARKER = /^(?:<{7}|>{7}|\|{7})(?: |$)/m;

/** Files in the worktree that still contain conflict markers. */
export async function filesWithConflictMarkers(worktree: string): Promise<string[]> {
  const changed = (await runGit(worktree, ['diff', '--name-only', '-z', 'HEAD'])).stdout;
  const files = [...new Set([...splitZ(changed), ...(await unmergedFiles(worktree))])].sort();
  return files.filter((f) => {
    const p = path.join(worktree, f);
    let buf: Buffer;
    try {
      const st = fs.lstatSync(p);
      if (!st.isFile() || st.size > 20 * 1024 * 1024) return false;
      buf = fs.readFileSync(p);
    } catch {
      return false;
    }
    if (buf.subarray(0, 8000).includes(0)) return false;
    return MARKER.test(buf.toString('utf8'));
  });
}

/**
 * Completes a conflict (or smoke) rework after the worker resolved it: refuses
 * while any conflict marker is left, then stages everything and commits the
 * merge (or revert) git has in progress. With nothing in progress and a clean
 * worktree it is a no-op that returns HEAD.
 */
export async function finishConflictRework(
  baseDir: string,
  slug: string,
  options: { mainDir?: string; message?: string } = {},
): Promise<{ sha: string; committed: boolean }> {
  const t = await target(baseDir, slug, options.mainDir);
  return withGitLock(`worktree:${fs.realpathSync(t.worktree)}`, async () => {
    const op = operationInProgress(await gitDir(t.worktree));
    if (op === null) {
      const dirty = await dirtyFiles(t.worktree);
      if (dirty.length === 0) return { sha: await headSha(t.worktree), committed: false };
      throw new GitError(`no conflict rework is in progress in ${t.worktree}, but it has uncommitted changes`, {
        hint: 'commit them with commitAll',
        context: { worktree: t.worktree, files: dirty },
      });
    }
    if (op !== 'a merge' && op !== 'a revert')
      throw new GitError(`${t.worktree} is in the middle of ${op}`, { context: { worktree: t.worktree } });
    const marked = await filesWithConflictMarkers(t.worktree);
    if (marked.length > 0) {
      throw new GitError(`conflict markers remain in ${marked.length} file(s): ${marked.slice(0, 10).join(', ')}`, {
        hint: 'resolve every <<<<<<< / >>>>>>> block, then finish again',
        context: { worktree: t.worktree, files: marked },
      });
    }
    await assertIdentity(t.worktree);
    await runGit(t.worktree, ['add', '-A']);
    const left = await unmergedFiles(t.worktree);
    if (left.length > 0)
      throw new GitError(`files are still unmerged: ${left.join(', ')}`, { context: { worktree: t.worktree, files: left } });
    const args = options.message ? ['commit', '--quiet', '-m', options.message] : ['commit', '--quiet', '--no-edit'];
    const r = await runGit(t.worktree, args, { allowFail: true });
    if (r.exitCode !== 0) {
      throw new GitError(`committing the rework in ${t.worktree} failed: ${firstLines(r.stderr || r.stdout)}`, {
        context: { worktree: t.worktree },
      });
    }
    return { sha: await headSha(t.worktree), committed: true };
  });
}

/** Gives up an unfinished conflict rework in the task worktree (`git merge --abort`); the branch is as before prepare. */
export async function abortConflictRework(baseDir: string, slug: string, options: { mainDir?: string } = {}): Promise<void> {
  const t = await target(baseDir, slug, options.mainDir);
  await withGitLock(`worktree:${fs.realpathSync(t.worktree)}`, async () => {
    const op = operationInProgress(await gitDir(t.worktree));
    if (op === 'a merge') await runGit(t.worktree, ['merge', '--abort']);
    else if (op === 'a revert') await runGit(t.worktree, ['revert', '--abort']);
  });
}

export type SmokeRework =
  | { status: 'ready'; worktree: string; branch: string; sha: string; alreadyPrepared: boolean }
  | {
      status: 'conflict';
      worktree: string;
      branch: string;
      files: string[];
      /** The revert being undone, and the message the restore commit gets (an agent redoes it: markers cannot travel in a bundle). */
      revertSha: string;
      message: string;
    };

/**
 * Prepares a branch whose merge was reverted after a failed smoke test (see
 * the file comment). Call it before the worker adds fixes. `conflict` means
 * restoring the change clashed with later work on main: markers are left, and
 * `finishConflictRework` completes it after the worker resolves them.
 */
export async function prepareSmokeRework(
  baseDir: string,
  slug: string,
  options: { revertSha: string; mainDir?: string; mainBranch?: string },
): Promise<SmokeRework> {
  const t = await target(baseDir, slug, options.mainDir);
  return withGitLock(`worktree:${fs.realpathSync(t.worktree)}`, async () => {
    const revertSha = await resolveCommit(t.worktree, options.revertSha);
    if (!revertSha) throw new GitError(`${options.revertSha} names no commit`, { context: { revertSha: options.revertSha } });
    const op = operationInProgress(await gitDir(t.worktree));
    if (op)
      throw new GitError(`${t.worktree} is in the middle of ${op}`, {
        hint: 'finish it with finishConflictRework',
        context: { worktree: t.worktree },
      });
    await assertCleanWorktree(t);
    await assertIdentity(t.worktree);
    const head = await headSha(t.worktree);
    const restoreMessage = `Restore ${t.branch} after revert ${revertSha.slice(0, 10)} (smoke-test rework)`;
    if (await isAncestor(t.worktree, revertSha, head)) {
      const log = await runGit(t.worktree, ['log', '--format=%s', `${revertSha}..${head}`]);
      if (log.stdout.split('\n').includes(restoreMessage))
        return { status: 'ready', worktree: t.worktree, branch: t.branch, sha: head, alreadyPrepared: true };
    } else {
      const { mainBranch, mainSha } = await mainRef(t, options.mainBranch);
      if (!(await isAncestor(t.worktree, revertSha, mainSha))) {
        throw new GitError(`revert ${revertSha.slice(0, 10)} is not on ${mainBranch}`, { context: { revertSha, mainBranch } });
      }
      const m = await runGit(
        t.worktree,
        ['merge', '--no-ff', '--no-edit', '-m', `Merge ${mainBranch} into ${t.branch} (smoke-test rework)`, mainSha],
        { allowFail: true },
      );
      if (m.exitCode !== 0) {
        if (operationInProgress(await gitDir(t.worktree)) === 'a merge')
          await runGit(t.worktree, ['merge', '--abort'], { allowFail: true });
        throw new GitError(`merging ${mainBranch} into ${t.branch} failed: ${firstLines(m.stderr || m.stdout)}`, {
          hint: 'prepareSmokeRework must run before the worker adds commits to the branch',
          context: { worktree: t.worktree },
        });
      }
    }
    const rv = await runGit(t.worktree, ['revert', '--no-commit', revertSha], { allowFail: true });
    if (rv.exitCode !== 0) {
      const files = await unmergedFiles(t.worktree);
      if (files.length > 0) {
        await fs.promises.writeFile(path.join(await gitDir(t.worktree), 'MERGE_MSG'), `${restoreMessage}\n`);
        return { status: 'conflict', worktree: t.worktree, branch: t.branch, files, revertSha, message: restoreMessage };
      }
      throw new GitError(`restoring ${t.branch} failed: ${firstLines(rv.stderr || rv.stdout)}`, { context: { worktree: t.worktree } });
    }
    const c = await runGit(t.worktree, ['commit', '--quiet', '-m', restoreMessage], { allowFail: true });
    if (c.exitCode !== 0)
      throw new GitError(`committing the restore in ${t.worktree} failed: ${firstLines(c.stderr || c.stdout)}`, {
        context: { worktree: t.worktree },
      });
    return { status: 'ready', worktree: t.worktree, branch: t.branch, sha: await headSha(t.worktree), alreadyPrepared: false };
  });
}
