/**
 * The orchestrator's side of the subtask queue: a plan subtask's worker step
 * as a BullMQ job instead of a local process. Planning, review, the merge
 * queue, the store and the report stay on this machine; only the worker step
 * (worktree → setup → codex → acceptance → commit) runs on an agent.
 *
 * - Bundles, not Redis, carry git data: the base commit (for an agent whose
 *   clone lacks it: a full bundle of the run's first base, and a later base
 *   as the commits on top of it), the branch so far (rework), main's head
 *   (conflict rework); the agent answers with `base..task-<slug>`.
 * - Job ids are `<run>.<task>.<attempt>`: adding one twice is a no-op, and a
 *   resumed orchestrator finds the job it was waiting for (finished or not)
 *   instead of starting the work again.
 * - At-least-once: a result is accepted once per attempt (the store's fence);
 *   a duplicate is logged and changes nothing.
 * - Redis outages are waited out: the wait polls and says "waiting for Redis".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortedError, QueueError, describeError } from '../errors.js';
import { createBundle, dropIncoming, fetchBundle, fetchBundleIntoBranch } from '../git/bundle.js';
import { resolveCommit, runGit } from '../git/repo.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Store } from '../store/types.js';
import type { ArtifactStore } from './artifacts.js';
import { phaseTimer, type PhaseTimer, type PhaseTimings } from './phase-timings.js';
import { redisConnection } from './connection.js';
import { subtaskJobId, subtaskQueueName } from './names.js';
import {
  subtaskProgressSchema,
  subtaskResultSchema,
  type SubtaskJobInput,
  type SubtaskProgress,
  type SubtaskResult,
} from './subtask-job.js';
import { definedProps } from '../defined-props.js';

export interface RemoteWorkRequest {
  runId: string;
  taskId: string;
  slug: string;
  purpose: string;
  prompt: string;
  profile?: 'fast' | 'deep';
  setup: string[];
  acceptance?: string;
  commitMessage: string;
  /** main's commit the subtask branched from. */
  baseCommit: string;
  /** The local branch (task-<slug>) the result lands on. */
  branch: string;
  /** The local worktree of the branch, when there is one: it is fast-forwarded too. */
  worktree?: string;
  /** Merge this main commit into the branch before the worker starts (conflict rework). */
  mergeFrom?: string;
  /** Revert this commit (in the branch's history) on the branch before the worker starts, leaving any conflict to it; commit with `message` (smoke rework). */
  revert?: { commit: string; message: string };
  /** Higher runs first (BullMQ: lower number = higher priority; this is converted). */
  priority?: number;
}

export interface RemoteWorkOutcome {
  result: SubtaskResult;
  jobId: string;
  attempt: number;
  /** True when this attempt's result had been accepted before (a duplicate completion): nothing was applied. */
  duplicate: boolean;
  /** The branch head after applying the result. */
  branchHead: string | null;
  /**
   * Where the time went, in ms: here `enqueue` (bundles + add), `pickup` (added → an agent took it),
   * `agent` (taken → finished), `notice` (finished → seen here), `download`, `fetch` (verify + fetch), `advance`;
   * and the agent's own phases prefixed `agent.`.
   */
  timings: PhaseTimings;
}

export interface RemoteWorkersOptions {
  url: string;
  prefix: string;
  repoId: string;
  /** main/ of the base dir: bundles are made from and fetched into its repository. */
  mainDir: string;
  store: Store;
  artifacts: ArtifactStore;
  /** What agents are told to use for artifacts (the URL of our endpoint, or the shared directory). */
  artifactsLocation: string;
  /** Delivery attempts of one job (a stalled or failed job is retried up to this). Default 3. */
  attempts?: number;
  backoffMs?: number;
  pollMs?: number;
  logger?: Logger;
  onStatus?: (line: string) => void;
  /** Each applied job's timings (the benchmark's breakdown). */
  onTimings?: (jobId: string, timings: PhaseTimings) => void;
}

/** Waits `ms`, or less when `signal` aborts; leaves no listener behind. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class RemoteWorkers {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly connections: Redis[];
  private readonly log: Logger;
  private readonly baseBundles = new Map<string, Promise<Pick<SubtaskJobInput, 'baseBundle' | 'baseFrom'>>>();
  private readonly fullBundles = new Map<string, Promise<SubtaskJobInput['baseBundle']>>();
  /** The first base commit of this process: later bases (main after merges) ship as bundles on top of its full bundle. */
  private firstBase: string | undefined;
  private readonly tmp: string;
  private readonly wakers = new Map<string, () => void>();
  private readonly progressListeners = new Map<string, (p: SubtaskProgress) => void>();
  private redisDown = false;
  /** Jobs this process is waiting for (their events are told; other runs' jobs on the same queue are not). */
  private readonly waiting = new Set<string>();

  constructor(private readonly options: RemoteWorkersOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'remote-workers', repoId: options.repoId });
    const onStatus = (s: 'down' | 'up', line: string) => {
      this.redisDown = s === 'down';
      options.onStatus?.(line);
    };
    this.connections = [redisConnection({ url: options.url, onStatus }), redisConnection({ url: options.url })];
    this.queue = new Queue(subtaskQueueName(options.repoId), { connection: this.connections[0]!, prefix: options.prefix });
    this.events = new QueueEvents(subtaskQueueName(options.repoId), { connection: this.connections[1]!, prefix: options.prefix });
    this.queue.on('error', (e) => this.log.debug({ err: e }, 'queue connection error'));
    this.events.on('error', (e) => this.log.debug({ err: e }, 'queue events connection error'));
    const wake = ({ jobId }: { jobId: string }) => this.wakers.get(jobId)?.();
    this.events.on('completed', wake);
    // What happens to a job this process waits for goes to its log and live view: an attempt that failed (BullMQ
    // tries it again while attempts are left) and a job whose agent stopped renewing it (taken by another agent).
    this.events.on('failed', ({ jobId, failedReason }) => {
      wake({ jobId });
      this.jobLine(jobId, `attempt failed: ${failedReason || 'no reason given'}`);
    });
    this.events.on('stalled', ({ jobId }) =>
      this.jobLine(jobId, 'stalled: its agent stopped renewing it (stopped, or cut off from Redis); another agent takes it'),
    );
    this.events.on('progress', ({ jobId, data }) => {
      const listener = this.progressListeners.get(jobId);
      const parsed = subtaskProgressSchema.safeParse(data);
      if (listener && parsed.success) listener(parsed.data);
    });
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-orch-remote-'));
  }

  private jobLine(jobId: string, what: string): void {
    if (!this.waiting.has(jobId)) return;
    this.log.warn({ jobId }, what);
    this.options.onStatus?.(`job ${jobId} ${what}`);
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  /** A full bundle of `commit`, uploaded once per commit. */
  private fullBundle(commit: string): Promise<SubtaskJobInput['baseBundle']> {
    let p = this.fullBundles.get(commit);
    if (!p) {
      p = this.bundle(commit, undefined, `base-${commit.slice(0, 12)}`, 'HEAD');
      this.fullBundles.set(commit, p);
      p.catch(() => this.fullBundles.delete(commit));
    }
    return p;
  }

  /**
   * What brings `commit` to an agent, once per commit. main only moves forward
   * during a run, so a later base descends from the first one: it travels as
   * `first..commit` (the merged work alone) next to the first base's full
   * bundle, instead of the whole repository again for every merge. No ancestry
   * check first (a git process on every new base): that bundle is right either
   * way, since everything it needs is in the first base's history, which
   * `baseFrom` brings; only a commit the first base already holds (main moved
   * back) gives nothing to bundle, and then it travels whole.
   */
  private baseBundle(commit: string): Promise<Pick<SubtaskJobInput, 'baseBundle' | 'baseFrom'>> {
    let p = this.baseBundles.get(commit);
    if (!p) {
      this.firstBase ??= commit;
      const first = this.firstBase;
      p = (async () => {
        if (first !== commit) {
          const [baseFrom, baseBundle] = await Promise.all([
            this.fullBundle(first),
            this.tryBundle(commit, first, `base-${commit.slice(0, 12)}-on-${first.slice(0, 12)}`, 'HEAD'),
          ]);
          if (baseBundle) return { baseBundle, baseFrom };
        }
        return { baseBundle: await this.fullBundle(commit) };
      })();
      this.baseBundles.set(commit, p);
      p.catch(() => this.baseBundles.delete(commit));
    }
    return p;
  }

  /** `via`: the ref that most likely names `tip` already (main's HEAD for a base, the branch for its head): see createBundle. */
  private async bundle(tip: string, base: string | undefined, name: string, via: string): Promise<SubtaskJobInput['baseBundle']> {
    const made = await this.tryBundle(tip, base, name, via);
    if (!made) throw new QueueError(`nothing to bundle for ${name}`);
    return made;
  }

  /** A bundle of `base..tip` uploaded to the artifact store, or null when `tip` adds nothing to `base`. */
  private async tryBundle(tip: string, base: string | undefined, name: string, via: string): Promise<SubtaskJobInput['baseBundle'] | null> {
    const file = path.join(this.tmp, `${name}.bundle`);
    const made = await createBundle(this.options.mainDir, file, { tip, name, base, via });
    if (!made) return null;
    const artifact = await this.options.artifacts.put(file, `${name}.bundle`);
    if (artifact.warning) this.log.warn({ warning: artifact.warning }, 'large bundle');
    fs.rmSync(file, { force: true });
    return { artifact: { name: artifact.name, sha256: artifact.sha256, size: artifact.size }, ref: made.ref, sha: made.sha };
  }

  /**
   * The attempt to wait for: the newest job of this subtask when its result was
   * not accepted yet (a resumed run collects it), else a new one.
   */
  private async nextAttempt(runId: string, taskId: string): Promise<{ attempt: number; existing: boolean }> {
    let latest = 0;
    while (await this.queue.getJob(subtaskJobId(runId, taskId, latest + 1))) latest++;
    if (latest === 0) return { attempt: 1, existing: false };
    const accepted = this.options.store.listQueueResults(runId).some((r) => r.subtaskId === taskId && r.attempt === latest);
    if (accepted) return { attempt: latest + 1, existing: false };
    const job = await this.queue.getJob(subtaskJobId(runId, taskId, latest));
    const state = job ? await job.getState() : 'unknown';
    return state === 'failed' ? { attempt: latest + 1, existing: false } : { attempt: latest, existing: true };
  }

  /** Runs the worker step of a subtask on an agent and applies its branch here. */
  async run(
    req: RemoteWorkRequest,
    options: { signal?: AbortSignal; onProgress?: (p: SubtaskProgress) => void; onQueued?: (jobId: string) => void } = {},
  ): Promise<RemoteWorkOutcome> {
    const timer = phaseTimer();
    const t0 = performance.now();
    // The attempt (Redis), the base's bundle (git + upload, once per commit) and the branch's head are independent: asked at once.
    const [{ attempt, existing }, base, head] = await Promise.all([
      this.nextAttempt(req.runId, req.taskId),
      this.baseBundle(req.baseCommit),
      resolveCommit(this.options.mainDir, `refs/heads/${req.branch}`),
    ]);
    const jobId = subtaskJobId(req.runId, req.taskId, attempt);
    if (!existing) {
      const startBundle =
        head && head !== req.baseCommit ? await this.bundle(head, req.baseCommit, `${jobId}-start`, `refs/heads/${req.branch}`) : undefined;
      const mergeFrom =
        req.mergeFrom && req.mergeFrom !== req.baseCommit
          ? await this.bundle(req.mergeFrom, req.baseCommit, `${jobId}-main`, 'HEAD')
          : undefined;
      const data: SubtaskJobInput = {
        v: 1,
        runId: req.runId,
        taskId: req.taskId,
        slug: req.slug,
        attempt,
        purpose: req.purpose,
        repoId: this.options.repoId,
        baseCommit: req.baseCommit,
        ...base,
        ...definedProps({ startBundle, mergeFrom, revert: req.revert }),
        prompt: req.prompt,
        profile: req.profile ?? 'fast',
        setup: req.setup,
        acceptance: req.acceptance || undefined,
        commitMessage: req.commitMessage,
        artifacts: this.options.artifactsLocation,
      };
      await this.queue.add('subtask', data, {
        jobId,
        attempts: this.options.attempts ?? 3,
        backoff: { type: 'exponential', delay: this.options.backoffMs ?? 2_000, jitter: 0.5 },
        // BullMQ: 1 is the highest priority; a longer remaining critical path should go first.
        ...definedProps({ priority: req.priority === undefined ? undefined : Math.max(1, 1_000_000 - Math.round(req.priority)) }),
        removeOnComplete: { age: 7 * 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    }
    timer.add('enqueue', performance.now() - t0);
    options.onQueued?.(jobId);
    if (options.onProgress) this.progressListeners.set(jobId, options.onProgress);
    try {
      const result = await this.waitFor(jobId, timer, options.signal);
      return await this.apply(req, jobId, attempt, result, timer);
    } finally {
      this.progressListeners.delete(jobId);
    }
  }

  /** Waits for and applies the result of a job attempt that already exists (a resume collecting finished work). */
  async collect(req: RemoteWorkRequest, attempt: number, options: { signal?: AbortSignal } = {}): Promise<RemoteWorkOutcome> {
    const jobId = subtaskJobId(req.runId, req.taskId, attempt);
    const timer = phaseTimer();
    const result = await this.waitFor(jobId, timer, options.signal);
    return this.apply(req, jobId, attempt, result, timer);
  }

  private async waitFor(jobId: string, timer: PhaseTimer, signal?: AbortSignal): Promise<SubtaskResult> {
    this.waiting.add(jobId);
    try {
      return await this.waitLoop(jobId, timer, signal);
    } finally {
      this.waiting.delete(jobId);
    }
  }

  private async waitLoop(jobId: string, timer: PhaseTimer, signal?: AbortSignal): Promise<SubtaskResult> {
    let said = false;
    for (;;) {
      if (signal?.aborted)
        throw new AbortedError(`stopped while waiting for job ${jobId}; the job goes on and a resume collects its result`);
      try {
        const job = await Job.fromId(this.queue, jobId);
        if (!job)
          throw new QueueError(`job ${jobId} is gone from the queue`, {
            hint: 'it may have been removed by hand; resume the run to start the subtask again',
          });
        if (job.finishedOn && job.returnvalue) {
          const parsed = subtaskResultSchema.safeParse(job.returnvalue);
          if (!parsed.success)
            throw new QueueError(`job ${jobId} returned a malformed result: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
          if (job.processedOn) {
            timer.add('pickup', job.processedOn - job.timestamp);
            timer.add('agent', job.finishedOn - job.processedOn);
          }
          timer.add('notice', Date.now() - job.finishedOn);
          return parsed.data;
        }
        const state = await job.getState();
        if (state === 'failed') {
          throw new QueueError(`job ${jobId} failed on every attempt: ${job.failedReason ?? 'no reason given'}`, { context: { jobId } });
        }
        if (said && !this.redisDown) said = false;
      } catch (error) {
        if (error instanceof QueueError) throw error;
        if (!said) {
          said = true;
          this.options.onStatus?.(`waiting for Redis (job ${jobId}): ${describeError(error)}`);
        }
      }
      await new Promise<void>((resolve) => {
        this.wakers.set(jobId, resolve);
        void sleep(this.options.pollMs ?? 500, signal).then(resolve);
      });
      this.wakers.delete(jobId);
    }
  }

  /** Applies an accepted result: fetch the bundle, verify it, move the branch forward (and its worktree). */
  private async apply(
    req: RemoteWorkRequest,
    jobId: string,
    attempt: number,
    result: SubtaskResult,
    timer: PhaseTimer,
  ): Promise<RemoteWorkOutcome> {
    const first = this.options.store.acceptQueueResult({
      runId: req.runId,
      subtaskId: req.taskId,
      attempt,
      jobId,
      agent: result.agent,
      headSha: result.headSha,
    });
    const branchHead = async () => resolveCommit(this.options.mainDir, `refs/heads/${req.branch}`);
    if (!first) {
      this.log.warn({ jobId, agent: result.agent }, 'duplicate result of a job attempt ignored');
      return { result, jobId, attempt, duplicate: true, branchHead: await branchHead(), timings: this.timings(jobId, result, timer) };
    }
    const bundle = result.bundle;
    const headSha = result.headSha;
    if (bundle && headSha) {
      const file = path.join(this.tmp, `${jobId}.bundle`);
      await timer.time('download', () => this.options.artifacts.get(bundle.artifact, file));
      const worktree = req.worktree && fs.existsSync(req.worktree) ? req.worktree : undefined;
      try {
        if (worktree) {
          // The branch is checked out there (a rework made the worktree): fetch aside, then fast-forward it so files and index follow.
          const sha = await timer.time('fetch', () => fetchBundle(this.options.mainDir, file, { ref: bundle.ref, name: jobId }));
          if (sha !== headSha)
            throw new QueueError(`job ${jobId}: the bundle's head ${sha.slice(0, 10)} is not the reported ${headSha.slice(0, 10)}`);
          await timer.time('advance', () => runGit(worktree, ['merge', '--ff-only', '--quiet', sha]));
        } else {
          // No worktree (the usual case on this road): one fetch moves the branch, forward only, once the header names the reported head.
          await timer.time('fetch', () =>
            fetchBundleIntoBranch(this.options.mainDir, file, { ref: bundle.ref, branch: req.branch, sha: headSha }),
          );
          return { result, jobId, attempt, duplicate: false, branchHead: headSha, timings: this.timings(jobId, result, timer) };
        }
      } finally {
        if (worktree) await dropIncoming(this.options.mainDir, jobId);
        fs.rmSync(file, { force: true });
      }
    } else if (bundle) {
      throw new QueueError(`job ${jobId} returned a bundle but no head commit`);
    }
    return { result, jobId, attempt, duplicate: false, branchHead: await branchHead(), timings: this.timings(jobId, result, timer) };
  }

  /** This side's phases and the agent's (prefixed `agent.`), logged and handed to `onTimings`. */
  private timings(jobId: string, result: SubtaskResult, timer: PhaseTimer): PhaseTimings {
    const all: PhaseTimings = { ...timer.timings };
    for (const [k, v] of Object.entries(result.timings ?? {})) all[`agent.${k}`] = v;
    this.log.debug({ jobId, timings: all }, 'remote subtask phases (ms)');
    try {
      this.options.onTimings?.(jobId, all);
    } catch (error) {
      this.log.warn({ err: error }, 'timings listener threw');
    }
    return all;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.queue.close(), this.events.close()]);
    for (const c of this.connections) c.disconnect();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
