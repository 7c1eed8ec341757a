/**
 * Worker launch and self-heal: one worker for a subtask through the launcher
 * seam (records, store rows, events, budget), and `work`, which restarts a
 * stuck or crashed worker on its thread with the error (bounded) before the
 * subtask is stuck or error.
 */
import type { WorkerRun } from '../../workers/codex/index.js';
import { addTally, tallyTokens, zeroTally } from '../../cost/index.js';
import { codexActivity, type CodexActivity } from '../../workers/codex/index.js';
import { now } from '../events.js';
import { Interrupted, TaskFailure, type PlanWorkerRecord, type TaskRun, type WorkerPurpose } from './plan-types.js';
import { healPrompt, newThreadPrompt, tail } from './rework-prompts.js';
import type { FinishedWorker } from './resume-step.js';
import type { StepContext } from './step-context.js';
import { codexLauncher, storeWorkerStatus, type WorkerLauncher } from './worker-launch.js';
import { describeError } from '../../errors.js';

export function createWorkerStep(s: StepContext) {
  const { ctx, log, emit, decide, withStore, save, checkpoint, budget, workers } = s;
  const { maxHeals } = s.limits;
  const hard = { signal: s.signal };
  /** A rework's prompt for a worker that has not seen the task (a new thread): the task comes with it. */
  const withTask = (t: TaskRun, purpose: WorkerPurpose, prompt: string): string =>
    purpose === 'initial' || purpose === 'heal' ? prompt : newThreadPrompt(prompt, t.prompt, t.lastSummary);
  const launch = async (t: TaskRun, purpose: WorkerPurpose, given: string, thread: string | null): Promise<WorkerRun> => {
    checkpoint();
    // A thread is resumed only on this machine: an agent starts a new one, which has not seen the task.
    const threadId = ctx.launcher?.remote ? null : thread;
    const prompt = threadId ? given : withTask(t, purpose, given);
    if (!budget.canLaunchWorker()) throw new Interrupted(s.stoppedBy() ?? 'worker budget used up');
    budget.workerLaunched();
    const workerId = `${t.slug}-${++t.workerSeq}`;
    t.workerCount++;
    emit({ type: 'plan.worker', ts: now(), taskId: t.id, workerId, purpose, phase: 'started' });
    decide(
      'worker',
      'start',
      `${purpose} worker ${workerId}${threadId ? ` resuming thread ${threadId}` : ' on a new thread'} (profile fast, escalation to deep)`,
      t.id,
      { workerId, purpose },
    );
    withStore('worker', (s) =>
      s.upsertWorker({
        runId: ctx.runId,
        workerId,
        subtaskId: t.id,
        status: 'running',
        startedAt: now(),
        profile: 'fast',
        threadId: threadId || undefined,
      }),
    );
    const counted = zeroTally();
    /** What the worker did, from this machine's codex events or an agent's progress: the live view and store (events), the budget (usage). */
    const onActivity = (activity: CodexActivity) => {
      emit({ type: 'worker.activity', ts: now(), worktree: t.wtName, taskId: t.id, workerId, activity });
      if (activity.kind !== 'usage') return;
      addTally(counted, activity.usage);
      budget.addUsage(tallyTokens(activity.usage), s.priced(s.workerModelName, activity.usage));
    };
    let run: Awaited<ReturnType<WorkerLauncher['launch']>>;
    try {
      run = await (ctx.launcher ?? codexLauncher).launch({
        task: {
          id: t.id,
          slug: t.slug,
          purpose,
          branch: t.branch,
          worktreeName: t.wtName,
          acceptance: t.acceptance,
          commitMessage: `${t.mt.kind}: ${t.mt.title} (${t.id})`,
          mergeMain: t.remoteMergeMain || undefined,
          revert: t.remoteRevert,
          priority: t.priority,
        },
        repo: { mainDir: s.mainDir, mainBranch: s.mainBranch, setup: s.settings.setup },
        onEvent: (e) => {
          const activity = codexActivity(e);
          if (activity) onActivity(activity);
        },
        onActivity,
        prompt,
        cwd: t.worktree,
        config: ctx.config,
        runId: ctx.runId,
        workerId,
        threadId,
        signal: hard.signal,
        logger: log,
        env: ctx.workerEnv,
        stallMs: ctx.workerStallMs,
      });
    } catch (error) {
      // A launcher that could not run the worker at all (an agent's job failed for good, the queue gone): stopped, or this subtask fails.
      checkpoint();
      throw new TaskFailure(`the ${purpose} worker could not run: ${describeError(error)}`);
    }
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
      reason: run.reason,
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
        threadId: run.threadId || undefined,
        exitCode: run.exitCode ?? undefined,
        error: run.reason,
      }),
    );
    const usage = { input: run.usage.inputTokens, cachedInput: run.usage.cachedInputTokens, output: run.usage.outputTokens };
    emit({
      type: 'plan.worker',
      ts: now(),
      taskId: t.id,
      workerId,
      purpose,
      phase: 'finished',
      status: run.status,
      tokens,
      usage,
      model: s.workerModelName,
      reason: run.reason === undefined ? undefined : tail(run.reason, 300),
    });
    decide(
      'worker',
      run.status,
      run.status === 'complete'
        ? `goal ${run.result?.goal_met ? 'met' : 'NOT met'}: ${tail(run.result?.summary ?? '', 300)}`
        : (run.reason ?? run.status),
      t.id,
      {
        workerId,
        threadId: run.threadId,
        tokens,
      },
    );
    // What the turns did not report yet (a killed worker's last turn, a fake codex with only a final count, an agent machine).
    const rest = {
      input: Math.max(0, usage.input - counted.input),
      cachedInput: Math.max(0, usage.cachedInput - counted.cachedInput),
      output: Math.max(0, usage.output - counted.output),
    };
    if (tallyTokens(rest) > 0) budget.addUsage(tallyTokens(rest), s.priced(s.workerModelName, rest));
    t.remoteMergeMain = false;
    // A restore the agent could not finish (markers left, the revert aborted there) left the branch as it was: a self-heal restores again.
    if (run.status === 'complete') t.remoteRevert = undefined;
    if (run.acceptanceRun !== undefined) t.remoteAcceptance = run.acceptanceRun;
    return run;
  };

  /** Runs a worker; a stuck or crashed one is restarted by resume with the error (bounded), then the subtask is stuck/error. */
  const work = async (t: TaskRun, purpose: WorkerPurpose, prompt: string): Promise<WorkerRun> => {
    let run = await launch(t, purpose, prompt, t.threadId);
    for (let heal = 1; ; heal++) {
      checkpoint();
      if (run.status === 'complete') break;
      if (run.reason === 'aborted') throw new Interrupted(s.stoppedBy() ?? 'aborted');
      const why = run.reason ?? run.status;
      if (heal > maxHeals) {
        throw new TaskFailure(
          `worker ${run.status} after ${maxHeals} self-heal restart(s): ${tail(why, 600)}`,
          run.status === 'stuck' ? 'stuck' : 'error',
        );
      }
      const resumable = run.threadId ?? t.threadId;
      decide(
        'heal',
        'restart',
        `worker ${run.status}: ${tail(why, 300)}; ${resumable ? `resuming thread ${resumable}` : 'starting a new thread'} with the error (${heal}/${maxHeals})`,
        t.id,
      );
      run = await launch(t, 'heal', healPrompt(why, resumable ? null : withTask(t, purpose, prompt)), resumable);
    }
    if (run.result && !run.result.goal_met) {
      throw new TaskFailure(
        `the worker says the goal is not met${run.result.followup_prompt ? `; what is left: ${tail(run.result.followup_prompt, 400)}` : ''}`,
      );
    }
    return run;
  };

  /**
   * A worker of an earlier process that had finished with its goal met (the
   * process stopped before it recorded what came next): its result stands in
   * for a new worker — its thread is the subtask's, its store row is closed,
   * and no codex process runs again.
   */
  const adopt = (t: TaskRun, w: FinishedWorker): void => {
    if (w.summary) t.lastSummary = w.summary;
    if (w.threadId && w.threadId !== t.mt.threadId) {
      t.threadId = w.threadId;
      t.mt.threadId = w.threadId;
      save();
    }
    withStore('worker', (st) =>
      st.upsertWorker({
        runId: ctx.runId,
        workerId: w.workerId,
        subtaskId: t.id,
        status: 'succeeded',
        runDir: w.runDir,
        usage: w.usage,
        threadId: w.threadId || undefined,
      }),
    );
    decide(
      'worker',
      'recovered',
      `worker ${w.workerId} had finished (goal met: ${tail(w.summary, 200)}) when an earlier run stopped; its result is used, no worker runs again`,
      t.id,
      { workerId: w.workerId, threadId: w.threadId, changedFiles: w.changedFiles },
    );
  };

  return { launch, work, adopt };
}
