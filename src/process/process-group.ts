import fs from 'node:fs';

/**
 * Process groups: the one place that signals, watches and kills them. A child
 * that must leave no orphans is spawned `detached` (its own group); killing it
 * means TERM to the group (and to the groups of descendants that left it with
 * setsid), then KILL to what is left after a grace period. The sandbox's shell
 * runner and the codex worker both stop their processes here.
 */

/** Sends `signal` to the group `pgid`; false when the group is already gone (ESRCH). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Live (not zombie) processes, read lazily from /proc: callers stop at the
 * first match. Yields nothing when /proc cannot be read.
 */
function* liveProcesses(): Generator<{ pid: number; ppid: number; pgid: number }> {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // After the command name in parentheses: [0] state, [1] ppid, [2] pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    yield { pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) };
  }
}

function procReadable(): boolean {
  try {
    fs.accessSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the group still has a live member. Zombies do not count: a child that
 * exited lingers as a zombie until its parent (or init) reaps it, and waiting for
 * those would add the whole grace period to every kill. On Linux the group is
 * read from /proc; elsewhere `kill(-pgid, 0)` decides.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux' || !procReadable()) return true;
  for (const p of liveProcesses()) if (p.pgid === pgid) return true;
  return false;
}

/**
 * Process groups of the descendants of `root` that left its group (codex starts
 * some helpers — its login-shell environment snapshot, PTY sessions — with
 * setsid; a shell command can `setsid` too). Read from /proc while `root` is
 * alive, since an orphan's ancestry is lost once its parent dies. Linux only;
 * elsewhere none are found. This process's own group is never one of them.
 */
export function escapedGroups(root: number): number[] {
  if (process.platform !== 'linux') return [];
  const children = new Map<number, { pid: number; pgid: number }[]>();
  for (const p of liveProcesses()) {
    const list = children.get(p.ppid) ?? [];
    list.push({ pid: p.pid, pgid: p.pgid });
    children.set(p.ppid, list);
  }
  const groups = new Set<number>();
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      if (child.pgid !== root && child.pgid !== process.pid) groups.add(child.pgid);
      queue.push(child.pid);
    }
  }
  groups.delete(process.pid);
  return [...groups];
}

const POLL_MS = 25;
/** How long to wait for the KILLed groups to disappear before giving up on them. */
const AFTER_KILL_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * TERM the group `pgid` (and the groups of its descendants that left it), then
 * KILL what is left after `graceMs`. Resolves when they are gone, or at most
 * two seconds after the KILL. Nothing to do when the group is already gone.
 */
export async function killProcessGroup(pgid: number, graceMs = 2000): Promise<void> {
  const escaped = escapedGroups(pgid);
  for (const g of escaped) signalGroup(g, 'SIGTERM');
  const alive = () => groupAlive(pgid) || escaped.some((g) => groupAlive(g));
  if (!signalGroup(pgid, 'SIGTERM') && escaped.length === 0) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive()) return;
    await sleep(POLL_MS);
  }
  signalGroup(pgid, 'SIGKILL');
  for (const g of escaped) signalGroup(g, 'SIGKILL');
  const hard = Date.now() + AFTER_KILL_MS;
  while (Date.now() < hard && alive()) await sleep(POLL_MS);
}
