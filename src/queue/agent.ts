/**
 * `codex-orch agent`: a BullMQ worker on a machine with clones of the
 * repositories it serves. One queue per repository (`subtasks.<repoId>`), so
 * an agent only takes work it has a clone for. Codex runs as a child process,
 * so the event loop stays free to renew job locks; a lock of minutes (not
 * BullMQ's 30 s default) fits jobs that build and test. A dead agent's job
 * stalls and is retried by another agent, from the base commit.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../config/config.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Policy } from '../tools/run-repo-command/policy-file.js';
import { warmSlots } from './agent-worktrees.js';
import { openArtifactStore, type ArtifactStore } from './artifacts.js';
import { redisConnection } from './connection.js';
import { subtaskQueueName } from './names.js';
import { subtaskJobSchema, type SubtaskProgress, type SubtaskResult } from './subtask-job.js';
import { defaultAgentId, runSubtaskJob, type AgentRepo } from './subtask-runner.js';
import { detectCapabilities, resolveCodexBinary } from '../workers/codex/index.js';

export interface AgentOptions {
  config: Config;
  policy: Policy;
  url: string;
  prefix: string;
  repos: AgentRepo[];
  /** This machine's artifact store; without it, each job's own `artifacts` location is used (with `artifactsToken`). */
  artifacts?: ArtifactStore;
  artifactsToken?: string;
  /** Jobs at once on this machine (each one codex process). Default 1. */
  concurrency?: number;
  lockMs: number;
  stalledMs: number;
  /** How often a job may stall before it fails for good (default 2). */
  maxStalledCount?: number;
  agentId?: string;
  logger?: Logger;
  workerEnv?: NodeJS.ProcessEnv;
  workerStallMs?: number;
  onStatus?: (line: string) => void;
  onJob?: (event: { phase: 'started' | 'finished' | 'failed'; jobId: string; repoId: string; detail?: string }) => void;
}

export interface AgentHandle {
  readonly agentId: string;
  /** Stops taking jobs; running jobs finish first unless `force`. */
  close(force?: boolean): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const agentId = options.agentId ?? defaultAgentId();
  const log = (options.logger ?? silentLogger).child({ component: 'agent', agentId });
  const workers: Worker[] = [];
  const connections: { disconnect(): void }[] = [];
  // Codex is found and its flags read now (once per process), before anything is touched: a missing codex stops the
  // agent with one line instead of failing every job it would take, and the first jobs do not all pay for the probe.
  const codex = await detectCapabilities(resolveCodexBinary(options.config).path);
  log.info({ codex: codex.version }, 'codex found');
  // Each job slot's worktree is made now, not by the first jobs.
  await Promise.all(options.repos.map((repo) => warmSlots(repo.clone, repo.workDir, options.concurrency ?? 1, log)));
  for (const repo of options.repos) {
    const connection = redisConnection({ url: options.url, onStatus: (_s, line) => options.onStatus?.(line) });
    connections.push(connection);
    const worker = new Worker<unknown, SubtaskResult>(
      subtaskQueueName(repo.id),
      async (job: Job<unknown, SubtaskResult>, _token?: string, signal?: AbortSignal) => {
        const data = subtaskJobSchema.parse(job.data);
        const artifacts =
          options.artifacts ??
          (data.artifacts ? openArtifactStore(data.artifacts, { token: options.artifactsToken || undefined }) : undefined);
        if (!artifacts) throw new UnrecoverableError(`job ${job.id} names no artifact store and this agent has none (--artifacts)`);
        options.onJob?.({ phase: 'started', jobId: job.id ?? '', repoId: repo.id });
        const result = await runSubtaskJob(
          data,
          {
            config: options.config,
            policy: options.policy,
            artifacts,
            repo,
            agentId,
            logger: log,
            workerEnv: options.workerEnv,
            workerStallMs: options.workerStallMs,
          },
          {
            signal,
            onProgress: (p: SubtaskProgress) => {
              job.updateProgress(p).catch((error: unknown) => log.debug({ err: error }, 'progress not sent'));
              if (p.activity && p.stage !== 'worker') job.log(`${p.stage}: ${p.activity}`).catch(() => undefined);
            },
          },
        );
        options.onJob?.({ phase: 'finished', jobId: job.id ?? '', repoId: repo.id, detail: result.worker.status });
        return result;
      },
      {
        connection,
        prefix: options.prefix,
        concurrency: options.concurrency ?? 1,
        lockDuration: options.lockMs,
        stalledInterval: options.stalledMs,
        maxStalledCount: options.maxStalledCount ?? 2,
        autorun: true,
      },
    );
    worker.on('failed', (job, error) => {
      log.warn({ err: error, jobId: job?.id }, 'job failed');
      options.onJob?.({ phase: 'failed', jobId: job?.id ?? '', repoId: repo.id, detail: error.message });
    });
    worker.on('error', (error) => log.warn({ err: error }, 'agent worker error'));
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    agentId,
    close: async (force = false) => {
      await Promise.all(workers.map((w) => w.close(force)));
      // BullMQ does not close connections it was given.
      for (const c of connections) c.disconnect();
    },
  };
}
