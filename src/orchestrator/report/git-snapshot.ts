import path from 'node:path';
import { execa } from 'execa';
import { gitEnv } from '../../git/repo.js';

export interface ReportMerge {
  sha: string;
  branch: string | null;
  subject: string;
}

/** Read-only git facts the run report is built from (before and after a run). */
export interface GitSnapshot {
  mainBranch: string;
  head: string | null;
  /** Worktree directory names directly inside the base dir (e.g. main, task-x). */
  worktrees: string[];
  branches: string[];
}

export interface MainHistory {
  merges: ReportMerge[];
  filesTouched: string[];
}

async function git(cwd: string, args: string[]): Promise<string | null> {
  const r = await execa('git', args, { cwd, reject: false, stdin: 'ignore', env: gitEnv(cwd), extendEnv: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

export async function takeSnapshot(baseDir: string): Promise<GitSnapshot> {
  const mainDir = path.join(baseDir, 'main');
  const [branch, head, wt, br] = await Promise.all([
    git(mainDir, ['symbolic-ref', '--quiet', '--short', 'HEAD']),
    git(mainDir, ['rev-parse', '--verify', '--quiet', 'HEAD']),
    git(mainDir, ['worktree', 'list', '--porcelain']),
    git(mainDir, ['for-each-ref', '--format=%(refname:short)', 'refs/heads']),
  ]);
  const worktrees = (wt ?? '')
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice('worktree '.length))
    .filter((p) => path.dirname(path.resolve(p)) === path.resolve(baseDir))
    .map((p) => path.basename(p))
    .sort();
  return { mainBranch: branch ?? 'HEAD', head: head || null, worktrees, branches: (br ?? '').split('\n').filter(Boolean).sort() };
}

/** Merge commits on main's first-parent line between two heads, oldest first, and the files they changed. */
export async function mainHistory(baseDir: string, before: string | null, after: string | null): Promise<MainHistory> {
  if (!before || !after || before === after) return { merges: [], filesTouched: [] };
  const mainDir = path.join(baseDir, 'main');
  const log = await git(mainDir, ['log', '--first-parent', '--reverse', '--format=%H%x09%P%x09%s', `${before}..${after}`]);
  const merges: ReportMerge[] = [];
  for (const line of (log ?? '').split('\n').filter(Boolean)) {
    const [sha = '', parents = '', subject = ''] = line.split('\t');
    const ps = parents.split(' ').filter(Boolean);
    if (ps.length < 2) continue;
    const heads = await git(mainDir, ['for-each-ref', '--format=%(refname:short)', '--points-at', ps[1] as string, 'refs/heads']);
    const fromSubject = /Merge (?:branch '([^']+)'|(task-[A-Za-z0-9._-]+))/.exec(subject);
    const branch = heads?.split('\n').find(Boolean) ?? fromSubject?.[1] ?? fromSubject?.[2] ?? null;
    merges.push({ sha, branch, subject });
  }
  const files = await git(mainDir, ['diff', '--name-only', before, after]);
  return { merges, filesTouched: (files ?? '').split('\n').filter(Boolean).sort() };
}
