/**
 * The tmux client calls of the program: one session per run, a window per
 * worker, `display-message` for notifications. Every call is an argv list to
 * the `tmux` binary (no shell). `socket` selects a private server (`tmux -L`),
 * which the tests use; without it the user's default server (or, inside tmux,
 * the one `$TMUX` names) is used.
 */
import { execFile, spawnSync } from 'node:child_process';

export interface TmuxTarget {
  /** `tmux -L <socket>`: a named server; undefined for the default one. */
  socket?: string | undefined;
}

export interface TmuxResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

function argvFor(target: TmuxTarget, args: readonly string[]): string[] {
  return [...(target.socket ? ['-L', target.socket] : []), ...args];
}

export function tmux(target: TmuxTarget, args: readonly string[]): Promise<TmuxResult> {
  return new Promise((resolve) => {
    execFile('tmux', argvFor(target, args), { encoding: 'utf8', timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ ok: !error, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

let available: boolean | undefined;
/** Whether a tmux binary runs here (checked once). */
export function tmuxAvailable(): boolean {
  if (available === undefined) {
    const r = spawnSync('tmux', ['-V'], { encoding: 'utf8', timeout: 5000 });
    available = r.status === 0;
  }
  return available;
}

/** True when this process runs inside a tmux client. */
export function insideTmux(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.TMUX);
}

/** A message on the status line of the tmux client(s) of the current server. */
export async function displayMessage(text: string, target: TmuxTarget = {}): Promise<TmuxResult> {
  // tmux expands #{…} and #[…] in messages: doubled '#' shows them literally.
  return tmux(target, ['display-message', '-d', '5000', text.replace(/#/g, '##')]);
}

export async function hasSession(target: TmuxTarget, session: string): Promise<boolean> {
  return (await tmux(target, ['has-session', '-t', `=${session}`])).ok;
}

export async function listWindows(target: TmuxTarget, session: string): Promise<string[]> {
  const r = await tmux(target, ['list-windows', '-t', `=${session}`, '-F', '#{window_name}']);
  return r.ok ? r.stdout.split('\n').filter(Boolean) : [];
}

export async function capturePane(target: TmuxTarget, pane: string): Promise<string> {
  const r = await tmux(target, ['capture-pane', '-p', '-J', '-t', pane]);
  return r.stdout;
}
