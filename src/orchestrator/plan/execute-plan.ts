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
import { OrchestratorError } from '../../errors.js';
import {
  createTaskBranch,
  createWorktree,
  currentBranch,
  loadRepoSettings,
  type CreatedWorktree,
  type RepoSettings,
} from '../../git/index.js';
import { silentLogger } from '../../logging/logger.js';
import { nextRunnable, scheduleEvent, taskSlug, taskWorktreeName, type Manifest, type ManifestTask } from '../../scheduler/index.js';
import { runRepoCommand, type GatewayContext } from '../../tools/run-repo-command/gateway.js';
import { codexModelName } from '../../workers/codex/index.js';
import { costOf, loadPrices, priceOf, type TokenTally } from '../../cost/index.js';
import { ApprovalGate, approvalModeOn, recordApprovalMode } from '../approval-gate.js';
import { now, type RunEvent } from '../events.js';
import { BudgetTracker, type BudgetStop } from './budgets.js';
import { DecisionsLog, type DecisionKind } from './decisions-log.js';
import { PlanState } from './plan-state.js';
import { parseManifest } from './manifest-file.js';
import { restartPrompt, tail } from './rework-prompts.js';
import {
  DEFAULTS,
  Interrupted,
  LeftComplete,
  TaskFailure,
  commandLog,
  commandOutcome,
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
} from './plan-types.js';
import { finishedWorker, markResumed, pendingRework, previousWorkers } from './resume-step.js';
import { loadTaskTemplates, renderTaskPrompt, type TaskTemplates } from './templates.js';
import { createMergeStep } from './merge-step.js';
import { createRetryStep } from './retry-step.js';
import { createReviewStep } from './review-step.js';
import type { StepContext } from './step-context.js';
import { createWorkerStep } from './worker-step.js';

export type { PlanBudgets } from './budgets.js';

export type {
  PlanRunContext,
  PlanRunResult,
  PlanMergeRecord,
  PlanTestRun,
  PlanWorkerRecord,
  ReviewRecord,
  SubtaskSummary,
  WorkerPurpose,
} from './plan-types.js';

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
  // Once a run has asked for approval, it keeps asking after a restart without the flag.
  const approve =
    ctx.approve ?? (ctx.config.approve || settings.approve === true || (ctx.store !== undefined && approvalModeOn(ctx.store, ctx.runId)));
  if (approve && !ctx.store)
    throw new OrchestratorError('config', 'approval before merge needs the run store (it keeps the wait across restarts)', {
      hint: 'run without --approve, or give the executor a store',
    });
  if (approve && ctx.store) recordApprovalMode(ctx.store, ctx.runId);
  const gate =
    approve && ctx.store
      ? new ApprovalGate({
          store: ctx.store,
          runId: ctx.runId,
          pollMs: ctx.approvalPollMs,
        })
      : undefined;

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
    emit({
      type: 'plan.decision',
      ts: d.at,
      taskId: d.taskId,
      kind: d.kind,
      action: d.action,
      reason: d.reason,
    }),
  );
  const decide = (kind: DecisionKind, action: string, reason: string, taskId?: string, data?: Record<string, unknown>) =>
    decisions.add(kind, action, reason, { taskId, data });

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
    const kill = stop.budget !== 'maxWorkers' && ctx.budgets?.onBudget !== 'finish';
    decide(
      'budget',
      'exhausted',
      `${stop.reason}: no new subtask or worker is started${kill ? '; running workers and commands are stopped' : '; running workers may finish'}`,
      undefined,
      { budget: stop.budget },
    );
    if (kill) hard.abort();
    wake();
  });
  // Money: the budget counts each worker's tokens as codex reports its turns, at the price table's prices.
  const prices = loadPrices(ctx.config.pricesFile);
  const workerModelName = codexModelName(ctx.config);
  const reviewModelName = ctx.config.reviewModel ?? ctx.config.model;
  const priced = (model: string | null, t: TokenTally): number | null => {
    const price = priceOf(prices, model);
    return price ? costOf(t, price) : null;
  };
  const stopping = () => stoppedBy !== null;
  const checkpoint = () => {
    if (hard.signal.aborted) throw new Interrupted(stoppedBy ?? 'aborted');
  };

  const gateway: GatewayContext = { ...ctx.gateway, baseDir, signal: hard.signal, runId: ctx.gateway.runId ?? ctx.runId };
  /** A gateway call; one that changed repository metadata it may not stops its subtask (after the restore). */
  const runCommand = async (worktree: string, command: string, taskId?: string, purpose?: 'setup') => {
    // `setup` lines are the repository's own install steps: the guard allows lockfile installs there (class install).
    const r = await runRepoCommand({ worktree, command }, purpose ? { ...gateway, purpose } : gateway);
    if (r.securityEvent) {
      decide('security', 'stopped', `\`${command}\` in ${worktree}: ${r.securityEvent}`, taskId);
      throw new TaskFailure(`security: \`${command}\` ${r.securityEvent}`);
    }
    return r;
  };

  // --- the plan state (scheduler + manifest + store mirror), after the resumed subtasks were marked.
  const plan = new PlanState(manifest, { runId: ctx.runId, manifestFile, log, emit, decide, store: ctx.store });
  const byId = plan.byId;
  const mergeOnly = ctx.mergeOnly === true;
  const { complete: resumedComplete, running: resumedRunning } = markResumed(byId.values(), mergeOnly);
  /** Subtasks that end this run still `complete` (merge-only, or stopped while queued), with why. */
  const leftComplete = new Map<string, string>();
  /** Subtasks git already had in main when this run reached them (never redone, never merged again), with the note. */
  const alreadyInMain = new Map<string, string>();

  plan.start({ wip: mergeOnly ? Number.POSITIVE_INFINITY : maxParallel, gate: ctx.gate });
  const { save, transition, withStore } = plan;

  // --- records for the result
  const workers: PlanWorkerRecord[] = [];
  const merges: PlanMergeRecord[] = [];
  const reviewTokens = { input: 0, output: 0 };
  const runs = new Map<string, TaskRun>();
  const testRuns: PlanTestRun[] = [];
  const worktreesCreated: string[] = [];
  /**
   * The subtask's worktree, made now if its branch has none yet: on the queue road a worker runs on an agent and
   * the branch comes back as a bundle, so a local worktree (every file checked out here) is made only for what runs
   * here — a local rework, the archive command (a review reads the branch's diff from main/).
   */
  const ensureWorktree = async (t: TaskRun): Promise<void> => {
    if (fs.existsSync(t.worktree)) return;
    recordWorktree(t, await createWorktree(baseDir, t.slug, { from: mainBranch }), ' (for the work done here)');
  };
  /** The bookkeeping of a subtask's worktree (made or reused): the manifest, the decision, the report's list. */
  const recordWorktree = (t: TaskRun, wt: CreatedWorktree, why = '') => {
    t.mt.worktree = wt.path;
    t.mt.branch = wt.branch;
    save();
    decide('schedule', 'worktree', `${wt.state} worktree ${t.wtName} on ${wt.branch} at ${short(wt.head)}${why}`, t.id, {
      state: wt.state,
      head: wt.head,
    });
    if (!worktreesCreated.includes(t.wtName)) worktreesCreated.push(t.wtName);
  };
  /** The subtask whose branch the queue is merging now (the queue merges one at a time). */
  // --- the steps: worker launch + self-heal, acceptance + review, merge (each its own module)
  const steps: StepContext = {
    ctx,
    log,
    baseDir,
    mainDir,
    mainBranch,
    settings,
    mergeOnly,
    limits: { maxReviewRounds, maxAcceptanceFixes, maxHeals, maxMergeAttempts },
    emit,
    decide,
    transition,
    withStore,
    save,
    checkpoint,
    stopping,
    stoppedBy: () => stoppedBy,
    signal: hard.signal,
    budget,
    gateway,
    runCommand,
    priced,
    workerModelName,
    reviewModelName,
    workers,
    merges,
    reviewTokens,
    testRuns,
    alreadyInMain,
    gate,
    ensureWorktree,
  };
  const { work, adopt } = createWorkerStep(steps);
  const { acceptAndReview } = createReviewStep(steps, { work });
  const { queue, smokeCommand, mergeLoop, conflictRework, smokeRework, recordMerged } = createMergeStep(steps, { work, acceptAndReview });
  const retry = createRetryStep(steps);

  /** A subtask that was complete when an earlier process stopped: to the merge queue (after its cut-off rework, if any). */
  const resumeComplete = async (t: TaskRun) => {
    const rework = pendingRework(decisions.prior, t.id);
    transition(
      scheduleEvent.completed(t.id),
      `it was complete when an earlier run stopped${rework ? `; its ${rework.kind} rework was cut off` : ''}; ${mergeOnly ? 'merge only: no worker, no review' : rework ? 'redoing that rework, then' : 'no worker:'} queued for merge`,
    );
    if (rework && mergeOnly) {
      throw new LeftComplete(
        `its last merge ${rework.kind === 'smoke' ? 'failed the smoke test and was reverted' : 'had conflicts'}; a worker must rework it: codex-orch resume ${ctx.runId}`,
      );
    }
    if (rework?.kind === 'smoke')
      await smokeRework(t, {
        revertSha: rework.revertSha,
        log: '(the log of the failed smoke test was lost when the earlier run stopped; run the smoke test yourself)',
      });
    else if (rework?.kind === 'conflict') await conflictRework(t);
    await mergeLoop(t);
  };

  const runTask = async (t: TaskRun) => {
    // A person's retry: the earlier attempt is set aside first, so what follows starts from main.
    await retry.freshStart(t);
    // A subtask git already has in main (an earlier run of this plan, even one the store forgot) is never redone.
    const already = await branchMergedInto(mainDir, t.branch);
    if (already) {
      transition(scheduleEvent.completed(t.id), `${t.branch} is already in ${mainBranch} (merge ${short(already)}): not redone`);
      decide('merge', 'already-merged', `${t.branch} is already in ${mainBranch} (merge ${short(already)}); not merged again`, t.id, {
        branch: t.branch,
        sha: already,
      });
      t.mt.branch = t.branch;
      resumedComplete.delete(t.id);
      resumedRunning.delete(t.id);
      alreadyInMain.set(t.id, `already in ${mainBranch}: ${t.branch} was merged earlier (${short(already)}); not redone`);
      await recordMerged(
        t,
        already,
        0,
        `${t.branch} was already in ${mainBranch} as ${short(already)} (merged earlier); not redone, not merged again`,
      );
      return;
    }
    // On the queue road the worker runs on an agent: the branch alone here, its worktree only when something runs here.
    const branchOnly = ctx.launcher?.remote === true;
    const wt = branchOnly
      ? await createTaskBranch(baseDir, t.slug, { from: mainBranch })
      : await createWorktree(baseDir, t.slug, { from: mainBranch });
    if (!branchOnly || wt.state === 'reused-worktree') recordWorktree(t, wt);
    else {
      t.mt.branch = wt.branch;
      save();
      decide(
        'schedule',
        'branch',
        `${wt.state === 'new' ? 'new' : 'earlier'} branch ${wt.branch} at ${short(wt.head)}; its worker runs on an agent (no local worktree until one is needed)`,
        t.id,
        { state: wt.state, head: wt.head },
      );
    }
    if (resumedComplete.delete(t.id)) return resumeComplete(t);
    if (wt.state === 'new' && !ctx.launcher?.remote) {
      for (const cmd of settings.setup) {
        checkpoint();
        const r = await runCommand(t.wtName, cmd, t.id, 'setup');
        checkpoint();
        decide('worker', r.ok ? 'setup' : 'setup-failed', `\`${cmd}\` ${commandOutcome(r)}`, t.id);
        if (!r.ok) throw new TaskFailure(`setup command \`${cmd}\` failed: ${tail(commandLog(r), 500)}`);
      }
    }
    const restarted = resumedRunning.delete(t.id);
    // An earlier process's worker that had finished, in the worktree it left, is used as it is; a restarted subtask
    // otherwise continues on its thread (or, without one, from what its worktree holds), told why.
    const finished =
      wt.state === 'reused-worktree' && t.workerCount === 0 && !ctx.launcher?.remote
        ? finishedWorker(ctx.runDir, t.slug, t.worktree, retry.threadFloor(t.id))
        : null;
    if (finished) adopt(t, finished);
    else await work(t, 'initial', restarted ? restartPrompt(t.prompt) : t.prompt);
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
    const status = plan.schedule.tasks[id]?.status;
    switch (outcome.type) {
      case 'done':
        return;
      case 'left-complete':
        // Its branch is ready (accepted and reviewed): it stays complete, so a resume or `runs merge` merges it without a worker.
        leftComplete.set(id, outcome.reason);
        decide('schedule', 'left-complete', outcome.reason, id);
        return;
      case 'interrupted':
        if (status === 'running' || status === 'complete')
          transition(
            scheduleEvent.requeued(id, `left: ${outcome.reason}`),
            `stopped before it finished (${outcome.reason}); its worktree and branch are kept for a resume`,
          );
        return;
      case 'failed':
        if (outcome.unexpected !== undefined) log.error({ err: outcome.unexpected, taskId: id }, 'subtask failed unexpectedly');
        if (outcome.status === 'stuck' && status === 'running') transition(scheduleEvent.stuck(id, outcome.reason), outcome.reason);
        else if (status === 'running' || status === 'complete' || status === 'stuck')
          transition(scheduleEvent.failed(id, outcome.reason), outcome.reason);
        return;
    }
  };

  const start = (id: string) => {
    const mt = byId.get(id) as ManifestTask;
    const slug = taskSlug(id);
    let t = runs.get(id);
    if (!t) {
      const acceptance = mt.acceptance ?? settings.acceptance;
      const floor = retry.threadFloor(id);
      const previous = previousWorkers(ctx.runDir, slug, floor);
      t = {
        id,
        slug,
        wtName: taskWorktreeName(id),
        worktree: path.join(baseDir, taskWorktreeName(id)),
        branch: taskWorktreeName(id),
        mt,
        prompt: renderTaskPrompt(templates, mt, { planTask: manifest.task, acceptance }),
        acceptance,
        threadId: floor === Number.POSITIVE_INFINITY ? null : (mt.threadId ?? previous.threadId),
        workerSeq: previous.seq,
        workerCount: 0,
        acceptanceFixes: 0,
        reviewReworks: 0,
        reviews: [],
        lastAcceptance: { passed: null, log: '' },
        lastSummary: '',
        merge: { sha: null, attempts: 0, conflicts: 0, smokeFailures: 0, outcome: null },
        priority: plan.schedule.graph.priority.get(id) ?? 1,
      };
      runs.set(id, t);
    }
    const task = t;
    mt.startedAt = now();
    mt.endedAt = null;
    transition(
      scheduleEvent.started(id),
      `runnable: dependencies ${mt.dependsOn.length ? mt.dependsOn.join(', ') + ' merged' : 'none'}, phase open, no overlapping subtask running (${plan.schedule.graph.rank.indexOf(id) + 1}. by longest remaining path)`,
      {
        running: Object.entries(plan.schedule.tasks)
          .filter(([, s]) => s.status === 'running')
          .map(([k]) => k),
      },
    );
    const job = runTask(task)
      .then(
        (): SubtaskOutcome => ({ type: 'done' }),
        (error: unknown) => outcomeOf(error, plan.schedule.tasks[id]?.status),
      )
      .then((outcome) => route(id, outcome))
      .finally(() => {
        active.delete(id);
        wake();
      });
    active.set(id, job);
  };

  emit({ type: 'plan.started', ts: now(), runId: ctx.runId, task: manifest.task, tasks: byId.size, maxParallel });
  decide(
    'run',
    'start',
    `${mergeOnly ? `merge only: ${resumedComplete.size} complete subtask(s) to merge; ` : ''}${resumedComplete.size || resumedRunning.size ? `resumed (${resumedComplete.size} complete, ${resumedRunning.size} running); ` : ''}${byId.size} subtask(s), WIP ${maxParallel}, gate ${ctx.gate ?? 'merged'}, review ${ctx.review ? 'on' : 'off'}, main branch ${mainBranch}${settings.found ? `, settings ${path.basename(settings.file)}` : ''}`,
  );
  // A merge a killed process of this base dir left half done in main/ is cleared before anything is scheduled.
  await queue.recover();
  budget.start();
  try {
    for (;;) {
      if (!stopping()) {
        for (const id of nextRunnable(plan.schedule)) {
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
    allMerged
      ? `all ${byId.size} subtask(s) merged`
      : `${byId.size - left.length}/${byId.size} merged; left: ${left.map((l) => `${l.id} (${l.status})`).join(', ')}${stoppedBy ? `; stopped: ${stoppedBy}` : ''}`,
  );
  save();
  emit({ type: 'plan.finished', ts: now(), runId: ctx.runId, allMerged, merged: byId.size - left.length, total: byId.size, stoppedBy });

  const workerTokens = workers.reduce(
    (a, w) => ({
      input: a.input + w.usage.inputTokens,
      cachedInput: a.cachedInput + w.usage.cachedInputTokens,
      output: a.output + w.usage.outputTokens,
    }),
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
    tokens: {
      workers: workerTokens,
      review: reviewTokens,
      total: workerTokens.input + workerTokens.output + reviewTokens.input + reviewTokens.output,
    },
    decisions: decisions.count,
    allMerged,
    stoppedBy,
    aborted: stoppedBy === 'aborted',
    left,
    wallTimeMs: Date.now() - started,
  };
}
