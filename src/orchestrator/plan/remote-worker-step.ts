/**
 * The plan executor's worker launcher when a job queue is configured: the
 * worker step (a worker on the subtask's branch, then its acceptance command)
 * runs on an agent machine through the queue, and its result is turned back
 * into the `WorkerRun` the executor already handles. The branch comes back as
 * a bundle and the local branch (and worktree) move forward to it.
 */
import { resolveCommit, runGit } from '../../git/repo.js';
import type { RemoteWorkers } from '../../queue/remote-workers.js';
import type { SubtaskProgress } from '../../queue/subtask-job.js';
import type { WorkerRun } from '../../workers/codex/index.js';
import type { WorkerLaunchResult, WorkerLauncher } from './worker-launch.js';

export interface RemoteLauncherOptions {
  onProgress?: (taskId: string, p: SubtaskProgress) => void;
  onQueued?: (taskId: string, jobId: string) => void;
}

export function remoteLauncher(remote: RemoteWorkers, options: RemoteLauncherOptions = {}): WorkerLauncher {
  return {
    remote: true,
    async launch(r): Promise<WorkerLaunchResult> {
      const { mainDir, mainBranch, setup } = r.repo;
      const mainSha = await resolveCommit(mainDir, `refs/heads/${mainBranch}`);
      const base = (await runGit(mainDir, ['merge-base', `refs/heads/${mainBranch}`, `refs/heads/${r.task.branch}`])).stdout.trim();
      const started = Date.now();
      const out = await remote.run(
        {
          runId: r.runId,
          taskId: r.task.id,
          slug: r.task.slug,
          purpose: r.task.purpose,
          prompt: r.prompt,
          setup,
          acceptance: r.task.acceptance || undefined,
          commitMessage: r.task.commitMessage,
          baseCommit: base,
          branch: r.task.branch,
          worktree: r.cwd,
          mergeFrom: (r.task.mergeMain && mainSha) || undefined,
          revert: r.task.revert,
          priority: r.task.priority,
        },
        {
          signal: r.signal,
          onProgress: (p: SubtaskProgress) => {
            // The agent's worker, seen here as if it ran here; the agent's own stages (setup, acceptance, bundling) as a line of their own.
            if (p.codex) r.onActivity?.(p.codex);
            else if (p.stage !== 'worker' && p.stage !== 'done')
              r.onActivity?.({ kind: 'tool', text: `agent ${p.agent}: ${p.stage}${p.activity ? ` ${p.activity}` : ''}` });
            options.onProgress?.(r.task.id, p);
          },
          onQueued: options.onQueued ? (jobId: string) => options.onQueued?.(r.task.id, jobId) : undefined,
        },
      );
      const w = out.result.worker;
      const known: WorkerRun['status'][] = ['complete', 'stuck', 'error', 'running', 'pending'];
      const status = known.includes(w.status as WorkerRun['status']) ? (w.status as WorkerRun['status']) : 'error';
      const unresolved = out.result.unresolved.length ? `; conflicts left unresolved in ${out.result.unresolved.join(', ')}` : '';
      const setupFailed = out.result.setup.find((s) => !s.ok);
      const reason = setupFailed
        ? `setup \`${setupFailed.command}\` failed on agent ${out.result.agent}: ${setupFailed.log.slice(-400)}${unresolved}`
        : w.reason !== undefined || unresolved
          ? `${w.reason ?? ''}${unresolved}`
          : undefined;
      return {
        status: unresolved || setupFailed ? 'error' : status,
        result:
          w.goalMet === null
            ? null
            : {
                goal_met: w.goalMet,
                summary: w.summary,
                followup_prompt: w.followup ?? '',
                notes: `ran on agent ${out.result.agent} (job ${out.jobId})`,
              },
        threadId: null,
        runDir: w.runDir,
        usage: w.usage,
        exitCode: null,
        durationMs: Date.now() - started,
        reason,
        attempts: 1,
        changedFiles: w.changedFiles,
        profile: 'fast',
        warnings: out.duplicate ? [`a duplicate result of job ${out.jobId} was ignored`] : [],
        acceptanceRun: out.result.acceptance
          ? { ok: out.result.acceptance.ok, exitCode: out.result.acceptance.exitCode, log: out.result.acceptance.log }
          : null,
      };
    },
  };
}
