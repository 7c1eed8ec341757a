/**
 * A notification hook for chat bots and scripts: the user's own program, run
 * as an argv list (never through a shell, so nothing in a payload or a branch
 * name is interpreted), with the notification JSON on stdin. Bounded in time;
 * never throws.
 */
import { spawn } from 'node:child_process';

export interface HookResult {
  ok: boolean;
  exitCode: number | null;
  error: string | null;
}

export function runHookCommand(
  argv: readonly string[],
  payload: unknown,
  options: { timeoutMs?: number; cwd?: string } = {},
): Promise<HookResult> {
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    if (!program) return resolve({ ok: false, exitCode: null, error: 'empty hook command' });
    let stderr = '';
    let settled = false;
    const done = (r: HookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(program, args, { shell: false, stdio: ['pipe', 'ignore', 'pipe'], cwd: options.cwd || undefined });
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ ok: false, exitCode: null, error: `hook did not finish within ${timeoutMs} ms; killed` });
    }, timeoutMs);
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 2000) stderr += c.toString('utf8');
    });
    child.on('error', (e) => done({ ok: false, exitCode: null, error: `cannot run ${program}: ${e.message}` }));
    child.on('close', (code) =>
      done({
        ok: code === 0,
        exitCode: code,
        error: code === 0 ? null : `exited ${code}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`,
      }),
    );
    // A hook that does not read its stdin must not crash the run with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${JSON.stringify(payload)}\n`);
  });
}
