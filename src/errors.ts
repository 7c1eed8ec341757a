/**
 * The typed error hierarchy. Every error the program raises on purpose is an
 * `OrchestratorError` with a `kind`; the CLI maps kinds to exit codes in one
 * place (`src/cli/exit-codes.ts`). Messages are written for people: what
 * happened and what to do about it. `context` carries what is needed to resume.
 */
export type ErrorKind = 'usage' | 'config' | 'policy' | 'command' | 'git' | 'worker' | 'model-api' | 'run' | 'aborted' | 'store' | 'queue';

export class OrchestratorError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.hint = options.hint;
    this.context = options.context ?? {};
  }

  /** One line for a terminal: the message, then the hint when there is one. */
  toLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Wrong arguments on the command line. */
export class UsageError extends OrchestratorError {
  constructor(message: string, options: { hint?: string } = {}) {
    super('usage', message, options);
  }
}

/** A bad environment variable, config file, policy file or prompt file. */
export class ConfigError extends OrchestratorError {
  readonly variable: string | undefined;
  constructor(message: string, options: { variable?: string; hint?: string; cause?: unknown } = {}) {
    super('config', message, options);
    this.variable = options.variable;
  }
}

/** The command guard refused a command. Carries the rule id that denied it. */
export class PolicyDeniedError extends OrchestratorError {
  readonly rule: string;
  constructor(rule: string, reason: string, context: Record<string, unknown> = {}) {
    super('policy', `denied by rule ${rule}: ${reason}`, { context });
    this.rule = rule;
  }
}

/** An allowed command ran and failed (non-zero exit, timeout, spawn failure). */
export class CommandFailedError extends OrchestratorError {
  readonly exitCode: number | null;
  constructor(
    message: string,
    options: { exitCode?: number | null; hint?: string; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super('command', message, options);
    this.exitCode = options.exitCode ?? null;
  }
}

/** A git operation the program does on its own behalf failed (worktree, merge, commit). */
export class GitError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('git', message, options);
  }
}

/** A codex worker could not be started, crashed, stalled, or returned no valid result. */
export class WorkerError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('worker', message, options);
  }
}

/** The model API refused or failed (401, 404, exhausted retries on 429/5xx, unreachable). */
export class ModelApiError extends OrchestratorError {
  readonly status: number | undefined;
  constructor(message: string, options: { status?: number; hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('model-api', message, options);
    this.status = options.status;
  }
}

/** An orchestrator run ended without reaching its goal (max turns, failed merges, budget). */
export class RunFailedError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('run', message, options);
  }
}

/** The user or a signal stopped the run. */
export class AbortedError extends OrchestratorError {
  constructor(message = 'aborted', options: { context?: Record<string, unknown> } = {}) {
    super('aborted', message, options);
  }
}

/** The run store (state dir, database, run directory) could not be read or written. */
export class StoreError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('store', message, options);
  }
}

/**
 * `runs approve` / `runs reject` on something that is not waiting for a
 * person: an unknown run or subtask, or a subtask that is not (or no longer)
 * waiting for approval. A user-causable condition, so a usage error.
 */
export class ApprovalError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; context?: Record<string, unknown> } = {}) {
    super('usage', message, options);
  }
}

/**
 * `runs retry` (the dashboard's Retry, the MCP `retry_subtask`) on something
 * that cannot be retried now. `reason` says which: an unknown run or subtask
 * (`not-found`: nothing to retry), or a state that does not allow it
 * (`conflict`: merged, running, a live run, a run without a plan). A
 * user-causable condition, so a usage error.
 */
export class RetryError extends OrchestratorError {
  readonly reason: 'not-found' | 'conflict';
  constructor(reason: 'not-found' | 'conflict', message: string, options: { hint?: string; context?: Record<string, unknown> } = {}) {
    super('usage', message, options);
    this.reason = reason;
  }
}

/**
 * The disk holding the state dir (or another path the run writes) is full.
 * A store error (exit 7): the run's state up to the last write is consistent,
 * so it can be resumed once there is space again.
 */
export class DiskFullError extends StoreError {
  readonly path: string;
  constructor(file: string, options: { cause?: unknown } = {}) {
    super(`the disk holding ${file} is full; nothing more could be written there`, {
      ...options,
      hint: 'free some space, then continue the run with codex-orch runs resume <run id> (codex-orch runs list shows the id)',
      context: { file },
    });
    this.path = file;
  }
}

/** Whether an error (or its cause) says the disk is full: ENOSPC, EDQUOT or SQLite's SQLITE_FULL. */
export function isDiskFull(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (cur instanceof DiskFullError) return true;
    const code = (cur as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
    if (
      typeof (cur as Error).message === 'string' &&
      /\b(ENOSPC|SQLITE_FULL)\b|database or disk is full|no space left on device/i.test((cur as Error).message)
    )
      return true;
  }
  return false;
}

/** A disk-full error as a DiskFullError naming `file`; anything else unchanged. */
export function asDiskFull(e: unknown, file: string): unknown {
  if (e instanceof DiskFullError || !isDiskFull(e)) return e;
  return new DiskFullError(file, { cause: e });
}

export function isOrchestratorError(e: unknown): e is OrchestratorError {
  return e instanceof OrchestratorError;
}

/** One line for people: an OrchestratorError's `toLine()`, else the error's message (or the thrown value). */
export function describeError(e: unknown): string {
  if (isOrchestratorError(e)) return e.toLine();
  return e instanceof Error ? e.message : String(e);
}

/** The job queue (Redis/BullMQ) or the artifact store it moves bundles through. */
export class QueueError extends OrchestratorError {
  constructor(message: string, options: { hint?: string; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('queue', message, options);
  }
}
