/** The nouns of the command gateway (see docs/architecture.md). */

/** What the model (or a person) asks to run: a shell line in a worktree of the base dir. */
export interface CommandRequest {
  worktree: string;
  command: string;
}

export type CommandClass = 'inspect' | 'edit' | 'git-write' | 'install' | 'merge' | 'codex';

/**
 * The guard's answer. `rule` names the rule that denied the line (null when allowed).
 * `codexArgs` is set when the whole line is one `codex exec …` command: the words after
 * `codex`, quotes resolved; the executor runs those through the worker layer, never a shell.
 */
export interface PolicyDecision {
  allowed: boolean;
  rule: string | null;
  reason: string;
  codexArgs?: string[];
  commandClass?: CommandClass;
}

/** What running (or refusing) a request produced. Success and failure share this shape. */
export interface CommandResult {
  ok: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
  denied: boolean;
  rule: string | null;
  reason: string;
  dryRun: boolean;
  timedOut?: boolean;
  /** Set when the line ran as a codex worker: where its run directory is, and its outcome. */
  worker?: {
    status: string;
    runDir: string;
    threadId: string | null;
    goalMet: boolean | null;
    summary: string;
    changedFiles: string[];
    usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number };
  };
  /** How the OS sandbox ran the line (absent for denials, dry runs and codex workers). */
  sandbox?: CommandSandbox;
  /** Set when the call changed repository metadata it may not (restored; the subtask stops). */
  securityEvent?: string;
}

/** The sandbox a command ran in, and what it refused (lines of the command's output that show a denial). */
export interface CommandSandbox {
  backend: string;
  profile: string;
  /** e.g. "Read-only file system", "Network is unreachable": what the command tried and could not do. */
  denials: string[];
  /** Set when the backend would not run the line at all (then nothing ran). */
  refused?: string;
}

/** One line of the JSON Lines command log. */
export interface CommandLogEntry {
  ts: string;
  worktree: string;
  command: string;
  allowed: boolean;
  rule: string | null;
  reason: string;
  exitCode: number | null;
  durationMs: number;
  dryRun: boolean;
  truncated: boolean;
  timedOut: boolean;
  runId?: string;
  cwd?: string;
  stdoutBytes?: number;
  stderrBytes?: number;
  workerRunDir?: string;
  sandbox?: string;
  securityEvent?: string;
}
