import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * A small watcher per codex process, so that no worker outlives its
 * orchestrator, even under `kill -9` of the orchestrator alone or of its whole
 * process group: a detached node process (its own group, an empty
 * environment) that waits on a pipe from this process. The pipe closes only
 * when this process is gone (the kernel closes it); then the watcher finds,
 * through /proc and while codex still lives, every process group below codex
 * (its setsid helpers, such as the login-shell snapshot, included), adds the
 * groups it was sent down the pipe, and stops them: codex at once, its helpers after a few seconds' grace (so a helper is not killed while it holds a lock, e.g. pyenv's rehash lock), TERM then KILL. When
 * codex ends normally, `stop()` ends the watcher.
 */
const SCRIPT = `
const fs = require('fs');
const root = Number(process.argv[1]);
const extra = new Set();
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) { const n = Number(buf.slice(0, i)); if (n > 1) extra.add(n); }
});
function rows() {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\\d+$/.test(e)) continue;
    try { const s = fs.readFileSync('/proc/' + e + '/stat', 'utf8'); const r = s.slice(s.lastIndexOf(')') + 2).split(' '); out.push([Number(e), Number(r[1]), Number(r[2])]); } catch {}
  }
  return out;
}
function groups() {
  const all = rows(); const kids = new Map();
  for (const r of all) { if (!kids.has(r[1])) kids.set(r[1], []); kids.get(r[1]).push(r); }
  const out = new Set([root, ...extra]); const todo = [root]; const seen = new Set();
  for (const r of all) if (r[2] === root) todo.push(r[0]);
  while (todo.length) { const p = todo.pop(); if (seen.has(p)) continue; seen.add(p); for (const k of kids.get(p) || []) { if (k[2] > 1) out.add(k[2]); todo.push(k[0]); } }
  out.delete(process.pid);
  return [...out];
}
function signal(gs, sig) { for (const g of gs) { try { process.kill(-g, sig); } catch {} } }
let done = false;
function alive(g) { try { process.kill(-g, 0); return true; } catch { return false; } }
function orphaned() {
  if (done) return; done = true;
  const gs = groups();
  const helpers = gs.filter((g) => g !== root);
  signal([root], 'SIGTERM');
  // codex's own helpers (a login-shell snapshot) get a few seconds to finish what they hold (a pyenv rehash lock), then go too.
  const until = Date.now() + 4000;
  const tick = () => {
    if (Date.now() < until && helpers.some(alive)) return setTimeout(tick, 100);
    signal(helpers, 'SIGTERM');
    setTimeout(() => { signal([...new Set([...gs, ...groups()])], 'SIGKILL'); process.exit(0); }, 1500);
  };
  tick();
}
process.stdin.on('end', orphaned);
process.stdin.on('error', orphaned);
`;

export interface OrphanWatch {
  /** Also stop this process group when the orchestrator dies. */
  add: (pgid: number) => void;
  /** Ends the watcher (codex is done and its groups were handled here). */
  stop: () => void;
}

export function watchForOrphan(pgid: number): OrphanWatch {
  const added = new Set<number>();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    child = spawn(process.execPath, ['-e', SCRIPT, String(pgid)], {
      cwd: '/',
      env: {},
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as Socket | null)?.unref?.();
  } catch {
    child = undefined;
  }
  return {
    add(g) {
      if (added.has(g) || !child?.stdin?.writable) return;
      added.add(g);
      child.stdin.write(`${g}\n`);
    },
    stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
