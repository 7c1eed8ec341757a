/**
 * Subtask worktrees: `<baseDir>/task-<slug>` on branch `task-<slug>`, made from
 * main's current HEAD. Creation is idempotent (a retry reuses what an earlier
 * attempt made and says so); removal keeps the branch and never deletes
 * uncommitted work; a branch is deleted only on request and only when git calls
 * it merged (`branch -d`, never -D); commits use the repository's own identity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { checkWorktreePointer } from './git-hardening.js';
import { gitProcessesIn } from './git-processes.js';
import { GitError } from '../errors.js';
import { withGitLock } from './lock.js';
import {
  branchExists,
  commonGitDir,
  dirtyFiles,
  dotGitTarget,
  firstLines,
  worktreeGitDir,
  gitEnv,
  headSha,
  listWorktrees,
  operationInProgress,
  resolveCommit,
  runGit,
  type WorktreeInfo,
} from './repo.js';

const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The branch (and directory name) of a subtask. */
export function taskBranch(slug: string): string {
  assertSlug(slug);
  return `task-${slug}`;
}

function assertSlug(slug: string): void {
  if (!SLUG.test(slug) || slug.includes('..') || slug.endsWith('.') || slug.endsWith('.lock')) {
    throw new GitError(`invalid subtask slug ${JSON.stringify(slug)}`, {
      hint: 'use letters, digits, ".", "_" and "-" (starting with a letter or digit, at most 100 characters)',
      context: { slug },
    });
  }
}

/** `<baseDir>/task-<slug>`, refusing anything that would land outside baseDir. */
export function worktreePath(baseDir: string, slug: string): string {
  const branch = taskBranch(slug);
  const base = path.resolve(baseDir);
  const target = path.resolve(base, branch);
  if (path.dirname(target) !== base) {
    throw new GitError(`worktree path ${target} is outside the base dir ${base}`, { context: { baseDir, slug } });
  }
  return target;
}

function defaultMainDir(baseDir: string): string {
  return path.join(path.resolve(baseDir), 'main');
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function samePath(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}

function assertMainDir(mainDir: string): void {
  if (!fs.existsSync(path.join(mainDir, '.git'))) {
    throw new GitError(`${mainDir} is not a git checkout`, {
      hint: 'the base dir must contain the repository checkout as main/',
      context: { mainDir },
    });
  }
}

export interface CreatedWorktree {
  path: string;
  branch: string;
  /** HEAD of the worktree after the call. */
  head: string;
  /** new: made now; reused-worktree: an earlier attempt's worktree; reused-branch: a new worktree on an earlier attempt's branch. */
  state: 'new' | 'reused-worktree' | 'reused-branch';
}

/** The key of the in-process lock every worktree change of one repository takes (see lock.ts). */
export async function repoLockKey(mainDir: string): Promise<string> {
  return `repo:${await commonGitDir(mainDir)}`;
}

/** Where a subtask's worktree and branch are, its repository's main/, and the key of that repository's lock. */
async function subtaskWorktree(baseDir: string, slug: string, mainDirOption: string | undefined) {
  const mainDir = mainDirOption ?? defaultMainDir(baseDir);
  assertMainDir(mainDir);
  return { target: worktreePath(baseDir, slug), branch: taskBranch(slug), mainDir, key: await repoLockKey(mainDir) };
}

/** The commit a new task branch starts at: `fromRef` (default: main's HEAD), or a GitError naming what is missing. */
async function startCommit(mainDir: string, branch: string, fromRef = 'HEAD'): Promise<string> {
  const from = await resolveCommit(mainDir, fromRef);
  if (!from)
    throw new GitError(`cannot create ${branch}: ${fromRef} names no commit in ${mainDir}`, { context: { from: fromRef, mainDir } });
  return from;
}

/**
 * Creates (or reuses) the worktree of a subtask. `from` (default: main's HEAD)
 * is used only when the branch does not exist yet; a reused branch keeps its commits.
 */
export async function createWorktree(
  baseDir: string,
  slug: string,
  options: { from?: string; mainDir?: string } = {},
): Promise<CreatedWorktree> {
  const { target, branch, mainDir, key } = await subtaskWorktree(baseDir, slug, options.mainDir);
  return withGitLock(key, async () => {
    let worktrees = await listWorktrees(mainDir);
    const atPath = worktrees.find((w) => samePath(w.path, target));
    if (atPath?.prunable) {
      // The directory of an earlier attempt was deleted by hand; drop git's stale record of it.
      await runGit(mainDir, ['worktree', 'prune']);
      worktrees = await listWorktrees(mainDir);
    } else if (atPath && atPath.locked && halfMade(target, await commonGitDir(mainDir))) {
      // `git worktree add` was killed before its checkout finished (a killed run): not a worktree to reuse, since
      // `git add -A` would commit every file it never wrote as deleted. Nothing ran in it yet; make it again.
      await runGit(mainDir, ['worktree', 'unlock', target]);
      const removed = await runGit(mainDir, ['worktree', 'remove', '--force', target], { allowFail: true });
      // Killed before it even wrote the worktree's .git file: git cannot remove it, but prunes it once unlocked.
      if (removed.exitCode !== 0) await runGit(mainDir, ['worktree', 'prune']);
      worktrees = await listWorktrees(mainDir);
    } else if (atPath) {
      if (atPath.branch === branch) return { path: target, branch, head: await headSha(target), state: 'reused-worktree' };
      throw new GitError(
        `${target} is already a worktree of ${atPath.branch ? `branch ${atPath.branch}` : 'a detached HEAD'}, not ${branch}`,
        {
          hint: 'remove or rename that worktree, or use another subtask slug',
          context: { path: target, branch, found: atPath.branch },
        },
      );
    }
    const elsewhere = worktrees.find((w: WorktreeInfo) => w.branch === branch && !samePath(w.path, target));
    if (elsewhere) {
      throw new GitError(`branch ${branch} is already checked out in ${elsewhere.path}`, {
        hint: `a branch can be checked out in one worktree only; remove ${elsewhere.path} or use another slug`,
        context: { path: target, branch, elsewhere: elsewhere.path },
      });
    }
    if (fs.existsSync(target) || isSymlink(target)) {
      const st = fs.lstatSync(target);
      if (!st.isDirectory() || fs.readdirSync(target).length > 0) {
        throw new GitError(`${target} already exists and is not a worktree of this repository`, {
          hint: 'the program does not delete files it did not create; move it away or use another slug',
          context: { path: target, branch },
        });
      }
    }
    if (await branchExists(mainDir, branch)) {
      await runGit(mainDir, ['worktree', 'add', '--quiet', target, branch]);
      return { path: target, branch, head: await headSha(target), state: 'reused-branch' };
    }
    const from = await startCommit(mainDir, branch, options.from);
    await runGit(mainDir, ['worktree', 'add', '--quiet', '-b', branch, target, from]);
    return { path: target, branch, head: from, state: 'new' };
  });
}

/**
 * The branch of a subtask without a worktree (its worker runs on another
 * machine): creates `task-<slug>` at `from` (default: main's HEAD) when it does
 * not exist, and keeps an existing one with its commits. No file is checked
 * out; `createWorktree` makes the worktree later, on the same branch, when
 * something has to run here (a review, a local rework, the archive command).
 * `state` is reused-worktree when an earlier attempt's worktree is there.
 */
export async function createTaskBranch(
  baseDir: string,
  slug: string,
  options: { from?: string; mainDir?: string } = {},
): Promise<CreatedWorktree> {
  const { target, branch, mainDir, key } = await subtaskWorktree(baseDir, slug, options.mainDir);
  return withGitLock(key, async () => {
    const atPath = (await listWorktrees(mainDir)).find((w) => samePath(w.path, target) && !w.prunable);
    if (atPath?.branch === branch) return { path: target, branch, head: await headSha(target), state: 'reused-worktree' };
    const existing = await resolveCommit(mainDir, `refs/heads/${branch}`);
    if (existing) return { path: target, branch, head: existing, state: 'reused-branch' };
    const from = await startCommit(mainDir, branch, options.from);
    await runGit(mainDir, ['branch', '--no-track', branch, from]);
    return { path: target, branch, head: from, state: 'new' };
  });
}

/**
 * Removes the `index.lock` of a linked worktree (a task's, or an agent's slot)
 * when no git process is working there: a killed run's `git add` or `git
 * commit` left it, and every later git write there would fail on it. This
 * process's own git there runs under the worktree's lock, which the caller
 * holds. main/ is never cleared here (the merge queue reports its lock).
 */
function clearStaleIndexLock(gitDirPath: string): void {
  if (path.basename(path.dirname(gitDirPath)) !== 'worktrees') return;
  const lock = path.join(gitDirPath, 'index.lock');
  if (!fs.existsSync(lock)) return;
  // The admin dir's `gitdir` names the worktree's .git file.
  const pointer = readOr(path.join(gitDirPath, 'gitdir'), '').trim();
  if (!pointer || gitProcessesIn(path.dirname(pointer)).length > 0) return;
  fs.rmSync(lock, { force: true });
}

/**
 * A worktree whose `git worktree add` never finished: git marks the admin dir
 * `locked` with "initializing" (C locale here) until its checkout is done. Only
 * that marker counts: removing a worktree on a guess could lose a worker's work.
 */
function halfMade(worktree: string, commonDir: string): boolean {
  // No .git file yet: git names the admin dir after the worktree's directory.
  const admin = dotGitTarget(worktree) ?? path.join(commonDir, 'worktrees', path.basename(worktree));
  return readOr(path.join(admin, 'locked'), '').trim() === 'initializing';
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface RemovedWorktree {
  path: string;
  branch: string;
  /** false when there was no worktree to remove (already removed). */
  removed: boolean;
}

/**
 * Removes a subtask's worktree and keeps its branch (branches are never
 * deleted). Refuses, with a GitError naming the files, when the worktree has
 * uncommitted changes or untracked files: the program never deletes work.
 */
export async function removeWorktree(
  baseDir: string,
  slug: string,
  options: { keepBranch?: true; mainDir?: string } = {},
): Promise<RemovedWorktree> {
  const { target, branch, mainDir, key } = await subtaskWorktree(baseDir, slug, options.mainDir);
  return withGitLock(key, async () => {
    const atPath = (await listWorktrees(mainDir)).find((w) => samePath(w.path, target));
    if (!atPath) return { path: target, branch, removed: false };
    if (atPath.prunable) {
      await runGit(mainDir, ['worktree', 'prune']);
      return { path: target, branch, removed: false };
    }
    if (samePath(atPath.path, mainDir))
      throw new GitError(`refusing to remove the main checkout ${mainDir}`, { context: { path: target } });
    if (atPath.locked) {
      throw new GitError(`worktree ${target} is locked`, {
        hint: `unlock it with: git worktree unlock ${target}`,
        context: { path: target },
      });
    }
    const dirty = await dirtyFiles(target);
    if (dirty.length > 0) {
      throw new GitError(`worktree ${target} has uncommitted changes in ${dirty.length} file(s): ${preview(dirty)}`, {
        hint: 'commit them (or discard them yourself); the program never deletes uncommitted work',
        context: { path: target, branch, files: dirty },
      });
    }
    // No --force: git itself refuses again if anything changed since the check above.
    await runGit(mainDir, ['worktree', 'remove', target]);
    return { path: target, branch, removed: true };
  });
}

export interface DeletedTaskBranch {
  branch: string;
  /** deleted: `git branch -d` took it; absent: there was no such branch; refused: git kept it (not merged, checked out…). */
  outcome: 'deleted' | 'absent' | 'refused';
  /** With refused: git's first line. */
  reason?: string;
}

/**
 * Deletes a subtask's branch when git calls it merged (`git branch -d`; never
 * -D): an unmerged branch is kept and git's reason returned, not thrown.
 */
export async function deleteMergedTaskBranch(
  baseDir: string,
  slug: string,
  options: { mainDir?: string } = {},
): Promise<DeletedTaskBranch> {
  const { branch, mainDir, key } = await subtaskWorktree(baseDir, slug, options.mainDir);
  return withGitLock(key, async () => {
    if (!(await branchExists(mainDir, branch))) return { branch, outcome: 'absent' };
    const del = await runGit(mainDir, ['branch', '-d', branch], { allowFail: true });
    if (del.exitCode === 0) return { branch, outcome: 'deleted' };
    return { branch, outcome: 'refused', reason: (del.stderr || del.stdout).trim().split('\n')[0] ?? 'git branch -d refused' };
  });
}

function preview(files: readonly string[], n = 10): string {
  return files.length <= n ? files.join(', ') : `${files.slice(0, n).join(', ')} and ${files.length - n} more`;
}

/** user.name and user.email as git config gives them (the last value of each wins), in one git process. */
async function identityConfig(dir: string): Promise<{ name: string | null; email: string | null }> {
  const r = await runGit(dir, ['config', '--get-regexp', '^user\\.(name|email)$'], { allowFail: true });
  const found: Record<string, string> = {};
  for (const line of r.exitCode === 0 ? r.stdout.split('\n') : []) {
    const m = /^user\.(name|email) (.*)$/.exec(line);
    if (m) found[m[1]!] = m[2]!.trim();
  }
  return { name: found.name || null, email: found.email || null };
}

/** Fails with a clear GitError when neither git config nor the environment gives a commit identity. */
export async function assertIdentity(dir: string): Promise<void> {
  const env = process.env;
  const fromEnv = {
    name: env.GIT_AUTHOR_NAME && env.GIT_COMMITTER_NAME ? env.GIT_AUTHOR_NAME : null,
    email: env.GIT_AUTHOR_EMAIL && env.GIT_COMMITTER_EMAIL ? env.GIT_AUTHOR_EMAIL : null,
  };
  const config = fromEnv.name && fromEnv.email ? null : await identityConfig(dir);
  const name = fromEnv.name ?? config?.name;
  const email = fromEnv.email ?? config?.email;
  if (name && email) return;
  const missing = [name ? null : 'user.name', email ? null : 'user.email'].filter(Boolean).join(' and ');
  throw new GitError(`git has no commit identity (${missing} not set) for ${dir}`, {
    hint: 'set it with: git config --global user.name "Your Name" && git config --global user.email you@example.com (or without --global in the repository)',
    context: { dir, missing },
  });
}

/**
 * Stages everything (`git add -A`, which respects .gitignore) and commits it
 * with the repository's identity. Returns the new sha, or null when there was
 * nothing to commit.
 */
export async function commitAll(worktree: string, message: string): Promise<string | null> {
  if (message.trim() === '') throw new GitError('a commit message is required', { context: { worktree } });
  const dir = realOrResolved(worktree);
  return withGitLock(`worktree:${dir}`, async () => {
    const gd = await worktreeGitDir(dir);
    const op = operationInProgress(gd);
    if (op) {
      throw new GitError(`${dir} is in the middle of ${op}; not committing over it`, {
        hint: op === 'a merge' ? 'finish conflict rework with finishConflictRework' : `finish or abort ${op} first`,
        context: { worktree: dir, operation: op },
      });
    }
    clearStaleIndexLock(gd);
    // The identity check and the staging are independent (a refusal leaves the files staged, nothing else).
    await Promise.all([assertIdentity(dir), runGit(dir, ['add', '-A'])]);
    // No separate `diff --cached --quiet`: commit itself says when there is nothing to commit (git's messages are in C locale here).
    const r = await runGit(dir, ['commit', '--quiet', '-m', message], { allowFail: true });
    if (r.exitCode === 1 && /^(nothing to commit|nothing added to commit|no changes added to commit)/m.test(r.stdout)) return null;
    if (r.exitCode !== 0) {
      if (/tell me who you are|empty ident|unable to auto-detect email/i.test(r.stderr)) await assertIdentity(dir);
      throw new GitError(`git commit failed in ${dir}: ${firstLines(r.stderr || r.stdout)}`, {
        hint: 'a commit hook may have refused it; the changes are staged in the worktree',
        context: { worktree: dir, stderr: r.stderr },
      });
    }
    return headSha(dir);
  });
}

export interface ChangedFile {
  /** A added, M modified, D deleted, R renamed, C copied, T type changed. */
  status: string;
  path: string;
  /** The old path of a rename or copy. */
  from?: string;
}

/** Parses `git diff --name-status -z` output. */
export function parseNameStatus(text: string): ChangedFile[] {
  const fields = text.split('\0');
  const out: ChangedFile[] = [];
  for (let i = 0; i < fields.length;) {
    const code = fields[i++];
    if (!code) continue;
    const status = code[0] as string;
    if (status === 'R' || status === 'C') {
      const from = fields[i++] as string;
      const to = fields[i++] as string;
      out.push({ status, path: to, from });
    } else {
      out.push({ status, path: fields[i++] as string });
    }
  }
  return out;
}

/** Files the worktree's HEAD changed since it forked from `base` (`base...HEAD`, renames detected). */
export async function changedFiles(worktree: string, base: string, head = 'HEAD'): Promise<ChangedFile[]> {
  const r = await runGit(worktree, ['diff', '--name-status', '-z', '-M', '--end-of-options', `${base}...${head}`]);
  return parseNameStatus(r.stdout);
}

export interface DiffFile extends ChangedFile {
  /** null for binary files. */
  additions: number | null;
  deletions: number | null;
}

export interface BoundedDiff {
  base: string;
  head: string;
  files: DiffFile[];
  /** The unified diff, cut at a line boundary when longer than maxBytes (then a last line says so). */
  diff: string;
  truncated: boolean;
}

function parseNumstat(text: string): Map<string, { additions: number | null; deletions: number | null }> {
  const out = new Map<string, { additions: number | null; deletions: number | null }>();
  const fields = text.split('\0');
  for (let i = 0; i < fields.length;) {
    const rec = fields[i++];
    if (!rec) continue;
    const [a, d, p] = rec.split('\t') as [string, string, string];
    let file = p;
    if (p === '') {
      i++; // old path of a rename
      file = fields[i++] as string;
    }
    out.set(file, { additions: a === '-' ? null : Number(a), deletions: d === '-' ? null : Number(d) });
  }
  return out;
}

/**
 * The worktree's committed changes since it forked from `base`, for the review
 * agent: every changed file with its line counts, and the unified diff bounded
 * to `maxBytes` (the git process is stopped once the bound is reached). With
 * `head` (a branch), that branch's changes instead of HEAD's, so a branch with
 * no worktree (the queue road's) is reviewed from any checkout of the repository.
 */
export async function diffAgainst(
  worktree: string,
  base: string,
  options: { maxBytes?: number; head?: string } = {},
): Promise<BoundedDiff> {
  const maxBytes = Math.max(1024, options.maxBytes ?? 200_000);
  const headRef = options.head ?? 'HEAD';
  const range = `${base}...${headRef}`;
  const [headOrNull, baseSha, names, numstat] = await Promise.all([
    resolveCommit(worktree, headRef),
    resolveCommit(worktree, base),
    changedFiles(worktree, base, headRef),
    runGit(worktree, ['diff', '--numstat', '-z', '-M', '--end-of-options', range]),
  ]);
  if (!baseSha) throw new GitError(`${base} names no commit in ${worktree}`, { context: { worktree, base } });
  if (!headOrNull) throw new GitError(`${headRef} names no commit in ${worktree}`, { context: { worktree, head: headRef } });
  const head = headOrNull;
  const counts = parseNumstat(numstat.stdout);
  const files = names.map((f) => ({ ...f, ...(counts.get(f.path) ?? { additions: null, deletions: null }) }));
  const { text, truncated } = await boundedOutput(
    worktree,
    ['diff', '-M', '--no-color', '--no-ext-diff', '--no-textconv', '--end-of-options', range],
    maxBytes,
  );
  const diff = truncated
    ? `${text}\n[diff truncated at ${maxBytes} bytes; ${files.length} file(s) changed in total, listed above]\n`
    : text;
  return { base: baseSha, head, files, diff, truncated };
}

/** Runs git and keeps at most maxBytes of stdout, cut at the last whole line; stops git once the bound is hit. */
function boundedOutput(cwd: string, args: string[], maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  checkWorktreePointer(cwd);
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnv(cwd), stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        truncated = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    child.on('error', (cause) => reject(new GitError(`could not run git diff in ${cwd}`, { cause, context: { cwd } })));
    child.on('close', (code) => {
      let buf = Buffer.concat(chunks);
      if (truncated) {
        buf = buf.subarray(0, maxBytes);
        const nl = buf.lastIndexOf(0x0a);
        if (nl > 0) buf = buf.subarray(0, nl + 1);
      } else if (code !== 0) {
        reject(new GitError(`git ${args.join(' ')} failed in ${cwd}: ${firstLines(stderr)}`, { context: { cwd, args } }));
        return;
      }
      resolve({ text: buf.toString('utf8'), truncated });
    });
  });
}
