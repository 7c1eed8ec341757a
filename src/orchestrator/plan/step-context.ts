import type { Logger } from '../../logging/logger.js';
import type { RepoSettings } from '../../git/index.js';
import type { ScheduleEvent } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { GatewayContext } from '../../tools/run-repo-command/gateway.js';
import type { CommandResult } from '../../tools/run-repo-command/types.js';
import type { RunEvent } from '../events.js';
import type { TokenTally } from '../../cost/index.js';
import type { ApprovalGate } from '../approval-gate.js';
import type { BudgetTracker } from './budgets.js';
import type { DecisionKind } from './decisions-log.js';
import type { PlanMergeRecord, PlanRunContext, PlanTestRun, PlanWorkerRecord, TaskRun } from './plan-types.js';

/**
 * What the plan executor's steps share: the run's context and settings, the
 * plan state's writers (decisions, scheduler transitions, manifest, store
 * mirror), the stop switch, the guarded gateway, and the result's records.
 * Built once by executePlan; each step module takes it.
 */
export interface StepContext {
  ctx: PlanRunContext;
  log: Logger;
  baseDir: string;
  mainDir: string;
  mainBranch: string;
  settings: RepoSettings;
  mergeOnly: boolean;
  limits: { maxReviewRounds: number; maxAcceptanceFixes: number; maxHeals: number; maxMergeAttempts: number };
  emit: (event: RunEvent) => void;
  decide: (kind: DecisionKind, action: string, reason: string, taskId?: string, data?: Record<string, unknown>) => void;
  transition: (event: ScheduleEvent, reason: string, data?: Record<string, unknown>) => void;
  withStore: (what: string, fn: (s: Store) => void) => void;
  save: () => void;
  /** Throws Interrupted when the run is stopping hard (abort, wall or token budget). */
  checkpoint: () => void;
  stopping: () => boolean;
  stoppedBy: () => string | null;
  /** Aborted when running work must stop. */
  signal: AbortSignal;
  budget: BudgetTracker;
  gateway: GatewayContext;
  /** A gateway call; one that changed repository metadata it may not stops its subtask. `setup` lines may install. */
  runCommand: (worktree: string, command: string, taskId?: string, purpose?: 'setup') => Promise<CommandResult>;
  /** The price of a token tally for a model, or null when the price table does not know it. */
  priced: (model: string | null, t: TokenTally) => number | null;
  workerModelName: string | null;
  reviewModelName: string;
  workers: PlanWorkerRecord[];
  merges: PlanMergeRecord[];
  reviewTokens: { input: number; output: number };
  testRuns: PlanTestRun[];
  /** The approval gate before each merge, when the run asks for one. */
  gate: ApprovalGate | undefined;
  /** Subtasks git already had in main when this run reached them, with the note for the report. */
  alreadyInMain: Map<string, string>;
  /** Makes the subtask's worktree when its branch has none (the queue road makes branches only). */
  ensureWorktree: (t: TaskRun) => Promise<void>;
}
