/**
 * One subtask job on an agent machine, independent of the queue that brought
 * it: make sure the clone has the commits the job builds on (from bundles),
 * make a worktree, run the repository's setup, the codex worker, the
 * acceptance command, commit on the host (codex's sandbox keeps .git
 * read-only), and hand back the branch as an incremental bundle.
 *
 * Every repository command goes through the same guarded, sandboxed gateway
 * as on the orchestrator's machine. Nothing is pushed; the clone's remotes are
 * never used. Worktrees are the agent's own, reused from job to job
 * (agent-worktrees.ts): each attempt gets one forced to its start commit and
 * cleaned, detached (no branch), so a retry never meets a half-done one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { QueueError } from '../errors.js';
import { createBundle, dropIncoming, fetchBundle } from '../git/bundle.js';
import { firstLines, headSha, presentCommits, runGit, unmergedFiles } from '../git/repo.js';
import { filesWithConflictMarkers } from '../git/rework.js';
import { commitAll } from '../git/worktrees.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { runRepoCommand, type GatewayContext } from '../tools/run-repo-command/gateway.js';
import type { Policy } from '../tools/run-repo-command/policy-file.js';
import type { CommandResult } from '../tools/run-repo-command/types.js';
import { codexActivity, runCodexWorker, type CodexActivity } from '../workers/codex/index.js';
import { acquireSlot } from './agent-worktrees.js';
import type { ArtifactStore } from './artifacts.js';
import { phaseTimer } from './phase-timings.js';
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

/** The one line of an activity the agent's progress and job log show. */
function activityLine(a: CodexActivity): string | undefined {
  if (a.kind === 'command') return `$ ${a.text}`.slice(0, 160);
  if (a.kind === 'file') return `edit ${a.text}`.slice(0, 160);
  if (a.kind === 'message') return a.text.slice(0, 160);
  return undefined;
}

/** An activity shortened for the queue (a result summary or a command line can be long). */
function shortened(a: CodexActivity): CodexActivity {
  return a.kind === 'usage' ? a : { ...a, text: a.text.slice(0, 1_000) };
}

/** Fetches of a commit into a clone under way in this process: concurrent jobs on the same base wait for one download. */
const fetching = new Map<string, Promise<string>>();

/**
 * Makes sure `bundle.sha` is in the clone (`present`: what the clone was found
 * to have at the job's start), fetching the job's bundle when it is not.
 */
async function ensureCommit(
  ctx: SubtaskRunnerContext,
  tmp: string,
  bundle: SubtaskJob['baseBundle'],
  name: string,
  fetched: string[],
  present: Set<string>,
): Promise<string> {
  if (present.has(bundle.sha)) return bundle.sha;
  const key = `${path.resolve(ctx.repo.clone)}\0${bundle.sha}`;
  const pending = fetching.get(key);
  if (pending) return pending;
  // Another job of this process may have fetched it since `present` was read: fetching it again is harmless (its
  // own private ref, the same objects), cheaper than asking git again before every fetch.
  const p = (async () => {
    const file = path.join(tmp, `${name}.bundle`);
    await ctx.artifacts.get(bundle.artifact, file);
    const got = await fetchBundle(ctx.repo.clone, file, { ref: bundle.ref, name });
    fetched.push(name);
    if (got !== bundle.sha)
      throw new QueueError(`bundle ${bundle.artifact.name} brought ${got.slice(0, 10)}, not ${bundle.sha.slice(0, 10)}`);
    return got;
  })();
  fetching.set(key, p);
  try {
    return await p;
  } finally {
    fetching.delete(key);
  }
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
  const timer = phaseTimer();
  /** The private refs this job's bundle fetches made in the clone: dropped at the end (the slot's HEAD and the result keep what is still needed). */
  const fetched: string[] = [];
  const dropFetched = () => Promise.all(fetched.splice(0).map((name) => dropIncoming(ctx.repo.clone, name)));
  let dropping: Promise<unknown> | undefined;
  let releaseSlot: (() => void) | undefined;
  try {
    progress({ stage: 'preparing' });
    const t0 = performance.now();
    // What the clone has of the commits this job builds on, asked once; a bundle comes only for what it lacks.
    const startBundle = job.startBundle;
    const baseFetch = (async () => {
      const present = await presentCommits(
        ctx.repo.clone,
        [job.baseBundle, job.baseFrom, startBundle, job.mergeFrom].flatMap((b) => (b ? [b.sha] : [])),
      );
      if (!present.has(job.baseBundle.sha) && job.baseFrom) await ensureCommit(ctx, tmp, job.baseFrom, `base0-${jobId}`, fetched, present);
      const base = await ensureCommit(ctx, tmp, job.baseBundle, `base-${jobId}`, fetched, present);
      const start = startBundle ? await ensureCommit(ctx, tmp, startBundle, `start-${jobId}`, fetched, present) : base;
      timer.add('baseFetch', performance.now() - t0);
      return { base, start, present, at: performance.now() };
    })();
    // A reused worktree of this agent, forced to the start commit and cleaned: pristine, like a new one, without
    // checking out every file. The slot is taken and cleaned while the commits are fetched; `worktree` is the time after.
    const wt = await acquireSlot(
      ctx.repo.clone,
      ctx.repo.workDir,
      baseFetch.then((b) => b.start),
      log,
    );
    const { base, present, at } = await baseFetch;
    timer.add('worktree', performance.now() - at);
    releaseSlot = wt.release;
    const wtName = wt.name;
    const gateway: GatewayContext = {
      config: ctx.config,
      baseDir: ctx.repo.workDir,
      policy: ctx.policy,
      logger: log,
      runId: job.runId,
      commandLog: null,
      signal: options.signal,
    };

    let unresolvedBefore: string[] = [];
    /** What the worker finishes before the commit: a merge of main (conflict rework) or the restore of a reverted branch (smoke rework). */
    let pending: { op: 'merge' | 'revert'; message: string } | undefined;
    const mergeFrom = job.mergeFrom;
    const revert = job.revert;
    if (mergeFrom) {
      await timer.time('mergeMain', async () => {
        const main = await ensureCommit(ctx, tmp, mergeFrom, `main-${jobId}`, fetched, present);
        const m = await runGit(wt.path, ['merge', '--no-ff', '--no-commit', '--no-edit', main], { allowFail: true });
        unresolvedBefore = await unmergedFiles(wt.path);
        if (m.exitCode === 0 || unresolvedBefore.length > 0)
          pending = { op: 'merge', message: `merge main into ${job.slug} (${job.commitMessage})` };
        log.info({ main, conflicts: unresolvedBefore }, 'merged main into the branch for rework');
      });
    } else if (revert) {
      await timer.time('restore', async () => {
        const r = await runGit(wt.path, ['revert', '--no-commit', revert.commit], { allowFail: true });
        unresolvedBefore = await unmergedFiles(wt.path);
        if (r.exitCode !== 0 && unresolvedBefore.length === 0)
          throw new QueueError(
            `restoring ${job.slug} (revert of ${revert.commit.slice(0, 10)}) failed: ${firstLines(r.stderr || r.stdout)}`,
          );
        pending = { op: 'revert', message: revert.message };
        log.info({ revert: revert.commit, conflicts: unresolvedBefore }, 'restored the reverted branch for smoke rework');
      });
    }

    // Every fetch of this job is done and what it brought is in the slot's history (HEAD, or the merge under way):
    // the private refs go now, beside the worker, not on the job's path at its end.
    dropping = dropFetched().catch((error: unknown) => log.debug({ err: error }, 'private refs not dropped'));

    const setup: SubtaskResult['setup'] = [];
    // Every attempt's tree is pristine (no node_modules, no build output), so setup runs every time, as for a new local worktree.
    for (const command of job.setup) {
      progress({ stage: 'setup', activity: command });
      const r = await timer.time('setup', () => runRepoCommand({ worktree: wtName, command }, gateway));
      setup.push({ command, ok: r.ok, exitCode: r.exitCode, log: commandText(r) });
      if (!r.ok) break;
    }
    const setupFailed = setup.some((s) => !s.ok);

    const counts = { commands: 0, fileChanges: 0, messages: 0 };
    let tokens = 0;
    progress({ stage: 'worker' });
    const conflictNote = !unresolvedBefore.length
      ? ''
      : pending?.op === 'revert'
        ? `\n\nBefore you start: restoring your reverted work on this branch left conflicts with later work on main in these files; resolve them (keep both sides' intent): ${unresolvedBefore.join(', ')}.`
        : `\n\nBefore you start: main was merged into this branch and these files have conflicts to resolve (keep both sides' intent): ${unresolvedBefore.join(', ')}.`;
    const worker = setupFailed
      ? null
      : await timer.time('worker', () =>
          runCodexWorker({
            prompt: `${job.prompt}${conflictNote}`,
            cwd: wt.path,
            config: ctx.config,
            profile: job.profile,
            runId: job.runId,
            workerId: `${job.slug}-a${job.attempt}`,
            signal: options.signal,
            logger: log,
            env: ctx.workerEnv,
            stallMs: ctx.workerStallMs,
            onEvent: (e) => {
              if (e.type === 'item.completed') {
                const t = (e.item as { type: string }).type;
                if (t === 'command_execution') counts.commands++;
                else if (t === 'file_change') counts.fileChanges++;
                else if (t === 'agent_message') counts.messages++;
              }
              if (e.type === 'turn.completed' && e.usage) tokens += e.usage.input_tokens + e.usage.output_tokens;
              const a = codexActivity(e);
              if (a) progress({ stage: 'worker', activity: activityLine(a), codex: shortened(a), tokens });
            },
          }),
        );

    let acceptance: SubtaskResult['acceptance'];
    if (worker?.status === 'complete' && job.acceptance) {
      progress({ stage: 'acceptance', activity: job.acceptance });
      const command = job.acceptance;
      const r = await timer.time('acceptance', () => runRepoCommand({ worktree: wtName, command }, gateway));
      acceptance = { command: job.acceptance, ok: r.ok, exitCode: r.exitCode, log: commandText(r) };
    }

    progress({ stage: 'bundling' });
    // Codex's sandbox keeps .git read-only, so the worker cannot `git add` its resolutions: a conflict is resolved when its markers are gone (as locally).
    const unresolved = pending ? await filesWithConflictMarkers(wt.path) : [];
    const head = await timer.time('commit', async () => {
      if (pending && unresolved.length === 0) {
        // Finish the merge of main or the restore (with the worker's resolutions and fixes) as one commit.
        await runGit(wt.path, ['add', '-A']);
        await runGit(wt.path, ['commit', '--quiet', '--no-edit', '-m', pending.message]);
      } else if (pending) {
        await runGit(wt.path, [pending.op, '--abort'], { allowFail: true });
      }
      const made = !pending || unresolved.length === 0 ? await commitAll(wt.path, job.commitMessage) : null;
      return made ?? headSha(wt.path);
    });
    let bundle: SubtaskResult['bundle'];
    if (head !== job.baseBundle.sha) {
      const file = path.join(tmp, `${jobId}.bundle`);
      const made = await timer.time('bundle', () =>
        // From the slot, whose HEAD is the commit just made: the bundle carries HEAD (see createBundle's `via`).
        createBundle(wt.path, file, { tip: head, name: `task-${job.slug}`, base, via: 'HEAD' }),
      );
      if (made) {
        const artifact = await timer.time('upload', () => ctx.artifacts.put(file, `${jobId}.bundle`));
        if (artifact.warning) log.warn({ warning: artifact.warning }, 'large bundle');
        bundle = { artifact: { name: artifact.name, sha256: artifact.sha256, size: artifact.size }, ref: made.ref, sha: made.sha };
      }
    }
    log.debug({ jobId, timings: timer.timings }, 'job phases (ms)');
    progress({ stage: 'done', tokens });
    return {
      v: 1,
      jobId,
      attempt: job.attempt,
      agent: ctx.agentId,
      headSha: bundle ? head : null,
      bundle,
      worker: {
        status: worker?.status ?? 'error',
        reason: worker ? worker.reason : `setup failed: ${setup.at(-1)?.command ?? ''}`,
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
      acceptance,
      unresolved,
      events: counts,
      timings: timer.timings,
    };
  } finally {
    releaseSlot?.();
    // A long-running agent would otherwise keep a ref per job for ever (and every fetch's connectivity check walks them).
    await dropping;
    await dropFetched().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
