/**
 * An agent's worktrees, reused from job to job. A fresh `git worktree add` of
 * a large repository checks out every file (and `worktree remove` deletes them
 * again); the agent instead keeps one detached worktree per job slot
 * (`<workDir>/task-slot-<n>`) and, for each job attempt, forces it to the
 * attempt's start commit and removes every untracked and ignored file, so an
 * attempt always starts from a pristine tree (git touches only the files that
 * differ). What a slot held before is the agent's own scratch: the earlier
 * attempt's result already went back as a bundle, or that attempt failed.
 *
 * A slot is taken with a lock file holding the agent's pid (`.slots/<n>.lock`),
 * so two agent processes sharing a work dir never share a slot; a lock whose
 * process is gone is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeError } from '../errors.js';
import { withGitLock } from '../git/lock.js';
import { runGit } from '../git/repo.js';
import { repoLockKey } from '../git/worktrees.js';
import type { Logger } from '../logging/logger.js';

export interface AgentSlot {
  /** The worktree's directory name in the work dir (what the gateway calls the worktree). */
  name: string;
  path: string;
  /** Gives the slot back (the tree stays for the next job). */
  release: () => void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes slot `n`'s lock file, or returns false when a live process (or this one) holds it. */
function takeLock(file: string): boolean {
  for (let tries = 0; tries < 2; tries++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && alive(pid))) return false;
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

/** Forces an existing slot to `from`: merge state dropped, tracked files reset, untracked and ignored files removed. */
async function refresh(dir: string, from: string): Promise<void> {
  await runGit(dir, ['checkout', '--quiet', '--force', '--detach', from]);
  await runGit(dir, ['clean', '-ffdxq']);
}

/** A free slot of `workDir`, checked out at `from` (detached) and pristine. */
export async function acquireSlot(clone: string, workDir: string, from: string, log?: Logger): Promise<AgentSlot> {
  const locks = path.join(workDir, '.slots');
  fs.mkdirSync(locks, { recursive: true });
  let n = 0;
  while (!takeLock(path.join(locks, `${n}.lock`))) n++;
  const lockFile = path.join(locks, `${n}.lock`);
  const name = `task-slot-${n}`;
  const dir = path.join(workDir, name);
  const release = () => fs.rmSync(lockFile, { force: true });
  try {
    if (fs.existsSync(path.join(dir, '.git'))) {
      try {
        await refresh(dir, from);
        return { name, path: dir, release };
      } catch (error) {
        log?.warn({ err: error, slot: name }, `slot ${name} could not be reused (${describeError(error)}); making it again`);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    await withGitLock(await repoLockKey(clone), async () => {
      await runGit(clone, ['worktree', 'prune']);
      await runGit(clone, ['worktree', 'add', '--quiet', '--detach', dir, from]);
    });
    return { name, path: dir, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Makes `count` slots ahead of the first job, at the clone's HEAD, so no job
 * pays for a full checkout; a later job's checkout touches only the files
 * that differ. A failure is only logged (the job makes its slot itself).
 */
export async function warmSlots(clone: string, workDir: string, count: number, log?: Logger): Promise<void> {
  const slots: AgentSlot[] = [];
  try {
    for (let i = 0; i < count; i++) slots.push(await acquireSlot(clone, workDir, 'HEAD', log));
  } catch (error) {
    log?.warn({ err: error }, `could not prepare worktrees in ${workDir}: ${describeError(error)}`);
  } finally {
    for (const s of slots) s.release();
  }
}
