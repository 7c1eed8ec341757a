/**
 * The plan executor's nouns: its context, what it returns, the per-subtask
 * working record, and the control-flow errors a step throws (routed in one
 * place by execute-plan.ts).
 */
import type { Config } from '../../config/config.js';
import { isOrchestratorError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Gate, Manifest, ManifestTask, TaskStatus } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { GatewayContext } from '../../tools/run-repo-command/gateway.js';
import type { CommandResult } from '../../tools/run-repo-command/types.js';
import type { WorkerRun } from '../../workers/codex/index.js';
import type { RunEventListener } from '../events.js';
import type { ReviewFn, ReviewVerdict } from '../review/types.js';
import type { PlanBudgets } from './budgets.js';
import type { WorkerLauncher } from './worker-launch.js';

export interface PlanRunContext {
  config: Config;
  /** Absolute base dir holding main/ and the task-* worktrees. */
  baseDir: string;
  runId: string;
  /** `<stateDir>/runs/<runId>`: manifest.json and decisions.jsonl go here (workers go under config.stateDir). */
  runDir: string;
  /** The guarded gateway: setup, acceptance, smoke and archive commands run through it. */
  gateway: GatewayContext;
  /** The review agent; without it branches are merged once their acceptance command passes. */
  review?: ReviewFn;
  /** Most subtasks running at once (the scheduler's WIP limit); default 3. */
  maxParallel?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: RunEventListener;
  /** Optional run store: subtasks, workers and merges are mirrored there (the run must exist in it). */
  store?: Store;
  budgets?: PlanBudgets;
  /** What a dependency must reach before dependants start (default 'merged'). */
  gate?: Gate;
  /** Review rework rounds before the subtask is `error` (default 2). */
  maxReviewRounds?: number;
  /** Rounds of "the acceptance command failed, fix it" before `error` (default 2). */
  maxAcceptanceFixes?: number;
  /** Self-heal restarts of a worker that ended stuck or error (default 1). */
  maxHeals?: number;
  /** Merge attempts per subtask, conflict and smoke reworks included (default 3). */
  maxMergeAttempts?: number;
  /** Bytes of diff shown to the reviewer (default 200 kB). */
  maxDiffBytes?: number;
  /** Extra environment for codex workers (CODEX_HOME, keys for a local provider). */
  workerEnv?: NodeJS.ProcessEnv;
  /** Worker stall timeout in ms (default: config.workerStallSeconds). */
  workerStallMs?: number;
  /** How long a merge waits for a dirty main/ before answering main-dirty (default 5 min). */
  dirtyWaitMs?: number;
  dirtyPollMs?: number;
  /** Where the task templates are (default prompts/templates of the package). */
  templatesDir?: string;
  /**
   * Merge only (`codex-orch runs merge`): of a saved manifest, only the `complete`
   * subtasks are handled — straight to the merge queue, no worker, no review.
   * Nothing else is started or changed (a `running` one stays as it is). A
   * merge that needs rework (conflict, failed smoke test) or cannot happen
   * (main/ dirty) leaves the subtask `complete` with the reason, for a resume.
   */
  mergeOnly?: boolean;
  /**
   * Stop before each merge until a person approves it in the store
   * (`codex-orch runs approve|reject`); default: the repository settings'
   * `approve`. Needs `store`.
   */
  approve?: boolean;
  /** How often a waiting merge reads the store for the decision (default 500 ms). */
  approvalPollMs?: number;
  /** Starts one worker (default: a codex process through the worker layer); the seam a queue backend replaces. */
  launcher?: WorkerLauncher;
}

export type WorkerPurpose = 'initial' | 'heal' | 'acceptance' | 'review' | 'approval' | 'conflict' | 'smoke';

export interface PlanWorkerRecord {
  taskId: string;
  workerId: string;
  purpose: WorkerPurpose;
  worktree: string;
  status: WorkerRun['status'];
  threadId: string | null;
  runDir: string;
  usage: WorkerRun['usage'];
  durationMs: number;
  goalMet: boolean | null;
  summary: string;
  reason?: string;
  changedFiles: string[];
}

export interface PlanMergeRecord {
  taskId: string;
  branch: string;
  sha: string;
  at: string;
  /** Which merge attempt of the subtask succeeded (1 = first). */
  attempt: number;
}

export interface ReviewRecord {
  round: number;
  verdict: ReviewVerdict['verdict'];
  risk: ReviewVerdict['risk'];
  comments: string;
}

/** One subtask, compact: what the run_plan tool returns to the orchestrator model per subtask. */
export interface SubtaskSummary {
  id: string;
  title: string;
  status: TaskStatus;
  attempts: number;
  reason: string | null;
  branch: string | null;
  worktree: string | null;
  workers: number;
  reviews: ReviewRecord[];
  merge: { sha: string | null; attempts: number; conflicts: number; smokeFailures: number; outcome: string | null };
  /** The last worker's own summary (≤ 400 characters). */
  summary: string;
}

/** An acceptance or smoke command the plan ran, so the report can list it under Tests. */
export interface PlanTestRun {
  taskId: string;
  kind: 'acceptance' | 'smoke';
  worktree: string;
  command: string;
}

export interface PlanRunResult {
  manifest: Manifest;
  manifestFile: string;
  /** The acceptance and smoke commands run (their results are in the run's command records). */
  testRuns: PlanTestRun[];
  /** The smoke command from .codex-orchestrator.json (null: main was not tested after merges) and the repository's own test command, as a suggestion. */
  smoke: { command: string | null; suggested: { command: string; from: string } | null };
  /** Every task worktree this run created (also those removed after their merge). */
  worktreesCreated: string[];
  decisionsFile: string;
  subtasks: SubtaskSummary[];
  /** Merges into main, in the order they happened. */
  merges: PlanMergeRecord[];
  workers: PlanWorkerRecord[];
  tokens: { workers: { input: number; cachedInput: number; output: number }; review: { input: number; output: number }; total: number };
  decisions: number;
  allMerged: boolean;
  /** Why scheduling stopped early (a budget or the abort signal); null when the plan ran to its end. */
  stoppedBy: string | null;
  aborted: boolean;
  /** Subtasks not merged, with their status and reason. */
  left: { id: string; status: TaskStatus; reason: string | null }[];
  wallTimeMs: number;
}

/** Thrown inside a subtask job when the run is stopping (abort or budget): the subtask is left for later. */
export class Interrupted extends Error {}
/** Thrown when a subtask's branch is ready but not merged now (merge-only mode, a stopped queue): it stays `complete` with this reason. */
export class LeftComplete extends Error {}
/** Thrown inside a subtask job for an outcome that ends the subtask as stuck or error. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly status: 'stuck' | 'error' = 'error',
  ) {
    super(message);
  }
}

/** How one subtask's job ended, for the executor's one routing place. */
export type SubtaskOutcome =
  | { type: 'done' }
  | { type: 'left-complete'; reason: string }
  | { type: 'interrupted'; reason: string }
  | { type: 'failed'; reason: string; status: 'stuck' | 'error'; unexpected?: unknown };

/** A step's thrown control-flow error (or any other error) as an outcome; `status` is the subtask's scheduler status now. */
export function outcomeOf(error: unknown, status: TaskStatus | undefined): SubtaskOutcome {
  if (error instanceof LeftComplete) return { type: 'left-complete', reason: error.message };
  if (error instanceof Interrupted) {
    if (status === 'complete') return { type: 'left-complete', reason: `left: ${error.message}; its branch waits for the merge queue` };
    return { type: 'interrupted', reason: error.message };
  }
  if (error instanceof TaskFailure) return { type: 'failed', reason: error.message, status: error.status };
  return {
    type: 'failed',
    reason: isOrchestratorError(error) ? error.toLine() : `unexpected: ${(error as Error).message}`,
    status: 'error',
    unexpected: error,
  };
}

export interface TaskRun {
  /** A launcher that ran the acceptance command with the worker (an agent machine): its result, not yet consumed. */
  remoteAcceptance?: { ok: boolean; exitCode: number | null; log: string } | null;
  /** A remote launcher's next worker merges main into the branch first (conflict rework). */
  remoteMergeMain?: boolean;
  /** A remote launcher's next worker restores the branch first by reverting this revert (smoke rework with conflicts). */
  remoteRevert?: { commit: string; message: string };
  /** The scheduler's longest remaining path from this subtask (estimated cost, itself included): a queue runs longer ones first. */
  priority: number;
  id: string;
  slug: string;
  wtName: string;
  worktree: string;
  branch: string;
  mt: ManifestTask;
  prompt: string;
  acceptance: string | undefined;
  threadId: string | null;
  workerSeq: number;
  workerCount: number;
  acceptanceFixes: number;
  reviewReworks: number;
  reviews: ReviewRecord[];
  lastAcceptance: { passed: boolean | null; log: string };
  lastSummary: string;
  merge: SubtaskSummary['merge'];
}

export const DEFAULTS = {
  maxParallel: 3,
  maxReviewRounds: 2,
  maxAcceptanceFixes: 2,
  maxHeals: 1,
  maxMergeAttempts: 3,
  maxDiffBytes: 200_000,
};

export function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 10) : '—';
}

/** How a gateway command ended, for a decision line: the guard's denial, the sandbox's refusal or blocks, or the exit code. */
export function commandOutcome(r: CommandResult): string {
  if (r.denied) return 'was denied by the guard';
  if (r.sandbox?.refused) return `was refused by the sandbox: ${r.sandbox.refused}`;
  const blocked = r.sandbox?.denials.length
    ? `; the sandbox (${r.sandbox.backend}, ${r.sandbox.profile}) blocked: ${r.sandbox.denials.join(' | ')}`
    : '';
  return `exited ${r.exitCode ?? 'none'}${blocked}${r.securityEvent ? `; SECURITY: ${r.securityEvent}` : ''}`;
}

export function commandLog(r: CommandResult): string {
  if (r.denied) return `denied by rule ${r.rule}: ${r.reason}`;
  return [r.stdout, r.stderr].filter((s) => s.trim() !== '').join('\n');
}
