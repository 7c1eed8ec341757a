/** The nouns of the command gateway (see docs/architecture.md). */

/** What the model (or a person) asks to run: a shell line in a worktree of the base dir. */
export interface CommandRequest {
  worktree: string;
  command: string;
}

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
}
