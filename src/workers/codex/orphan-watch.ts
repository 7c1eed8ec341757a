import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * A tiny watcher per codex process, so that no worker outlives its
 * orchestrator, even under `kill -9` of the orchestrator alone or of its whole
 * process group: a detached `sh` (its own group) that blocks reading a pipe
 * from this process. The pipe closes only when this process is gone (the
 * kernel closes it), and then the watcher stops codex's group — TERM, then
 * KILL — and every group that left it (codex's setsid helpers, sent down the
 * pipe as they are found). When codex ends normally, `stop()` ends the watcher.
 */
const SCRIPT = [
  'g="$1"; extra=""',
  'while read -r x; do extra="$extra $x"; done',
  'for p in "$g" $extra; do kill -TERM -"$p" 2>/dev/null; done',
  'sleep 2',
  'for p in "$g" $extra; do kill -KILL -"$p" 2>/dev/null; done',
].join('\n');

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
    child = spawn('/bin/sh', ['-c', SCRIPT, 'codex-orphan-watch', String(pgid)], { cwd: '/', detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
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
