import { spawn } from 'node:child_process';
import { gitEnv } from '../../src/git/repo.js';

/**
 * Runs the program's (hardened) git the way it runs when the orchestrator that
 * started it was SIGKILLed alone: git lives on, but its stdout and stderr are
 * pipes nobody reads any more, so its first write of output ends it with
 * SIGPIPE. For `git merge` that write is the "Merge made by…" line, flushed
 * after the merge commit and before git clears its merge state.
 */
export function runOrphanedGit(cwd: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn('git', args, { cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  // The readers go away before git writes anything: the parent is dead.
  child.stdout.destroy();
  child.stderr.destroy();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}
