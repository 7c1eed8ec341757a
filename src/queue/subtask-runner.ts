/**
 * One subtask job on an agent machine, independent of the queue that brought
 * it: make sure the clone has the commits the job builds on (from bundles),
 * make a worktree, run the repository's setup, the codex worker, the
 * acceptance command, commit on the host (codex's sandbox keeps .git
 * read-only), and hand back the branch as an incremental bundle.
 *
 * Every repository command goes through the same guarded, sandboxed gateway
 * as on the orchestrator's machine. Nothing is pushed; the clone's remotes are
 * never used. Worktrees and branches are the agent's own: a fresh pair per job
 * attempt (`task-<slug>-<job>`), so a retry never meets a half-done one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { describeError, QueueError } from '../errors.js';
import { createBundle, fetchBundle } from '../git/bundle.js';
import { headSha, resolveCommit, runGit, unmergedFiles } from '../git/repo.js';
import { commitAll, createWorktree, removeWorktree } from '../git/worktrees.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { runRepoCommand, type GatewayContext } from '../tools/run-repo-command/gateway.js';
import type { Policy } from '../tools/run-repo-command/policy-file.js';
import type { CommandResult } from '../tools/run-repo-command/types.js';
import type { CodexEvent } from '../workers/codex/events.js';
import { runCodexWorker } from '../workers/codex/index.js';
import type { ArtifactStore } from './artifacts.js';
import { subtaskJobId } from './names.js';
import type { SubtaskJob, SubtaskProgress, SubtaskResult } from './subtask-job.js';

export interface AgentRepo {
  id: string;
  /** The agent's clone (a normal checkout; it is read, and gets refs and worktrees, never pushes). */
  clone: string;
  /** Where this agent puts its worktrees for the repository (a base dir of its own). */
  workDir: string;
}

export interface SubtaskRunnerContext {
  config: Config;
  policy: Policy;
  artifacts: ArtifactStore;
  repo: AgentRepo;
  /** Identifies this agent in results and progress (host:pid by default). */
  agentId: string;
  logger?: Logger;
  /** Extra environment for codex (CODEX_HOME, a local provider's key). */
  workerEnv?: NodeJS.ProcessEnv;
  workerStallMs?: number;
}

export function defaultAgentId(): string {
  return `${os.hostname()}:${process.pid}`;
}

function commandText(r: CommandResult): string {
  if (r.denied) return `denied by rule ${r.rule}: ${r.reason}`;
  return [r.stdout, r.stderr]
    .filter((s) => s.trim() !== '')
    .join('\n')
    .slice(-8_000);
}

function activityOf(e: CodexEvent): string | undefined {
  if (e.type !== 'item.started' && e.type !== 'item.completed') return undefined;
  const item = e.item as { type: string; command?: string; text?: string; changes?: { path: string }[] };
  if (item.type === 'command_execution' && item.command) return `$ ${item.command}`.slice(0, 160);
  if (item.type === 'file_change' && item.changes?.length) return `edit ${item.changes.map((c) => c.path).join(', ')}`.slice(0, 160);
  if (item.type === 'agent_message' && item.text) return item.text.replace(/\s+/g, ' ').slice(0, 160);
  return undefined;
}

/** Makes sure `commit` is in the clone, fetching the job's bundle when it is not. */
async function ensureCommit(ctx: SubtaskRunnerContext, tmp: string, bundle: SubtaskJob['baseBundle'], name: string): Promise<string> {
  const have = await resolveCommit(ctx.repo.clone, `${bundle.sha}^{commit}`);
  if (have === bundle.sha) return bundle.sha;
  const file = path.join(tmp, `${name}.bundle`);
  await ctx.artifacts.get(bundle.artifact, file);
  return fetchBundle(ctx.repo.clone, file, { ref: bundle.ref, name });
}

/**
 * Runs one job attempt to the end and returns its result. Throws only for
 * infrastructure faults (no clone, a bundle that does not verify, git
 * failing); a worker that fails or a failing acceptance command is a result.
 */
export async function runSubtaskJob(
  job: SubtaskJob,
  ctx: SubtaskRunnerContext,
  options: { signal?: AbortSignal; onProgress?: (p: SubtaskProgress) => void } = {},
): Promise<SubtaskResult> {
  const log = (ctx.logger ?? silentLogger).child({ component: 'agent', runId: job.runId, taskId: job.taskId, attempt: job.attempt });
  const jobId = subtaskJobId(job.runId, job.taskId, job.attempt);
  const progress = (p: Omit<SubtaskProgress, 'agent'>) => {
    try {
      options.onProgress?.({ ...p, agent: ctx.agentId });
    } catch (error) {
      log.warn({ err: error }, 'progress listener threw');
    }
  };
  if (!fs.existsSync(path.join(ctx.repo.clone, '.git'))) {
    throw new QueueError(`repository ${job.repoId}: ${ctx.repo.clone} is not a git clone`, { hint: 'pass --repo <id>=<path to a clone>' });
  }
  fs.mkdirSync(ctx.repo.workDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-orch-agent-'));
  // The worktree of this attempt: unique, so an earlier attempt on this machine is never in the way.
  const attemptSlug = `${job.slug}-${job.attempt}-${crypto.randomBytes(3).toString('hex')}`;
  const wtName = `task-${attemptSlug}`;
  try {
    progress({ stage: 'preparing' });
    const base = await ensureCommit(ctx, tmp, job.baseBundle, `base-${jobId}`);
    const start = job.startBundle ? await ensureCommit(ctx, tmp, job.startBundle, `start-${jobId}`) : base;
    const wt = await createWorktree(ctx.repo.workDir, attemptSlug, { from: start, mainDir: ctx.repo.clone });
    const gateway: GatewayContext = {
      config: ctx.config,
      baseDir: ctx.repo.workDir,
      policy: ctx.policy,
      logger: log,
      runId: job.runId,
      commandLog: null,
      ...(options.signal ? { signal: options.signal } : {}),
    };

    let unresolvedBefore: string[] = [];
    let merging = false;
    if (job.mergeFrom) {
      const main = await ensureCommit(ctx, tmp, job.mergeFrom, `main-${jobId}`);
      const m = await runGit(wt.path, ['merge', '--no-ff', '--no-commit', '--no-edit', main], { allowFail: true });
      merging = m.exitCode === 0 || (await unmergedFiles(wt.path)).length > 0;
      unresolvedBefore = await unmergedFiles(wt.path);
      log.info({ main, conflicts: unresolvedBefore }, 'merged main into the branch for rework');
    }

    const setup: SubtaskResult['setup'] = [];
    if (wt.state === 'new') {
      for (const command of job.setup) {
        progress({ stage: 'setup', activity: command });
        const r = await runRepoCommand({ worktree: wtName, command }, gateway);
        setup.push({ command, ok: r.ok, exitCode: r.exitCode, log: commandText(r) });
        if (!r.ok) break;
      }
    }
    const setupFailed = setup.some((s) => !s.ok);

    const counts = { commands: 0, fileChanges: 0, messages: 0 };
    let tokens = 0;
    progress({ stage: 'worker' });
    const conflictNote = unresolvedBefore.length
      ? `\n\nBefore you start: main was merged into this branch and these files have conflicts to resolve (keep both sides' intent): ${unresolvedBefore.join(', ')}.`
      : '';
    const worker = setupFailed
      ? null
      : await runCodexWorker({
          prompt: `${job.prompt}${conflictNote}`,
          cwd: wt.path,
          config: ctx.config,
          profile: job.profile,
          runId: job.runId,
          workerId: `${job.slug}-a${job.attempt}`,
          ...(options.signal ? { signal: options.signal } : {}),
          logger: log,
          ...(ctx.workerEnv ? { env: ctx.workerEnv } : {}),
          ...(ctx.workerStallMs !== undefined ? { stallMs: ctx.workerStallMs } : {}),
          onEvent: (e) => {
            if (e.type === 'item.completed') {
              const t = (e.item as { type: string }).type;
              if (t === 'command_execution') counts.commands++;
              else if (t === 'file_change') counts.fileChanges++;
              else if (t === 'agent_message') counts.messages++;
            }
            if (e.type === 'turn.completed' && e.usage) tokens += e.usage.input_tokens + e.usage.output_tokens;
            const activity = activityOf(e);
            if (activity) progress({ stage: 'worker', activity, tokens });
          },
        });

    let acceptance: SubtaskResult['acceptance'];
    if (worker?.status === 'complete' && job.acceptance) {
      progress({ stage: 'acceptance', activity: job.acceptance });
      const r = await runRepoCommand({ worktree: wtName, command: job.acceptance }, gateway);
      acceptance = { command: job.acceptance, ok: r.ok, exitCode: r.exitCode, log: commandText(r) };
    }

    progress({ stage: 'bundling' });
    const unresolved = merging ? await unmergedFiles(wt.path) : [];
    if (merging && unresolved.length === 0) {
      // Finish the merge of main (with the worker's resolutions) as one commit.
      await runGit(wt.path, ['add', '-A']);
      await runGit(wt.path, ['commit', '--quiet', '--no-edit', '-m', `merge main into ${job.slug} (${job.commitMessage})`]);
    } else if (merging) {
      await runGit(wt.path, ['merge', '--abort'], { allowFail: true });
    }
    if (!merging || unresolved.length === 0) await commitAll(wt.path, job.commitMessage);
    const head = await headSha(wt.path);
    let bundle: SubtaskResult['bundle'];
    if (head !== job.baseBundle.sha) {
      const file = path.join(tmp, `${jobId}.bundle`);
      const made = await createBundle(ctx.repo.clone, file, { tip: head, name: `task-${job.slug}`, base: base });
      if (made) {
        const artifact = await ctx.artifacts.put(file, `${jobId}.bundle`);
        if (artifact.warning) log.warn({ warning: artifact.warning }, 'large bundle');
        bundle = { artifact: { name: artifact.name, sha256: artifact.sha256, size: artifact.size }, ref: made.ref, sha: made.sha };
      }
    }
    await removeWorktree(ctx.repo.workDir, attemptSlug, { mainDir: ctx.repo.clone }).catch((error: unknown) =>
      log.warn({ err: error }, `worktree ${wtName} kept: ${describeError(error)}`),
    );
    progress({ stage: 'done', tokens });
    return {
      v: 1,
      jobId,
      attempt: job.attempt,
      agent: ctx.agentId,
      headSha: bundle ? head : null,
      ...(bundle ? { bundle } : {}),
      worker: {
        status: worker?.status ?? 'error',
        ...(worker
          ? worker.reason !== undefined
            ? { reason: worker.reason }
            : {}
          : { reason: `setup failed: ${setup.at(-1)?.command ?? ''}` }),
        goalMet: worker?.result?.goal_met ?? null,
        summary: worker?.result?.summary ?? '',
        followup: worker?.result?.followup_prompt ?? null,
        threadId: worker?.threadId ?? null,
        usage: worker?.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 },
        durationMs: worker?.durationMs ?? 0,
        changedFiles: worker?.changedFiles ?? [],
        runDir: worker?.runDir ?? '',
      },
      setup,
      ...(acceptance ? { acceptance } : {}),
      unresolved,
      events: counts,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
