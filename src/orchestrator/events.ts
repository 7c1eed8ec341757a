import type { CommandLogEntry, CommandRequest, CommandResult } from '../tools/run-repo-command/types.js';
import type { CodexActivity } from '../workers/codex/activity.js';

/**
 * Progress of a run, for `onEvent`, the terminal progress display and the run's
 * `events.jsonl`. One union, emitted by the run loop; every event has `ts`.
 */
export type RunEvent =
  | {
      type: 'run.started';
      ts: string;
      runId: string;
      task: string;
      baseDir: string;
      dryRun: boolean;
      model: string;
      /** The codex workers' model as far as the program can tell (for prices); null: codex's default. */
      workerModel?: string | null;
      /** The OS sandbox the gateway's commands run in (its description). */
      sandbox?: string;
      road?: Road;
    }
  | {
      type: 'run.resumed';
      ts: string;
      runId: string;
      pid: number;
      road?: Road;
      tookOverFrom?: { pid: number; reason: string; heartbeatAt: string };
    }
  | {
      type: 'run.recovered';
      ts: string;
      runId: string;
      conversationRestored: boolean;
      workers: { workerId: string; status: string; threadId: string | null; killed: boolean }[];
      answered: unknown[];
    }
  // runs merge <id>: the merge queue run now for a stopped plan run's complete subtasks.
  | { type: 'run.merge.started'; ts: string; runId: string; candidates: string[]; pid: number }
  | {
      type: 'run.merge.finished';
      ts: string;
      runId: string;
      merged: { taskId: string; branch: string; sha: string }[];
      notMerged: { id: string; status: string; reason: string | null }[];
    }
  | { type: 'agent.turn'; ts: string; turn: number; usage?: { input: number; cachedInput: number; output: number } }
  | { type: 'command.started'; ts: string; worktree: string; command: string }
  | {
      type: 'command.finished';
      ts: string;
      worktree: string;
      command: string;
      allowed: boolean;
      rule: string | null;
      exitCode: number | null;
      durationMs: number;
      dryRun: boolean;
      worker?: { status: string; goalMet: boolean | null; summary: string; usage?: { input: number; cachedInput: number; output: number } };
    }
  | { type: 'command.security'; ts: string; worktree: string; command: string; detail: string }
  | { type: 'model.retry'; ts: string; attempt: number; status: number | undefined; delayMs: number }
  | { type: 'run.finished'; ts: string; runId: string; status: RunOutcome; wallTimeMs: number }
  | { type: 'run.error'; ts: string; runId: string; kind: string; message: string }
  // The plan road (src/orchestrator/plan/): the program runs a plan itself.
  | { type: 'plan.started'; ts: string; runId: string; task: string; tasks: number; maxParallel: number }
  | { type: 'subtask.status'; ts: string; taskId: string; status: string; reason: string | null; attempts: number }
  | {
      type: 'plan.worker';
      ts: string;
      taskId: string;
      workerId: string;
      /** initial, heal, acceptance, review, conflict or smoke. */
      purpose: string;
      phase: 'started' | 'finished';
      status?: string;
      tokens?: number;
      /** Why a finished worker did not complete (stall, crash, `aborted`). */
      reason?: string;
      /** Finished workers and reviews: their tokens by kind, and the model (for the price). */
      usage?: { input: number; cachedInput: number; output: number };
      model?: string | null;
    }
  | { type: 'plan.decision'; ts: string; taskId?: string; kind: string; action: string; reason: string }
  /** What a codex worker is doing now (from its codex events), for the live view and `runs tail`. */
  | { type: 'worker.activity'; ts: string; worktree: string; taskId?: string; workerId?: string; activity: CodexActivity }
  // The merge gate of `run --approve` (src/orchestrator/approval-gate.ts).
  | { type: 'approval.requested'; ts: string; runId: string; taskId: string; branch: string; head: string | null }
  | { type: 'approval.decided'; ts: string; runId: string; taskId: string; decision: 'approved' | 'rejected'; note: string | null }
  | { type: 'plan.finished'; ts: string; runId: string; allMerged: boolean; merged: number; total: number; stoppedBy: string | null };

/** How a run ended, as the report and the `run.finished` event say it (the store's `RunStatus` has the in-between states too). */
export type RunOutcome = 'succeeded' | 'failed' | 'aborted';

/** How a run was started: the agent (runOrchestrator), a person's plan (run --plan), or runs merge over a stopped plan run. */
export type Road = 'agent' | 'plan' | 'merge';

export type RunEventListener = (event: RunEvent) => void;

export function now(): string {
  return new Date().toISOString();
}

/** The `command.finished` event of one gateway call. */
export function commandFinishedEvent(
  request: CommandRequest,
  result: CommandResult,
  entry: CommandLogEntry,
): Extract<RunEvent, { type: 'command.finished' }> {
  return {
    type: 'command.finished',
    ts: now(),
    worktree: request.worktree,
    command: request.command,
    allowed: entry.allowed,
    rule: entry.rule,
    exitCode: entry.exitCode,
    durationMs: entry.durationMs,
    dryRun: entry.dryRun,
    worker: result.worker
      ? {
          status: result.worker.status,
          goalMet: result.worker.goalMet,
          summary: result.worker.summary,
          usage: {
            input: result.worker.usage.inputTokens,
            cachedInput: result.worker.usage.cachedInputTokens,
            output: result.worker.usage.outputTokens,
          },
        }
      : undefined,
  };
}

/** The `command.security` event of a gateway call that changed repository metadata it may not, or null. */
export function commandSecurityEvent(
  request: CommandRequest,
  result: CommandResult,
): Extract<RunEvent, { type: 'command.security' }> | null {
  if (!result.securityEvent) return null;
  return { type: 'command.security', ts: now(), worktree: request.worktree, command: request.command, detail: result.securityEvent };
}
