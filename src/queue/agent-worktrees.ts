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

/**
 * Forces an existing slot to `from`: untracked and ignored files removed
 * (while `from` may still be on its way: the clean needs no commit), then
 * merge state dropped and tracked files reset by the forced checkout, which
 * writes no untracked file. A failure to get `from` is the caller's, not the slot's.
 */
async function refresh(dir: string, from: Promise<string>): Promise<void> {
  const [clean, target] = await Promise.allSettled([runGit(dir, ['clean', '-ffdxq']), from]);
  if (target.status === 'rejected') throw new SlotStartError(target.reason);
  if (clean.status === 'rejected') throw clean.reason;
  await runGit(dir, ['checkout', '--quiet', '--force', '--detach', target.value]);
}

/** `from` itself failed (a bundle that did not apply): not a reason to make the slot again. */
class SlotStartError extends Error {
  constructor(readonly reason: unknown) {
    super('the start commit could not be had');
  }
}

/**
 * A free slot of `workDir`, checked out at `from` (detached) and pristine.
 * `from` may be a promise (the commit still being fetched): the slot is taken
 * and cleaned meanwhile.
 */
export async function acquireSlot(clone: string, workDir: string, start: string | Promise<string>, log?: Logger): Promise<AgentSlot> {
  const from = Promise.resolve(start);
  // Whatever happens to the slot, a failed `from` is not left unobserved.
  from.catch(() => undefined);
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
        if (error instanceof SlotStartError) throw error.reason;
        log?.warn({ err: error, slot: name }, `slot ${name} could not be reused (${describeError(error)}); making it again`);
      }
    }
    const target = await from;
    fs.rmSync(dir, { recursive: true, force: true });
    await withGitLock(await repoLockKey(clone), async () => {
      await runGit(clone, ['worktree', 'prune']);
      await runGit(clone, ['worktree', 'add', '--quiet', '--detach', dir, target]);
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
