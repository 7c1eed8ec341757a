/**
 * The plan executor's worker step when a job queue is configured: the same
 * step (a worker on the subtask's branch, then its acceptance command) run by
 * an agent machine through the queue, its result turned back into the
 * `WorkerRun` the executor already handles. The branch comes back as a
 * bundle and the local branch (and worktree) move forward to it.
 */
import { resolveCommit, runGit } from '../../git/repo.js';
import type { RemoteWorkers } from '../../queue/remote-workers.js';
import type { SubtaskProgress } from '../../queue/subtask-job.js';
import type { WorkerRun } from '../../workers/codex/index.js';

export interface RemoteStepInput {
  runId: string;
  taskId: string;
  slug: string;
  purpose: string;
  prompt: string;
  /** The repository's setup commands: every agent attempt starts in a fresh worktree and runs them. */
  setup: string[];
  acceptance: string | undefined;
  commitMessage: string;
  mainDir: string;
  mainBranch: string;
  branch: string;
  worktree: string;
  /** Merge main's head into the branch on the agent first (conflict rework). */
  mergeMain?: boolean;
  signal: AbortSignal;
  onProgress?: (p: SubtaskProgress) => void;
  onQueued?: (jobId: string) => void;
}

export interface RemoteStepResult {
  run: WorkerRun;
  /** The agent's acceptance run, when the job had an acceptance command and the worker completed. */
  acceptance: { ok: boolean; exitCode: number | null; log: string } | null;
  jobId: string;
  agent: string;
}

export async function runRemoteWorkerStep(remote: RemoteWorkers, input: RemoteStepInput): Promise<RemoteStepResult> {
  const mainSha = await resolveCommit(input.mainDir, `refs/heads/${input.mainBranch}`);
  const base = (await runGit(input.mainDir, ['merge-base', `refs/heads/${input.mainBranch}`, `refs/heads/${input.branch}`])).stdout.trim();
  const started = Date.now();
  const out = await remote.run(
    {
      runId: input.runId,
      taskId: input.taskId,
      slug: input.slug,
      purpose: input.purpose,
      prompt: input.prompt,
      setup: input.setup,
      ...(input.acceptance ? { acceptance: input.acceptance } : {}),
      commitMessage: input.commitMessage,
      baseCommit: base,
      branch: input.branch,
      worktree: input.worktree,
      ...(input.mergeMain && mainSha ? { mergeFrom: mainSha } : {}),
    },
    {
      signal: input.signal,
      ...(input.onProgress ? { onProgress: input.onProgress } : {}),
      ...(input.onQueued ? { onQueued: input.onQueued } : {}),
    },
  );
  const w = out.result.worker;
  const status: WorkerRun['status'] = w.status === 'complete' || w.status === 'stuck' || w.status === 'error' || w.status === 'running' || w.status === 'pending' ? w.status : 'error';
  const unresolved = out.result.unresolved.length ? `; conflicts left unresolved in ${out.result.unresolved.join(', ')}` : '';
  const setupFailed = out.result.setup.find((s) => !s.ok);
  const run: WorkerRun = {
    status: unresolved ? 'error' : status,
    result: w.goalMet === null ? null : { goal_met: w.goalMet, summary: w.summary, followup_prompt: w.followup ?? '', notes: `ran on agent ${out.result.agent} (job ${out.jobId})` },
    threadId: null,
    runDir: w.runDir,
    usage: w.usage,
    exitCode: null,
    durationMs: Date.now() - started,
    ...(w.reason !== undefined || unresolved || setupFailed
      ? { reason: `${setupFailed ? `setup \`${setupFailed.command}\` failed on agent ${out.result.agent}: ${setupFailed.log.slice(-400)}` : (w.reason ?? '')}${unresolved}` }
      : {}),
    attempts: 1,
    changedFiles: w.changedFiles,
    profile: 'fast',
    warnings: out.duplicate ? [`a duplicate result of job ${out.jobId} was ignored`] : [],
  };
  return {
    run,
    acceptance: out.result.acceptance ? { ok: out.result.acceptance.ok, exitCode: out.result.acceptance.exitCode, log: out.result.acceptance.log } : null,
    jobId: out.jobId,
    agent: out.result.agent,
  };
}
