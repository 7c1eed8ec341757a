/**
 * Where a checkout's git metadata lives, read from the files (no git process):
 * the common `.git` of the repository, the checkout's own gitdir (the same for
 * main/, `.git/worktrees/<name>` for a linked worktree) and the branch it has
 * checked out. The sandbox profiles and the integrity check are built on it.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface GitLayout {
  /** The repository's `.git` directory (objects, refs, config, hooks). */
  common: string;
  /** This checkout's gitdir (index, HEAD); equals `common` for the main checkout. */
  gitdir: string;
  /** `refs/heads/<branch>` checked out here, or null (detached, or not a checkout). */
  branchRef: string | null;
  linked: boolean;
}

export function gitLayout(dir: string): GitLayout | null {
  const dotGit = path.join(dir, '.git');
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dotGit);
  } catch {
    return null;
  }
  let gitdir: string;
  let common: string;
  if (st.isDirectory()) {
    gitdir = common = dotGit;
  } else if (st.isFile()) {
    const m = /^gitdir: (.+)$/m.exec(fs.readFileSync(dotGit, 'utf8'));
    if (!m) return null;
    gitdir = path.resolve(dir, (m[1] as string).trim());
    try {
      common = path.resolve(gitdir, fs.readFileSync(path.join(gitdir, 'commondir'), 'utf8').trim());
    } catch {
      return null;
    }
  } else {
    return null;
  }
  let branchRef: string | null = null;
  try {
    const head = /^ref: (refs\/heads\/.+)$/m.exec(fs.readFileSync(path.join(gitdir, 'HEAD'), 'utf8'));
    branchRef = head ? (head[1] as string).trim() : null;
  } catch {
    /* no HEAD: not a checkout */
  }
  return { common, gitdir, branchRef, linked: gitdir !== common };
}
