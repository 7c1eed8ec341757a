/**
 * git processes at work in a directory, read from /proc: how the merge queue
 * and a commit in a task worktree tell a stale `index.lock` (left by a killed
 * process) from one a live git holds.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Pids of live git processes (not this process's own) whose working directory is in `dir` (Linux /proc; elsewhere none are found). */
export function gitProcessesIn(dir: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  const root = path.resolve(dir);
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm !== 'git' && !comm.startsWith('git-')) continue;
      const cwd = fs.readlinkSync(`/proc/${e}/cwd`);
      if (cwd !== root && !cwd.startsWith(`${root}${path.sep}`)) continue;
      // Our own read-only git commands (the added-paths diff) are not the lock's holder.
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}
