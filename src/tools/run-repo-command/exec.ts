import { execa } from 'execa';
import { OutputCapture } from './capture.js';
import { killGroup, signalGroup } from './process-group.js';

export interface ShellRunOptions {
  cwd: string;
  timeoutMs: number;
  outputCapBytes: number;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
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

/**
 * Variables never passed to a command: they would let it run code the guard did
 * not see (BASH_ENV, ENV), or point git somewhere other than the worktree.
 */
const STRIPPED_ENV = /^(BASH_ENV|ENV|GIT_DIR|GIT_WORK_TREE|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_COMMON_DIR|GIT_NAMESPACE|GIT_CEILING_DIRECTORIES|GIT_CONFIG.*|GIT_EXEC_PATH|GIT_SSH|GIT_SSH_COMMAND|GIT_ASKPASS|GIT_EDITOR|GIT_PAGER|GIT_EXTERNAL_DIFF|PROMPT_COMMAND|BASH_FUNC_.*)$/;

export function commandEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !STRIPPED_ENV.test(k)) env[k] = v;
  // Non-interactive: no pager, no editor, no credential prompts.
  env.GIT_PAGER = 'cat';
  env.PAGER = 'cat';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_EDITOR = 'true';
  return env;
}

/**
 * Runs one already-approved shell line with bash (the dialect the guard parses)
 * in its own process group, stdin closed, output capped, and the whole group
 * killed on timeout, abort, or after the shell exits (no orphans).
 */
export async function runShell(command: string, options: ShellRunOptions): Promise<ShellRunResult> {
  const started = performance.now();
  const out = new OutputCapture(options.outputCapBytes);
  const err = new OutputCapture(options.outputCapBytes);
  let timedOut = false;
  let aborted = false;

  if (options.signal?.aborted) {
    return { exitCode: null, stdout: '', stderr: '', truncated: false, timedOut: false, aborted: true, durationMs: 0, stdoutBytes: 0, stderrBytes: 0 };
  }

  const child = execa('bash', ['--noprofile', '--norc', '-c', command], {
    cwd: options.cwd,
    env: options.env ?? commandEnv(),
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
    if (pid !== undefined && !killing) killing = killGroup(pid);
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
      ...(spawnError ? { spawnError } : {}),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
