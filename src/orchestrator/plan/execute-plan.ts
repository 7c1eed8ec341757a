/**
 * The plan road: the program runs an accepted plan itself, deterministically.
 *
 *   scheduler (pure) → per subtask: worktree → setup → codex worker (template,
 *   fast → deep) → acceptance → commit → review (→ rework on the same thread)
 *   → merge queue (→ conflict / smoke rework) → archive + remove worktree.
 *
 * Every command the repository defines (setup, acceptance, smoke, archive)
 * goes through the guarded gateway, never a raw shell. The manifest is saved
 * atomically after every state change and every decision is appended to
 * decisions.jsonl with its reason, so a run can be followed and resumed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { branchMergedInto } from '../../git/merged.js';
import { detectTestCommand } from '../../git/test-command.js';
import { OrchestratorError, describeError } from '../../errors.js';
import {
  MergeQueue,
  abortConflictRework,
  commitAll,
  createWorktree,
  currentBranch,
  diffAgainst,
  finishConflictRework,
  loadRepoSettings,
  prepareConflictRework,
  prepareSmokeRework,
  removeWorktree,
  type MergeDecision,
  type MergeOutcome,
  type RepoSettings,
} from '../../git/index.js';
import { silentLogger } from '../../logging/logger.js';
import {
  apply,
  createSchedule,
  nextRunnable,
  scheduleEvent,
  taskSlug,
  taskWorktreeName,
  type Manifest,
  type ManifestTask,
  type ScheduleEvent,
  type ScheduleState,
} from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import { runRepoCommand, type GatewayContext } from '../../tools/run-repo-command/gateway.js';
import type { WorkerRun } from '../../workers/codex/index.js';
import { now, type RunEvent } from '../events.js';
import type { ReviewFn } from '../review/types.js';
import { BudgetTracker, type BudgetStop } from './budgets.js';
import { DecisionsLog, type DecisionKind } from './decisions-log.js';
import { parseManifest, saveManifest } from './manifest-file.js';
import { acceptancePrompt, conflictPrompt, healPrompt, restartPrompt, reviewPrompt, smokePrompt, tail } from './rework-prompts.js';
import {
  DEFAULTS,
  Interrupted,
  LeftComplete,
  TaskFailure,
  commandLog,
  outcomeOf,
  type SubtaskOutcome,
  short,
  type PlanMergeRecord,
  type PlanRunContext,
  type PlanRunResult,
  type PlanTestRun,
  type PlanWorkerRecord,
  type SubtaskSummary,
  type TaskRun,
  type WorkerPurpose,
} from './plan-types.js';
import { markResumed, pendingRework, previousWorkers } from './resume-step.js';
import { loadTaskTemplates, renderTaskPrompt, type TaskTemplates } from './templates.js';
import { codexLauncher, storeWorkerStatus } from './worker-launch.js';

export type { PlanBudgets } from './budgets.js';

export type { PlanRunContext, PlanRunResult, PlanMergeRecord, PlanTestRun, PlanWorkerRecord, ReviewRecord, SubtaskSummary, WorkerPurpose } from './plan-types.js';

/**
 * Runs a plan (or a saved manifest, to resume) to its end, an abort, or an
 * exhausted budget. Rejects only when it cannot start (bad plan, templates,
 * repository settings, main/ on a detached HEAD); once started it resolves with
 * what happened, and manifest.json / decisions.jsonl are on disk.
 */
export async function executePlan(input: Manifest, ctx: PlanRunContext): Promise<PlanRunResult> {
  const started = Date.now();
  const log = (ctx.logger ?? silentLogger).child({ component: 'plan', runId: ctx.runId });
  const baseDir = path.resolve(ctx.baseDir);
  const mainDir = path.join(baseDir, 'main');
  const manifest = parseManifest(structuredClone(input), 'plan');
  const templates: TaskTemplates = loadTaskTemplates(ctx.templatesDir);
  const settings: RepoSettings = loadRepoSettings(mainDir);
  const mainBranch = await currentBranch(mainDir);
  if (!mainBranch) throw new OrchestratorError('git', `${mainDir} has a detached HEAD; check out the branch to merge into`);
  const maxParallel = ctx.maxParallel ?? DEFAULTS.maxParallel;
  const maxReviewRounds = ctx.maxReviewRounds ?? DEFAULTS.maxReviewRounds;
  const maxAcceptanceFixes = ctx.maxAcceptanceFixes ?? DEFAULTS.maxAcceptanceFixes;
  const maxHeals = ctx.maxHeals ?? DEFAULTS.maxHeals;
  const maxMergeAttempts = ctx.maxMergeAttempts ?? DEFAULTS.maxMergeAttempts;

  fs.mkdirSync(ctx.runDir, { recursive: true });
  const manifestFile = path.join(ctx.runDir, 'manifest.json');
  const decisionsFile = path.join(ctx.runDir, 'decisions.jsonl');

  const emit = (event: RunEvent) => {
    try {
      ctx.onEvent?.(event);
    } catch (error) {
      log.warn({ err: error }, 'onEvent listener threw');
    }
  };
  const decisions = new DecisionsLog(decisionsFile, (d) =>
    emit({ type: 'plan.decision', ts: d.at, ...(d.taskId !== undefined ? { taskId: d.taskId } : {}), kind: d.kind, action: d.action, reason: d.reason }),
  );
  const decide = (kind: DecisionKind, action: string, reason: string, taskId?: string, data?: Record<string, unknown>) =>
    decisions.add(kind, action, reason, { taskId, ...(data ? { data } : {}) });

  // Store mirroring is best effort: a store problem is logged once and the run goes on with files only.
  let store = ctx.store;
  const withStore = (what: string, fn: (s: Store) => void) => {
    if (!store) return;
    try {
      fn(store);
    } catch (error) {
      log.warn({ err: error, what }, 'run store write failed; continuing with the run directory only');
      store = undefined;
    }
  };

  // --- stopping: the caller's abort, or a wall/token budget, kills running work; the worker budget only stops launches.
  const hard = new AbortController();
  let stoppedBy: string | null = null;
  const onAbort = () => {
    if (!stoppedBy) stoppedBy = 'aborted';
    hard.abort();
  };
  if (ctx.signal?.aborted) onAbort();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const budget = new BudgetTracker(ctx.budgets ?? {}, (stop: BudgetStop) => {
    if (!stoppedBy) stoppedBy = stop.reason;
    decide('budget', 'exhausted', `${stop.reason}: no new subtask or worker is started${stop.budget === 'maxWorkers' ? '' : '; running workers and commands are stopped'}`, undefined, { budget: stop.budget });
    if (stop.budget !== 'maxWorkers') hard.abort();
    wake();
  });
  const stopping = () => stoppedBy !== null;
  const checkpoint = () => {
    if (hard.signal.aborted) throw new Interrupted(stoppedBy ?? 'aborted');
  };

  const gateway: GatewayContext = { ...ctx.gateway, baseDir, signal: hard.signal, runId: ctx.gateway.runId ?? ctx.runId };
  const runCommand = (worktree: string, command: string) => runRepoCommand({ worktree, command }, gateway);

  // --- scheduler state, mirrored into the manifest after every transition.
  const byId = new Map<string, ManifestTask>();
  for (const phase of manifest.phases) for (const t of phase.tasks) byId.set(t.id, t);
  const mergeOnly = ctx.mergeOnly === true;
  const { complete: resumedComplete, running: resumedRunning } = markResumed(byId.values(), mergeOnly);
  let state: ScheduleState = createSchedule(manifest, { wip: mergeOnly ? Number.POSITIVE_INFINITY : maxParallel, ...(ctx.gate ? { gate: ctx.gate } : {}) });
  /** Subtasks that end this run still `complete` (merge-only, or stopped while queued), with why. */
  const leftComplete = new Map<string, string>();
  /** Why the merge queue stopped for the rest of this run (then every complete subtask stays complete). */
  let mergeStopped: string | null = null;
  /** Subtasks git already had in main when this run reached them (never redone, never merged again), with the note. */
  const alreadyInMain = new Map<string, string>();

  // The store first, then manifest.json: the file never claims more than the store (and git, which settles merges) has.
  const save = () => {
    withStore('manifest', (s) => s.updateRun(ctx.runId, { manifest }));
    try {
      saveManifest(manifestFile, manifest);
    } catch (error) {
      log.error({ err: error }, 'cannot save manifest.json');
    }
  };
  const sync = () => {
    for (const [id, t] of byId) {
      const s = state.tasks[id];
      if (!s) continue;
      if (t.status !== s.status || t.reason !== s.reason || t.attempts !== s.attempts) {
        t.status = s.status;
        t.reason = s.reason;
        t.attempts = s.attempts;
        emit({ type: 'subtask.status', ts: now(), taskId: id, status: s.status, reason: s.reason, attempts: s.attempts });
        withStore('subtask', (st) =>
          st.upsertSubtask({
            runId: ctx.runId,
            id,
            status: s.status,
            reason: s.reason,
            attempts: s.attempts,
            worktree: t.worktree,
            branch: t.branch,
            threadId: t.threadId,
            startedAt: t.startedAt,
            endedAt: t.endedAt,
          }),
        );
      }
    }
    save();
  };
  const transition = (event: ScheduleEvent, reason: string, data?: Record<string, unknown>) => {
    state = apply(state, event);
    const t = byId.get(event.id) as ManifestTask;
    if (event.type === 'merged' || event.type === 'failed' || event.type === 'stuck') t.endedAt = now();
    decide('schedule', event.type, reason, event.id, data);
    sync();
  };

  // Store rows for every subtask up front.
  let position = 0;
  for (const phase of manifest.phases) {
    for (const t of phase.tasks) {
      const row = {
        runId: ctx.runId,
        id: t.id,
        position: position++,
        phase: phase.name,
        title: t.title,
        kind: t.kind,
        status: t.status,
        prompt: t.prompt,
        files: t.files,
        dependsOn: t.dependsOn,
        attempts: t.attempts,
        ...(t.acceptance !== undefined ? { acceptance: t.acceptance } : {}),
      };
      withStore('subtask', (s) => s.upsertSubtask(row));
    }
  }
  sync();

  // --- records for the result
  const workers: PlanWorkerRecord[] = [];
  const merges: PlanMergeRecord[] = [];
  const reviewTokens = { input: 0, output: 0 };
  const runs = new Map<string, TaskRun>();
  const testRuns: PlanTestRun[] = [];
  const worktreesCreated: string[] = [];
  /** The subtask whose branch the queue is merging now (the queue merges one at a time). */
  let mergingTask: string | undefined;

  // --- the merge queue: smoke through the gateway in main/.
  const smokeCommand = settings.smoke;
  const queue = new MergeQueue({
    baseDir,
    mainDir,
    targetBranch: mainBranch,
    signal: hard.signal,
    dirtyWaitMs: ctx.dirtyWaitMs ?? ctx.config.dirtyWaitSeconds * 1000,
    ...(ctx.dirtyPollMs !== undefined ? { dirtyPollMs: ctx.dirtyPollMs } : {}),
    ...(smokeCommand
      ? {
          smoke: async () => {
            testRuns.push({ taskId: mergingTask ?? '', kind: 'smoke', worktree: 'main', command: smokeCommand });
            // Not stopped by a budget: killing a smoke test half way would revert a good merge.
            const r = await runRepoCommand({ worktree: 'main', command: smokeCommand }, { ...gateway, signal: ctx.signal ?? new AbortController().signal });
            return { ok: r.ok, log: commandLog(r) };
          },
        }
      : {}),
    onDecision: (d: MergeDecision) => {
      if (d.action === 'merging') mergingTask = d.taskId;
      if (d.action === 'queued' || d.action === 'merging' || d.action === 'smoke-started') return; // the outcome lines carry the story
      decide('merge', d.action, d.reason, d.taskId, { branch: d.branch, seq: d.seq, ...(d.sha ? { sha: d.sha } : {}), ...(d.files ? { files: d.files } : {}) });
    },
  });

  // --- one worker launch (plus the self-heal restarts)
  const launch = async (t: TaskRun, purpose: WorkerPurpose, prompt: string, threadId: string | null): Promise<WorkerRun> => {
    checkpoint();
    if (!budget.canLaunchWorker()) throw new Interrupted(stoppedBy ?? 'worker budget used up');
    budget.workerLaunched();
    const workerId = `${t.slug}-${++t.workerSeq}`;
    t.workerCount++;
    emit({ type: 'plan.worker', ts: now(), taskId: t.id, workerId, purpose, phase: 'started' });
    decide('worker', 'start', `${purpose} worker ${workerId}${threadId ? ` resuming thread ${threadId}` : ' on a new thread'} (profile fast, escalation to deep)`, t.id, { workerId, purpose });
    withStore('worker', (s) => s.upsertWorker({ runId: ctx.runId, workerId, subtaskId: t.id, status: 'running', startedAt: now(), profile: 'fast', ...(threadId ? { threadId } : {}) }));
    const run = await (ctx.launcher ?? codexLauncher).launch({
      prompt,
      cwd: t.worktree,
      config: ctx.config,
      runId: ctx.runId,
      workerId,
      threadId,
      signal: hard.signal,
      logger: log,
      ...(ctx.workerEnv ? { env: ctx.workerEnv } : {}),
      ...(ctx.workerStallMs !== undefined ? { stallMs: ctx.workerStallMs } : {}),
    });
    const tokens = run.usage.inputTokens + run.usage.outputTokens;
    const rec: PlanWorkerRecord = {
      taskId: t.id,
      workerId,
      purpose,
      worktree: t.wtName,
      status: run.status,
      threadId: run.threadId,
      runDir: run.runDir,
      usage: run.usage,
      durationMs: run.durationMs,
      goalMet: run.result?.goal_met ?? null,
      summary: run.result?.summary ?? '',
      changedFiles: run.changedFiles,
      ...(run.reason !== undefined ? { reason: run.reason } : {}),
    };
    workers.push(rec);
    if (run.result?.summary) t.lastSummary = run.result.summary;
    if (run.threadId && run.threadId !== t.threadId) {
      t.threadId = run.threadId;
      t.mt.threadId = run.threadId;
      save();
    }
    withStore('worker', (s) =>
      s.upsertWorker({
        runId: ctx.runId,
        workerId,
        status: storeWorkerStatus(run),
        runDir: run.runDir,
        profile: run.profile,
        usage: { input: run.usage.inputTokens, output: run.usage.outputTokens, cachedInput: run.usage.cachedInputTokens },
        endedAt: now(),
        ...(run.threadId ? { threadId: run.threadId } : {}),
        ...(run.exitCode !== null ? { exitCode: run.exitCode } : {}),
        ...(run.reason !== undefined ? { error: run.reason } : {}),
      }),
    );
    emit({ type: 'plan.worker', ts: now(), taskId: t.id, workerId, purpose, phase: 'finished', status: run.status, tokens });
    decide('worker', run.status, run.status === 'complete' ? `goal ${run.result?.goal_met ? 'met' : 'NOT met'}: ${tail(run.result?.summary ?? '', 300)}` : (run.reason ?? run.status), t.id, {
      workerId,
      threadId: run.threadId,
      tokens,
    });
    budget.addTokens(tokens);
    return run;
  };

  /** Runs a worker; a stuck or crashed one is restarted by resume with the error (bounded), then the subtask is stuck/error. */
  const work = async (t: TaskRun, purpose: WorkerPurpose, prompt: string): Promise<WorkerRun> => {
    let run = await launch(t, purpose, prompt, t.threadId);
    for (let heal = 1; ; heal++) {
      checkpoint();
      if (run.status === 'complete') break;
      if (run.reason === 'aborted') throw new Interrupted(stoppedBy ?? 'aborted');
      const why = run.reason ?? run.status;
      if (heal > maxHeals) {
        throw new TaskFailure(`worker ${run.status} after ${maxHeals} self-heal restart(s): ${tail(why, 600)}`, run.status === 'stuck' ? 'stuck' : 'error');
      }
      const resumable = run.threadId ?? t.threadId;
      decide('heal', 'restart', `worker ${run.status}: ${tail(why, 300)}; ${resumable ? `resuming thread ${resumable}` : 'starting a new thread'} with the error (${heal}/${maxHeals})`, t.id);
      run = await launch(t, 'heal', healPrompt(why, resumable ? null : prompt), resumable);
    }
    if (run.result && !run.result.goal_met) {
      throw new TaskFailure(`the worker says the goal is not met${run.result.followup_prompt ? `; what is left: ${tail(run.result.followup_prompt, 400)}` : ''}`);
    }
    return run;
  };

  const acceptanceRun = async (t: TaskRun): Promise<{ ok: boolean; exitCode: number | null; log: string } | null> => {
    if (!t.acceptance) return null;
    checkpoint();
    testRuns.push({ taskId: t.id, kind: 'acceptance', worktree: t.wtName, command: t.acceptance });
    const r = await runCommand(t.wtName, t.acceptance);
    checkpoint();
    const out = commandLog(r);
    decide('acceptance', r.ok ? 'passed' : 'failed', `\`${t.acceptance}\` ${r.denied ? 'was denied by the guard' : `exited ${r.exitCode ?? 'none'}`}`, t.id, { exitCode: r.exitCode });
    return { ok: r.ok, exitCode: r.exitCode, log: out };
  };

  const commitIfNeeded = async (t: TaskRun) => {
    const sha = await commitAll(t.worktree, `${t.mt.kind}: ${t.mt.title} (${t.id})`);
    if (sha) decide('worker', 'committed', `the worker left changes uncommitted; committed them as ${short(sha)}`, t.id, { sha });
  };

  /** acceptance → commit → review, with rework rounds on the worker's thread, until approved (or the bounds are hit). */
  const acceptAndReview = async (t: TaskRun) => {
    for (;;) {
      const acc = await acceptanceRun(t);
      t.lastAcceptance = { passed: acc ? acc.ok : null, log: acc?.log ?? '' };
      if (acc && !acc.ok) {
        if (t.acceptanceFixes >= maxAcceptanceFixes) {
          throw new TaskFailure(`acceptance \`${t.acceptance}\` still fails after ${maxAcceptanceFixes} fix round(s): ${tail(acc.log, 500)}`);
        }
        t.acceptanceFixes++;
        decide('acceptance', 'rework', `sending the failure back to the worker (round ${t.acceptanceFixes}/${maxAcceptanceFixes})`, t.id);
        await work(t, 'acceptance', acceptancePrompt(t.acceptance as string, acc.exitCode, acc.log));
        continue;
      }
      await commitIfNeeded(t);
      if (!ctx.review) {
        decide('review', 'skipped', 'no review agent for this run (--no-review): merging on acceptance alone', t.id);
        return;
      }
      checkpoint();
      if (stopping()) throw new Interrupted(stoppedBy ?? 'stopping');
      const diff = await diffAgainst(t.worktree, mainBranch, { maxBytes: ctx.maxDiffBytes ?? DEFAULTS.maxDiffBytes });
      const round = t.reviews.length + 1;
      let verdict: Awaited<ReturnType<ReviewFn>>;
      try {
        verdict = await ctx.review(
          {
            subtask: { id: t.mt.id, title: t.mt.title, kind: t.mt.kind, prompt: t.mt.prompt, files: t.mt.files, dependsOn: t.mt.dependsOn, ...(t.mt.acceptance !== undefined ? { acceptance: t.mt.acceptance } : {}) },
            diff: {
              files: diff.files.map((f) => ({ path: f.path, status: f.status, ...(f.additions !== null ? { additions: f.additions } : {}), ...(f.deletions !== null ? { deletions: f.deletions } : {}) })),
              diff: diff.diff,
              truncated: diff.truncated,
            },
            acceptanceLog: tail(t.lastAcceptance.log, 8000),
            acceptancePassed: t.lastAcceptance.passed,
            round,
            workerSummary: t.lastSummary,
          },
          hard.signal,
        );
      } catch (error) {
        checkpoint();
        throw new TaskFailure(`the review failed: ${describeError(error)}`);
      }
      reviewTokens.input += verdict.tokens.input;
      reviewTokens.output += verdict.tokens.output;
      t.reviews.push({ round, verdict: verdict.verdict, risk: verdict.risk, comments: verdict.comments });
      emit({ type: 'plan.worker', ts: now(), taskId: t.id, workerId: `review-${round}`, purpose: 'review', phase: 'finished', status: verdict.verdict, tokens: verdict.tokens.input + verdict.tokens.output });
      decide('review', verdict.verdict, `round ${round}, risk ${verdict.risk}: ${tail(verdict.comments, 400) || '(no comments)'}`, t.id, { round, risk: verdict.risk, files: diff.files.length });
      budget.addTokens(verdict.tokens.input + verdict.tokens.output);
      if (verdict.verdict === 'approve') return;
      if (t.reviewReworks >= maxReviewRounds) {
        throw new TaskFailure(`the reviewer still asks for rework after ${maxReviewRounds} round(s): ${tail(verdict.comments, 500)}`);
      }
      t.reviewReworks++;
      await work(t, 'review', reviewPrompt(verdict.comments, verdict.risk, round));
    }
  };

  const conflictRework = async (t: TaskRun) => {
    const cr = await prepareConflictRework(baseDir, t.slug, { mainBranch });
    if (cr.status === 'clean') {
      decide('merge', 'rework-clean', `${mainBranch} merged into ${t.branch} without conflicts (${short(cr.sha)}); re-queueing`, t.id);
    } else {
      decide('merge', 'rework-conflict', `${mainBranch} merged into ${t.branch} with conflicts in ${cr.files.join(', ')}; resuming the worker with both sides' intent`, t.id, { files: cr.files });
      try {
        await work(t, 'conflict', conflictPrompt(cr, t.mt.title));
        const done = await finishConflictRework(baseDir, t.slug);
        decide('merge', 'rework-resolved', `conflicts resolved${done.committed ? ` and committed as ${short(done.sha)}` : ''}`, t.id);
      } catch (error) {
        await abortConflictRework(baseDir, t.slug).catch(() => undefined);
        throw error instanceof Interrupted || error instanceof TaskFailure ? error : new TaskFailure(`conflict rework failed: ${describeError(error)}`);
      }
    }
    await acceptAndReview(t);
  };

  const smokeRework = async (t: TaskRun, out: Pick<Extract<MergeOutcome, { status: 'smoke-failed' }>, 'revertSha' | 'log'>) => {
    const sr = await prepareSmokeRework(baseDir, t.slug, { revertSha: out.revertSha, mainBranch });
    const files = sr.status === 'conflict' ? sr.files : [];
    decide('merge', 'rework-smoke', `branch restored on top of ${mainBranch}${files.length ? ` with conflicts in ${files.join(', ')}` : ''}; sending the smoke log to the worker`, t.id);
    try {
      await work(t, 'smoke', smokePrompt(smokeCommand ?? '(smoke)', out.log, files));
      if (files.length) await finishConflictRework(baseDir, t.slug);
    } catch (error) {
      if (files.length) await abortConflictRework(baseDir, t.slug).catch(() => undefined);
      throw error instanceof Interrupted || error instanceof TaskFailure ? error : new TaskFailure(`smoke rework failed: ${describeError(error)}`);
    }
    await acceptAndReview(t);
  };

  const removeMerged = async (t: TaskRun) => {
    if (settings.archive) {
      const r = await runCommand(t.wtName, settings.archive);
      decide('merge', r.ok ? 'archived' : 'archive-failed', `\`${settings.archive}\` ${r.denied ? 'was denied by the guard' : `exited ${r.exitCode ?? 'none'}`}`, t.id);
    }
    try {
      const removed = await removeWorktree(baseDir, t.slug);
      decide('merge', 'worktree-removed', removed.removed ? `${t.wtName} removed; branch ${t.branch} kept` : `${t.wtName} was already gone; branch ${t.branch} kept`, t.id);
    } catch (error) {
      decide('merge', 'worktree-kept', `${t.wtName} kept: ${describeError(error)}`, t.id);
    }
  };

  /** Records a subtask as merged (store once, result, schedule) and removes its worktree. */
  const recordMerged = async (t: TaskRun, sha: string, attempt: number, why: string) => {
    t.merge.sha = sha;
    // After a resume the branch may already be recorded (merged just before the earlier process died): never twice.
    withStore('merge', (s) => {
      if (!s.hasMerged(ctx.runId, t.branch)) s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'merged', sha });
    });
    merges.push({ taskId: t.id, branch: t.branch, sha, at: now(), attempt });
    transition(scheduleEvent.merged(t.id), why, { sha, attempt });
    await removeMerged(t);
  };

  /**
   * Everything that decides, before a branch goes to the queue, whether it may
   * be merged now: the queue stopped for this run (a dirty main/ after the one
   * wait, or a merge it could not undo), or git already has the branch in main
   * (merged by an earlier run or process, whatever the store says). Answers
   * 'merged' when there is nothing left to merge. A gate (an approval) goes here.
   */
  const beforeMerge = async (t: TaskRun): Promise<'merge' | 'merged'> => {
    if (mergeStopped) throw new LeftComplete(mergeStopped);
    const already = await branchMergedInto(mainDir, t.branch);
    if (already) {
      decide('merge', 'already-merged', `${t.branch} is already in ${mainBranch} (merge ${short(already)}); not merged again`, t.id, { branch: t.branch, sha: already });
      alreadyInMain.set(t.id, `already in ${mainBranch}: ${t.branch} was merged earlier (${short(already)}); not merged again`);
      await recordMerged(t, already, t.merge.attempts, `${t.branch} was already in ${mainBranch} as ${short(already)} (merged earlier); not merged again`);
      return 'merged';
    }
    return 'merge';
  };

  /** The queue stops for the whole run: every later subtask stays complete for `runs merge`. */
  const stopMerging = (why: string): never => {
    if (!mergeStopped) {
      mergeStopped = `not merged: the merge queue stopped: ${why}. main/ was left untouched; the branch is kept and stays complete — codex-orch runs merge ${ctx.runId} merges it when main/ is ready`;
      decide('merge', 'queue-stopped', why);
    }
    throw new LeftComplete(mergeStopped);
  };

  const mergeLoop = async (t: TaskRun) => {
    for (let attempt = 1; ; attempt++) {
      checkpoint();
      t.merge.attempts = attempt;
      if ((await beforeMerge(t)) === 'merged') return;
      const out = await queue.enqueue(t.branch, { title: t.mt.title, taskId: t.id });
      mergingTask = undefined;
      t.merge.outcome = out.status;
      switch (out.status) {
        case 'merged':
          await recordMerged(t, out.sha, attempt, `${t.branch} merged into ${mainBranch} as ${short(out.sha)}${out.alreadyMerged ? ' (already contained)' : ''}`);
          return;
        case 'main-dirty':
          // A stop (abort, budget) cuts the queue's wait for main/ short: that is not the person's edits failing the subtask.
          checkpoint();
          withStore('merge', (s) => s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'skipped', detail: out.message }));
          return stopMerging(out.message);
        case 'error':
          withStore('merge', (s) => s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'failed', detail: out.message }));
          if (queue.halted) return stopMerging(out.message);
          if (mergeOnly) throw new LeftComplete(`merge failed: ${out.message}`);
          throw new TaskFailure(`merge failed: ${out.message}`);
        case 'conflict':
          t.merge.conflicts++;
          withStore('merge', (s) => s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'conflict', detail: out.files.join(', ') }));
          if (mergeOnly) throw new LeftComplete(`merge conflict in ${out.files.join(', ')} (merge aborted, main unchanged); a worker must rework it: codex-orch resume ${ctx.runId}`);
          if (attempt >= maxMergeAttempts) throw new TaskFailure(`merge conflict in ${out.files.join(', ')} after ${attempt} merge attempt(s)`);
          await conflictRework(t);
          break;
        case 'smoke-failed':
          t.merge.smokeFailures++;
          withStore('merge', (s) => s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'smoke-failed', sha: out.revertSha, detail: tail(out.log, 2000) }));
          if (mergeOnly) throw new LeftComplete(`the smoke test failed after the merge, which was reverted (${short(out.revertSha)}); a worker must rework it: codex-orch resume ${ctx.runId}`);
          if (attempt >= maxMergeAttempts) throw new TaskFailure(`smoke test \`${smokeCommand}\` failed after ${attempt} merge attempt(s) (each merge reverted): ${tail(out.log, 400)}`);
          await smokeRework(t, out);
          break;
      }
    }
  };

  /** A subtask that was complete when an earlier process stopped: to the merge queue (after its cut-off rework, if any). */
  const resumeComplete = async (t: TaskRun) => {
    const rework = pendingRework(decisions.prior, t.id);
    transition(
      scheduleEvent.completed(t.id),
      `it was complete when an earlier run stopped${rework ? `; its ${rework.kind} rework was cut off` : ''}; ${mergeOnly ? 'merge only: no worker, no review' : rework ? 'redoing that rework, then' : 'no worker:'} queued for merge`,
    );
    if (rework && mergeOnly) {
      throw new LeftComplete(`its last merge ${rework.kind === 'smoke' ? 'failed the smoke test and was reverted' : 'had conflicts'}; a worker must rework it: codex-orch resume ${ctx.runId}`);
    }
    if (rework?.kind === 'smoke') await smokeRework(t, { revertSha: rework.revertSha, log: '(the log of the failed smoke test was lost when the earlier run stopped; run the smoke test yourself)' });
    else if (rework?.kind === 'conflict') await conflictRework(t);
    await mergeLoop(t);
  };

  const runTask = async (t: TaskRun) => {
    // A subtask git already has in main (an earlier run of this plan, even one the store forgot) is never redone.
    const already = await branchMergedInto(mainDir, t.branch);
    if (already) {
      transition(scheduleEvent.completed(t.id), `${t.branch} is already in ${mainBranch} (merge ${short(already)}): not redone`);
      decide('merge', 'already-merged', `${t.branch} is already in ${mainBranch} (merge ${short(already)}); not merged again`, t.id, { branch: t.branch, sha: already });
      t.mt.branch = t.branch;
      resumedComplete.delete(t.id);
      resumedRunning.delete(t.id);
      alreadyInMain.set(t.id, `already in ${mainBranch}: ${t.branch} was merged earlier (${short(already)}); not redone`);
      await recordMerged(t, already, 0, `${t.branch} was already in ${mainBranch} as ${short(already)} (merged earlier); not redone, not merged again`);
      return;
    }
    const wt = await createWorktree(baseDir, t.slug, { from: mainBranch });
    t.mt.worktree = wt.path;
    t.mt.branch = wt.branch;
    save();
    decide('schedule', 'worktree', `${wt.state} worktree ${t.wtName} on ${wt.branch} at ${short(wt.head)}`, t.id, { state: wt.state, head: wt.head });
    if (!worktreesCreated.includes(t.wtName)) worktreesCreated.push(t.wtName);
    if (resumedComplete.delete(t.id)) return resumeComplete(t);
    if (wt.state === 'new') {
      for (const cmd of settings.setup) {
        checkpoint();
        const r = await runCommand(t.wtName, cmd);
        checkpoint();
        decide('worker', r.ok ? 'setup' : 'setup-failed', `\`${cmd}\` ${r.denied ? 'was denied by the guard' : `exited ${r.exitCode ?? 'none'}`}`, t.id);
        if (!r.ok) throw new TaskFailure(`setup command \`${cmd}\` failed: ${tail(commandLog(r), 500)}`);
      }
    }
    // A restarted subtask continues on its thread (or, without one, from what its worktree holds), told why.
    await work(t, 'initial', resumedRunning.delete(t.id) ? restartPrompt(t.prompt) : t.prompt);
    await acceptAndReview(t);
    transition(scheduleEvent.completed(t.id), ctx.review ? 'accepted and approved; queued for merge' : 'accepted; queued for merge');
    await mergeLoop(t);
  };

  // --- the scheduling loop
  let woken = false;
  let waiter: (() => void) | undefined;
  function wake() {
    woken = true;
    const w = waiter;
    waiter = undefined;
    w?.();
  }
  const active = new Map<string, Promise<void>>();

  /**
   * The one place a subtask's step outcome is turned into its next state (like
   * the Agents SDK's NextStep): done (merged, or found already in main), left
   * complete (its branch is ready, merged later), interrupted (left for a
   * resume), or failed (stuck or error, with the reason).
   */
  const route = (id: string, outcome: SubtaskOutcome): void => {
    const status = state.tasks[id]?.status;
    switch (outcome.type) {
      case 'done':
        return;
      case 'left-complete':
        // Its branch is ready (accepted and reviewed): it stays complete, so a resume or `runs merge` merges it without a worker.
        leftComplete.set(id, outcome.reason);
        decide('schedule', 'left-complete', outcome.reason, id);
        return;
      case 'interrupted':
        if (status === 'running' || status === 'complete') transition(scheduleEvent.requeued(id, `left: ${outcome.reason}`), `stopped before it finished (${outcome.reason}); its worktree and branch are kept for a resume`);
        return;
      case 'failed':
        if (outcome.unexpected !== undefined) log.error({ err: outcome.unexpected, taskId: id }, 'subtask failed unexpectedly');
        if (outcome.status === 'stuck' && status === 'running') transition(scheduleEvent.stuck(id, outcome.reason), outcome.reason);
        else if (status === 'running' || status === 'complete' || status === 'stuck') transition(scheduleEvent.failed(id, outcome.reason), outcome.reason);
        return;
    }
  };

  const start = (id: string) => {
    const mt = byId.get(id) as ManifestTask;
    const slug = taskSlug(id);
    let t = runs.get(id);
    if (!t) {
      const acceptance = mt.acceptance ?? settings.acceptance;
      const previous = previousWorkers(ctx.runDir, slug);
      t = {
        id,
        slug,
        wtName: taskWorktreeName(id),
        worktree: path.join(baseDir, taskWorktreeName(id)),
        branch: taskWorktreeName(id),
        mt,
        prompt: renderTaskPrompt(templates, mt, { planTask: manifest.task, acceptance }),
        acceptance,
        threadId: mt.threadId ?? previous.threadId,
        workerSeq: previous.seq,
        workerCount: 0,
        acceptanceFixes: 0,
        reviewReworks: 0,
        reviews: [],
        lastAcceptance: { passed: null, log: '' },
        lastSummary: '',
        merge: { sha: null, attempts: 0, conflicts: 0, smokeFailures: 0, outcome: null },
      };
      runs.set(id, t);
    }
    const task = t;
    mt.startedAt = now();
    mt.endedAt = null;
    transition(scheduleEvent.started(id), `runnable: dependencies ${mt.dependsOn.length ? mt.dependsOn.join(', ') + ' merged' : 'none'}, phase open, no overlapping subtask running (${state.graph.rank.indexOf(id) + 1}. by longest remaining path)`, {
      running: Object.entries(state.tasks).filter(([, s]) => s.status === 'running').map(([k]) => k),
    });
    const job = runTask(task)
      .then(
        (): SubtaskOutcome => ({ type: 'done' }),
        (error: unknown) => outcomeOf(error, state.tasks[id]?.status),
      )
      .then((outcome) => route(id, outcome))
      .finally(() => {
        active.delete(id);
        wake();
      });
    active.set(id, job);
  };

  emit({ type: 'plan.started', ts: now(), runId: ctx.runId, task: manifest.task, tasks: byId.size, maxParallel });
  decide('run', 'start', `${mergeOnly ? `merge only: ${resumedComplete.size} complete subtask(s) to merge; ` : ''}${resumedComplete.size || resumedRunning.size ? `resumed (${resumedComplete.size} complete, ${resumedRunning.size} running); ` : ''}${byId.size} subtask(s), WIP ${maxParallel}, gate ${ctx.gate ?? 'merged'}, review ${ctx.review ? 'on' : 'off'}, main branch ${mainBranch}${settings.found ? `, settings ${path.basename(settings.file)}` : ''}`);
  budget.start();
  try {
    for (;;) {
      if (!stopping()) {
        for (const id of nextRunnable(state)) {
          if (mergeOnly && !resumedComplete.has(id)) continue;
          if (stopping() || (!resumedComplete.has(id) && !budget.canLaunchWorker())) break;
          start(id);
        }
      }
      if (active.size === 0) break;
      if (!woken) await new Promise<void>((resolve) => (waiter = resolve));
      woken = false;
    }
    await queue.idle();
  } finally {
    budget.stop();
    ctx.signal?.removeEventListener('abort', onAbort);
  }

  for (const [id, why] of leftComplete) {
    const mt = byId.get(id) as ManifestTask;
    if (mt.status === 'complete') mt.reason = why;
  }
  for (const [id, why] of alreadyInMain) {
    const mt = byId.get(id) as ManifestTask;
    if (mt.status === 'merged') mt.reason = why;
  }
  // Merge only: whatever was not complete is exactly as it was (pending stays pending, without a reason).
  const left = [...byId.values()].filter((t) => t.status !== 'merged').map((t) => ({ id: t.id, status: t.status, reason: t.reason }));
  for (const l of left) {
    if (l.status === 'pending' && stoppedBy && !l.reason) {
      const mt = byId.get(l.id) as ManifestTask;
      mt.reason = `not started: ${stoppedBy}`;
      l.reason = mt.reason;
    }
  }
  const allMerged = left.length === 0;
  decide(
    'run',
    'finish',
    allMerged ? `all ${byId.size} subtask(s) merged` : `${byId.size - left.length}/${byId.size} merged; left: ${left.map((l) => `${l.id} (${l.status})`).join(', ')}${stoppedBy ? `; stopped: ${stoppedBy}` : ''}`,
  );
  save();
  emit({ type: 'plan.finished', ts: now(), runId: ctx.runId, allMerged, merged: byId.size - left.length, total: byId.size, stoppedBy });

  const workerTokens = workers.reduce(
    (a, w) => ({ input: a.input + w.usage.inputTokens, cachedInput: a.cachedInput + w.usage.cachedInputTokens, output: a.output + w.usage.outputTokens }),
    { input: 0, cachedInput: 0, output: 0 },
  );
  const subtasks: SubtaskSummary[] = [...byId.values()].map((mt) => {
    const t = runs.get(mt.id);
    return {
      id: mt.id,
      title: mt.title,
      status: mt.status,
      attempts: mt.attempts,
      reason: mt.reason,
      branch: mt.branch,
      worktree: mt.worktree,
      workers: t?.workerCount ?? 0,
      reviews: t?.reviews ?? [],
      merge: t?.merge ?? { sha: null, attempts: 0, conflicts: 0, smokeFailures: 0, outcome: null },
      summary: tail(t?.lastSummary ?? '', 400),
    };
  });
  return {
    manifest,
    manifestFile,
    testRuns,
    smoke: { command: smokeCommand ?? null, suggested: smokeCommand ? null : detectTestCommand(mainDir) },
    worktreesCreated,
    decisionsFile,
    subtasks,
    merges,
    workers,
    tokens: { workers: workerTokens, review: reviewTokens, total: workerTokens.input + workerTokens.output + reviewTokens.input + reviewTokens.output },
    decisions: decisions.count,
    allMerged,
    stoppedBy,
    aborted: stoppedBy === 'aborted',
    left,
    wallTimeMs: Date.now() - started,
  };
}
