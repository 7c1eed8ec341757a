/**
 * The executor's one seam for starting a worker: a `WorkerLauncher` takes what
 * the subtask needs done (prompt, worktree, thread to resume) and resolves
 * with the worker's run when it has ended. The default runs a codex process
 * through the worker layer on this machine; a queue backend (workers on other
 * machines) replaces this object and nothing else.
 */
import type { Config } from '../../config/config.js';
import type { Logger } from '../../logging/logger.js';
import type { WorkerStatus as StoreWorkerStatus } from '../../store/index.js';
import {
  runCodexWorker,
  type CodexActivity,
  type CodexEvent,
  type RunCodexWorkerOptions,
  type WorkerRun,
} from '../../workers/codex/index.js';

export interface WorkerLaunchRequest {
  prompt: string;
  /** The subtask's worktree. */
  cwd: string;
  config: Config;
  runId: string;
  workerId: string;
  /** Resume this codex thread; null starts a new one. */
  threadId: string | null;
  signal: AbortSignal;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  stallMs?: number;
  /** Each codex event as it arrives (activity for the live view, usage for the budget). */
  onEvent?: (e: CodexEvent) => void;
  /** What the worker did, already read (a launcher whose codex runs elsewhere reports this instead of events). */
  onActivity?: (a: CodexActivity) => void;
  /** The subtask the worker is for: a launcher that runs elsewhere needs more than the prompt. */
  task: {
    id: string;
    slug: string;
    purpose: string;
    branch: string;
    worktreeName: string;
    acceptance: string | undefined;
    commitMessage: string;
    /** Conflict rework on another machine: merge main's head into the branch there first. */
    mergeMain?: boolean;
    /** Longest remaining path of the plan from this subtask: a queue takes higher first. */
    priority?: number;
    /** Smoke rework with conflicts on another machine: revert this revert of the branch's merge there first, message included. */
    revert?: { commit: string; message: string };
  };
  /** The repository: main/, its branch, and the setup commands of a new worktree. */
  repo: { mainDir: string; mainBranch: string; setup: string[] };
}

/** A worker's end, and for a launcher that also ran the acceptance command (an agent machine), that result. */
export interface WorkerLaunchResult extends WorkerRun {
  acceptanceRun?: { ok: boolean; exitCode: number | null; log: string } | null;
}

export interface WorkerLauncher {
  launch: (request: WorkerLaunchRequest) => Promise<WorkerLaunchResult>;
  /**
   * The worker runs on another machine (an agent): it makes its own worktree
   * (running the setup commands there) and its own acceptance run, and a
   * conflict is merged there, since conflict markers cannot travel in a bundle.
   */
  remote?: boolean;
}

/** Codex on this machine, profile fast (escalating to deep), through the worker layer. */
export const codexLauncher: WorkerLauncher = {
  launch(r) {
    const options: RunCodexWorkerOptions = {
      prompt: r.prompt,
      cwd: r.cwd,
      config: r.config,
      profile: 'fast',
      runId: r.runId,
      workerId: r.workerId,
      threadId: r.threadId || undefined,
      signal: r.signal,
      logger: r.logger,
      env: r.env,
      stallMs: r.stallMs,
      onEvent: r.onEvent,
    };
    return runCodexWorker(options);
  },
};

/** A worker run's end → the store's worker status. */
export function storeWorkerStatus(run: WorkerRun): StoreWorkerStatus {
  if (run.status === 'complete') return 'succeeded';
  if (run.status === 'stuck') return 'stalled';
  if (run.reason === 'aborted') return 'aborted';
  return 'failed';
}
