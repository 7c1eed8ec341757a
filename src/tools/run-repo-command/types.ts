/** The nouns of the command gateway (see docs/architecture.md). */

/** What the model (or a person) asks to run: a shell line in a worktree of the base dir. */
export interface CommandRequest {
  worktree: string;
  command: string;
}

/**
 * What a line needs from the sandbox, decided by the guard (strongest of its commands):
 * inspect = read-only inspection; edit = worktree edit/build/test; git-write = the git
 * writes the program allows (commit, add, worktree add, own branches); install = package
 * installs (repo-settings `setup` only); merge = `git merge --no-ff <task-branch>` /
 * `git merge --abort` in main/; codex = a lone `codex exec` line.
 */
export type CommandClass = 'inspect' | 'edit' | 'git-write' | 'install' | 'merge' | 'codex';

/** One simple command of an analysed line, words resolved (quotes and escapes removed). */
export interface AnalysedCommand {
  /** The program name, or null for a command made only of redirections. */
  program: string | null;
  /** The program followed by its arguments. */
  words: string[];
  /** For git: the subcommand (after global options), if any. */
  gitSubcommand?: string;
  /** For git: the directory git runs in after its `-C` chain (absolute, real). */
  gitDir?: string;
  commandClass: CommandClass;
}

/** The line as the guard analysed it: parsed once, reused by the gateway, the log and the report. */
export interface CommandAnalysis {
  /** The real path of the worktree the line runs in. */
  cwd: string;
  /** Every simple command, including those inside command substitutions. */
  commands: AnalysedCommand[];
  /** Base-dir worktree names that `git worktree add` commands of the line create. */
  worktreesAdded: string[];
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
  /** Set on every allowed decision: the sandbox profile the line needs. */
  commandClass?: CommandClass;
  /** Set on every allowed decision. */
  analysis?: CommandAnalysis;
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
  /** The guard's analysis of an allowed line (the report reads its commands from it instead of parsing again). */
  analysis?: CommandAnalysis;
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
  /** The class the guard gave an allowed line. */
  commandClass?: CommandClass;
  sandbox?: string;
  securityEvent?: string;
}
