/**
 * Small read-mostly helpers over the git CLI. Every git process the program
 * starts on its own behalf goes through `runGit`: stdin closed, no prompts, no
 * pager, no editor, C locale (messages are parsed), and none of the inherited
 * `GIT_DIR`-style variables that would point a command at another repository
 * (they are set when the program itself runs from inside a git hook).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { GitError } from '../errors.js';
import { checkWorktreePointer, hardenedGitConfigEnv } from './git-hardening.js';

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const STRIPPED_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_NAMESPACE',
  'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS',
  'GIT_EXEC_PATH',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_EXTERNAL_DIFF',
];

/**
 * The environment of every git process the program starts (see the file comment);
 * `repoDir`, the directory git runs in, also empties its repository's filter and merge drivers.
 */
export function gitEnv(repoDir?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !STRIPPED_ENV.includes(k) && !/^GIT_CONFIG_(KEY|VALUE)_/.test(k)) env[k] = v;
  // No system config, an identity-only global config, no hooks/fsmonitor/helpers/transports.
  Object.assign(env, hardenedGitConfigEnv(repoDir));
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_PAGER = 'cat';
  env.PAGER = 'cat';
  env.GIT_EDITOR = 'true';
  env.GIT_SEQUENCE_EDITOR = 'true';
  env.GIT_MERGE_AUTOEDIT = 'no';
  env.GIT_ASKPASS = '';
  env.SSH_ASKPASS = '';
  env.LC_ALL = 'C';
  env.LANGUAGE = 'C';
  return env;
}

const REF_WRITERS = new Set([
  'commit',
  'merge',
  'revert',
  'worktree',
  'branch',
  'update-ref',
  'tag',
  'checkout',
  'switch',
  'cherry-pick',
  'stash',
]);
let refWrites = 0;

/**
 * A counter that moves whenever the program's own git starts or ends a command
 * that may move refs. The gateway's integrity check compares it across a call:
 * ref changes made while the program itself was writing refs cannot be told
 * apart from the command's, so they are not "restored" over the program's work.
 */
export function programRefWrites(): number {
  return refWrites;
}

/**
 * Runs `git <args>` in `cwd`. Throws a GitError on a non-zero exit unless
 * `allowFail` is set, in which case the caller inspects `exitCode`.
 */
export async function runGit(cwd: string, args: readonly string[], options: { allowFail?: boolean } = {}): Promise<GitResult> {
  checkWorktreePointer(cwd);
  const writes = REF_WRITERS.has(args[0] ?? '');
  if (writes) refWrites++;
  let out: GitResult;
  try {
    out = await spawnGit(cwd, args);
  } finally {
    if (writes) refWrites++;
  }
  if (out.exitCode !== 0 && !options.allowFail) {
    throw new GitError(`git ${args.join(' ')} failed in ${cwd}: ${firstLines(out.stderr || out.stdout)}`, {
      context: { cwd, args, exitCode: out.exitCode, stderr: out.stderr },
    });
  }
  return out;
}

/**
 * node's execFile rather than execa: the merge queue spawns several git
 * processes per merge and execa's per-call overhead (about 6 ms here, as much
 * as `git rev-parse` itself) showed in the merge benchmark.
 */
function spawnGit(cwd: string, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...args],
      { cwd, env: gitEnv(cwd), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        const code = error ? (error as NodeJS.ErrnoException & { code?: unknown }).code : 0;
        if (error && typeof code !== 'number') {
          const missingDir = !fs.existsSync(cwd);
          reject(
            new GitError(`could not run git ${args[0] ?? ''} in ${cwd}: ${error.message}`, {
              hint: missingDir ? `the directory ${cwd} does not exist` : 'is git installed and on PATH?',
              cause: error,
              context: { cwd, args },
            }),
          );
          return;
        }
        resolve({ stdout, stderr, exitCode: typeof code === 'number' ? code : 0 });
      },
    );
    child.stdin?.end();
  });
}

/** The first few non-empty lines of git's output, for one-line messages. */
export function firstLines(text: string, n = 3): string {
  // git wraps one sentence over several lines: a line that goes on with a lower-case word joins the one before,
  // so the n items kept are whole sentences, never cut in the middle.
  const items: string[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const prev = items[items.length - 1];
    const open = prev !== undefined && (!/[.!?:]$/.test(prev) || /\b(e\.g|i\.e|etc)\.$/.test(prev));
    if (open && /^[a-z]/.test(line) && !/^[a-z-]+:\s/.test(line)) items[items.length - 1] = `${prev} ${line}`;
    else items.push(line);
  }
  return items.slice(0, n).join(' / ');
}

/** Splits NUL-separated git output, dropping empty fields. */
export function splitZ(text: string): string[] {
  return text.split('\0').filter((s) => s.length > 0);
}

/** The checked-out branch of `dir` (short name), or null when HEAD is detached. */
export async function currentBranch(dir: string): Promise<string | null> {
  const r = await runGit(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { allowFail: true });
  if (r.exitCode === 0) return r.stdout.trim();
  if (r.exitCode === 1) return null;
  throw new GitError(`${dir} is not a git checkout: ${firstLines(r.stderr)}`, { context: { dir } });
}

/** The commit sha of HEAD in `dir`. */
export async function headSha(dir: string): Promise<string> {
  return (await runGit(dir, ['rev-parse', '--verify', 'HEAD^{commit}'])).stdout.trim();
}

/** The commit sha a ref names, or null when it names no commit. */
export async function resolveCommit(dir: string, ref: string): Promise<string | null> {
  const r = await runGit(dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], { allowFail: true });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** Which of `shas` (full commit ids) `dir`'s repository has as commits, in one git process. */
export async function presentCommits(dir: string, shas: readonly string[]): Promise<Set<string>> {
  const wanted = [...new Set(shas)].filter((s) => /^[0-9a-f]{40,64}$/.test(s));
  if (wanted.length === 0) return new Set();
  const r = await runGit(dir, ['rev-list', '--no-walk', '--ignore-missing', ...wanted]);
  const found = new Set(r.stdout.split('\n').filter(Boolean));
  return new Set(wanted.filter((s) => found.has(s)));
}

/** True when `ancestor` is reachable from `descendant` (or equal to it). */
export async function isAncestor(dir: string, ancestor: string, descendant: string): Promise<boolean> {
  const r = await runGit(dir, ['merge-base', '--is-ancestor', ancestor, descendant], { allowFail: true });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  throw new GitError(`git merge-base --is-ancestor failed in ${dir}: ${firstLines(r.stderr)}`, { context: { dir, ancestor, descendant } });
}

export interface StatusSnapshot {
  /** Short branch name, or null when HEAD is detached. */
  branch: string | null;
  /** HEAD's sha, or null in a repository without commits. */
  head: string | null;
  /** Paths with uncommitted changes: staged, unstaged, unmerged or untracked (not ignored). */
  dirty: string[];
}

/**
 * One `git status` call: branch, HEAD and every uncommitted path, untracked
 * files included (`--untracked-files=all`). Ignored files are not reported; they
 * are what the repository itself says nobody needs to keep (build output, caches).
 */
export async function statusSnapshot(dir: string): Promise<StatusSnapshot> {
  // --no-ahead-behind: with an upstream, counting commits ahead/behind is a history walk nobody here reads.
  const r = await runGit(dir, [
    '--no-optional-locks',
    'status',
    '--porcelain=v2',
    '--branch',
    '--no-ahead-behind',
    '-z',
    '--untracked-files=all',
    '--ignore-submodules=none',
  ]);
  let branch: string | null = null;
  let head: string | null = null;
  const dirty: string[] = [];
  const records = r.stdout.split('\0');
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] as string;
    if (rec === '') continue;
    if (rec.startsWith('# branch.oid ')) {
      const oid = rec.slice('# branch.oid '.length);
      head = oid === '(initial)' ? null : oid;
    } else if (rec.startsWith('# branch.head ')) {
      const name = rec.slice('# branch.head '.length);
      branch = name === '(detached)' ? null : name;
    } else if (rec.startsWith('# ')) {
      continue;
    } else if (rec.startsWith('1 ')) {
      dirty.push(rec.split(' ').slice(8).join(' '));
    } else if (rec.startsWith('2 ')) {
      dirty.push(rec.split(' ').slice(9).join(' '));
      i++; // the rename's original path follows as its own record
    } else if (rec.startsWith('u ')) {
      dirty.push(rec.split(' ').slice(10).join(' '));
    } else if (rec.startsWith('? ')) {
      dirty.push(rec.slice(2));
    }
  }
  return { branch, head, dirty };
}

/** The uncommitted paths of `dir` (see `statusSnapshot`). */
export async function dirtyFiles(dir: string): Promise<string[]> {
  return (await statusSnapshot(dir)).dirty;
}

/** True when `dir` has uncommitted changes, untracked files included. */
export async function isDirty(dir: string): Promise<boolean> {
  return (await dirtyFiles(dir)).length > 0;
}

/** The absolute git dir of a checkout (for a linked worktree, its own admin dir). */
export async function gitDir(dir: string): Promise<string> {
  const r = await runGit(dir, ['rev-parse', '--absolute-git-dir']);
  return r.stdout.trim();
}

/**
 * What a checkout root's `.git` names, read without a git process: the
 * directory itself, or the `gitdir:` line of a worktree's `.git` file; null
 * when `dir` has no readable `.git` (a subdirectory, or a worktree whose
 * `.git` file git has not written yet). Not a check: runGit's
 * checkWorktreePointer is that.
 */
export function dotGitTarget(dir: string): string | null {
  const dotGit = path.join(dir, '.git');
  try {
    if (fs.lstatSync(dotGit).isDirectory()) return path.resolve(dotGit);
    const m = /^gitdir: (.+)\n?$/.exec(fs.readFileSync(dotGit, 'utf8'));
    return m ? path.resolve(dir, (m[1] as string).trim()) : null;
  } catch {
    return null;
  }
}

/** The git dir of a checkout's root (`dotGitTarget`, once its pointer is checked as runGit checks it); where that finds none, git is asked. */
export async function worktreeGitDir(dir: string): Promise<string> {
  checkWorktreePointer(dir);
  return dotGitTarget(dir) ?? gitDir(dir);
}

/**
 * The absolute common git dir (shared by every worktree of a repository), as
 * git reads it, without a git process for a checkout's root: `.git` itself,
 * or a linked worktree's git dir's `commondir` (real paths, as
 * `--path-format=absolute` gives). It is asked before every fetch and worktree
 * change (their lock key). Anything else (a subdirectory, a git dir without
 * HEAD) is asked of git.
 */
export async function commonGitDir(dir: string): Promise<string> {
  checkWorktreePointer(dir);
  const target = dotGitTarget(dir);
  if (target && fs.existsSync(path.join(target, 'HEAD'))) {
    let common = target;
    try {
      common = path.resolve(target, fs.readFileSync(path.join(target, 'commondir'), 'utf8').trim());
    } catch {
      // No commondir: the git dir is its own common dir (a repository's `.git`).
    }
    try {
      return fs.realpathSync(common);
    } catch {
      // A commondir naming nothing: git's own answer (or its error) below.
    }
  }
  const r = await runGit(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
  return r.stdout.trim();
}

/** An operation git has half-done in a checkout (the user's or ours), if any. */
export function operationInProgress(gitDirPath: string): string | null {
  const markers: [string, string][] = [
    ['MERGE_HEAD', 'a merge'],
    ['CHERRY_PICK_HEAD', 'a cherry-pick'],
    ['REVERT_HEAD', 'a revert'],
    ['rebase-merge', 'a rebase'],
    ['rebase-apply', 'a rebase or am'],
    ['REBASE_HEAD', 'a rebase'],
    ['BISECT_LOG', 'a bisect'],
  ];
  for (const [file, what] of markers) if (fs.existsSync(path.join(gitDirPath, file))) return what;
  return null;
}

export interface WorktreeInfo {
  path: string;
  head: string | null;
  /** Short branch name, or null when detached or bare. */
  branch: string | null;
  bare: boolean;
  detached: boolean;
  locked: boolean;
  prunable: boolean;
}

/** Parses `git worktree list --porcelain -z` output. */
export function parseWorktreeList(text: string): WorktreeInfo[] {
  const out: WorktreeInfo[] = [];
  let cur: WorktreeInfo | null = null;
  for (const field of text.split('\0')) {
    if (field === '') {
      if (cur) out.push(cur);
      cur = null;
      continue;
    }
    const sp = field.indexOf(' ');
    const key = sp === -1 ? field : field.slice(0, sp);
    const value = sp === -1 ? '' : field.slice(sp + 1);
    if (key === 'worktree') {
      if (cur) out.push(cur);
      cur = { path: value, head: null, branch: null, bare: false, detached: false, locked: false, prunable: false };
      continue;
    }
    if (!cur) continue;
    if (key === 'HEAD') cur.head = value;
    else if (key === 'branch') cur.branch = value.replace(/^refs\/heads\//, '');
    else if (key === 'bare') cur.bare = true;
    else if (key === 'detached') cur.detached = true;
    else if (key === 'locked') cur.locked = true;
    else if (key === 'prunable') cur.prunable = true;
  }
  if (cur) out.push(cur);
  return out;
}

/** Every worktree of the repository `dir` belongs to (the main one first). */
export async function listWorktrees(dir: string): Promise<WorktreeInfo[]> {
  const r = await runGit(dir, ['worktree', 'list', '--porcelain', '-z']);
  return parseWorktreeList(r.stdout);
}

/** Local branch names, sorted. */
export async function listBranches(dir: string): Promise<string[]> {
  // Branch names cannot contain newlines, so one per line is unambiguous.
  const r = await runGit(dir, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/']);
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** True when the local branch exists. */
export async function branchExists(dir: string, branch: string): Promise<boolean> {
  const r = await runGit(dir, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], { allowFail: true });
  return r.exitCode === 0;
}

/** Paths with unmerged (conflicted) index entries. */
export async function unmergedFiles(dir: string): Promise<string[]> {
  const r = await runGit(dir, ['diff', '--name-only', '--diff-filter=U', '-z']);
  return [...new Set(splitZ(r.stdout))].sort();
}
