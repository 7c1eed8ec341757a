import { execa } from 'execa';
import { OutputCapture } from './capture.js';
import { killProcessGroup, signalGroup } from '../process/process-group.js';

export interface ShellRunOptions {
  cwd: string;
  timeoutMs: number;
  outputCapBytes: number;
  signal?: AbortSignal | undefined;
  /** The complete environment of the process (nothing is inherited). */
  env: NodeJS.ProcessEnv;
}

export interface ShellRunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  spawnError?: string;
}

/** bash's argv for one already-approved line (the dialect the guard parses; no rc files). */
export function bashArgv(command: string): string[] {
  return ['bash', '--noprofile', '--norc', '-c', command];
}

/**
 * Runs one argv (a sandbox wrapper around bash, or bash itself) in its own
 * process group, stdin closed, output capped, and the whole group killed on
 * timeout, abort, or after the process exits (no orphans).
 */
export async function runProcess(argv: readonly string[], options: ShellRunOptions): Promise<ShellRunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runProcess: empty argv');
  const started = performance.now();
  const out = new OutputCapture(options.outputCapBytes);
  const err = new OutputCapture(options.outputCapBytes);
  let timedOut = false;
  let aborted = false;

  if (options.signal?.aborted) {
    return {
      exitCode: null,
      stdout: '',
      stderr: '',
      truncated: false,
      timedOut: false,
      aborted: true,
      durationMs: 0,
      stdoutBytes: 0,
      stderrBytes: 0,
    };
  }

  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    detached: true,
    reject: false,
    cleanup: true,
    encoding: 'buffer',
  });
  const pid = child.pid;
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));

  let killing: Promise<void> | undefined;
  const stop = () => {
    if (pid !== undefined && !killing) killing = killProcessGroup(pid);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  const onAbort = () => {
    aborted = true;
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const result = await child;
    // The shell is done; anything it left in its group goes too.
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    if (killing) await killing;
    const spawnError = result.failed && result.exitCode === undefined && !result.isTerminated ? result.shortMessage : undefined;
    return {
      exitCode: result.exitCode ?? null,
      stdout: out.text(),
      stderr: spawnError ? `${err.text()}${spawnError}` : err.text(),
      truncated: out.truncated || err.truncated,
      timedOut,
      aborted,
      durationMs: Math.round(performance.now() - started),
      stdoutBytes: out.totalBytes,
      stderrBytes: err.totalBytes,
      spawnError: spawnError || undefined,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
