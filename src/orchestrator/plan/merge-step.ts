/**
 * The merge step: the merge queue (smoke test through the gateway), what
 * decides before a merge whether it may happen (`beforeMerge`: a stopped
 * queue, a branch git already has in main — an approval gate goes there too),
 * the merge loop with conflict and smoke-test rework by the worker, and the
 * bookkeeping of a merge (store once, result, worktree removed).
 */
import { describeError } from '../../errors.js';
import { resolveCommit } from '../../git/repo.js';
import {
  MergeQueue,
  abortConflictRework,
  finishConflictRework,
  prepareConflictRework,
  prepareSmokeRework,
  removeWorktree,
  type MergeDecision,
  type MergeOutcome,
} from '../../git/index.js';
import { branchMergedInto } from '../../git/merged.js';
import { scheduleEvent } from '../../scheduler/index.js';
import { runRepoCommand } from '../../tools/run-repo-command/gateway.js';
import type { WorkerRun } from '../../workers/codex/index.js';
import { now } from '../events.js';
import {
  Interrupted,
  LeftComplete,
  TaskFailure,
  commandLog,
  commandOutcome,
  short,
  type TaskRun,
  type WorkerPurpose,
} from './plan-types.js';
import { approvalPrompt, conflictPrompt, smokePrompt, tail } from './rework-prompts.js';
import type { ApprovalGate } from '../approval-gate.js';
import type { StepContext } from './step-context.js';

export function createMergeStep(
  s: StepContext,
  steps: {
    work: (t: TaskRun, purpose: WorkerPurpose, prompt: string) => Promise<WorkerRun>;
    acceptAndReview: (t: TaskRun) => Promise<void>;
  },
) {
  const {
    ctx,
    baseDir,
    mainDir,
    mainBranch,
    settings,
    mergeOnly,
    decide,
    transition,
    withStore,
    checkpoint,
    gateway,
    runCommand,
    merges,
    testRuns,
    alreadyInMain,
  } = s;
  const { maxMergeAttempts } = s.limits;
  const hard = { signal: s.signal };
  const { work, acceptAndReview } = steps;
  /** Why the merge queue stopped for the rest of this run (then every complete subtask stays complete). */
  let mergeStopped: string | null = null;
  let mergingTask: string | undefined;

  // --- the merge queue: smoke through the gateway in main/.
  const smokeCommand = settings.smoke;
  const queue = new MergeQueue({
    baseDir,
    mainDir,
    targetBranch: mainBranch,
    signal: hard.signal,
    dirtyWaitMs: ctx.dirtyWaitMs ?? ctx.config.dirtyWaitSeconds * 1000,
    dirtyPollMs: ctx.dirtyPollMs,
    smoke: smokeCommand
      ? async () => {
          testRuns.push({ taskId: mergingTask ?? '', kind: 'smoke', worktree: 'main', command: smokeCommand });
          // Not stopped by a budget: killing a smoke test half way would revert a good merge.
          const r = await runRepoCommand(
            { worktree: 'main', command: smokeCommand },
            { ...gateway, signal: ctx.signal ?? new AbortController().signal },
          );
          if (r.securityEvent) decide('security', 'smoke', `\`${smokeCommand}\` in main: ${r.securityEvent}`);
          const blocked = r.sandbox?.denials.length
            ? `\n[the sandbox (${r.sandbox.backend}, ${r.sandbox.profile}) blocked: ${r.sandbox.denials.join(' | ')}]`
            : '';
          return { ok: r.ok, log: `${commandLog(r)}${blocked}` };
        }
      : undefined,
    onDecision: (d: MergeDecision) => {
      if (d.action === 'merging') mergingTask = d.taskId;
      if (d.action === 'queued' || d.action === 'merging' || d.action === 'smoke-started') {
        // Not for decisions.jsonl (the outcome lines carry the story), but the live view shows the queue.
        s.emit({
          type: 'plan.decision',
          ts: d.at,
          taskId: d.taskId,
          kind: 'merge',
          action: d.action,
          reason: d.reason,
        });
        return;
      }
      decide('merge', d.action, d.reason, d.taskId, {
        branch: d.branch,
        seq: d.seq,
        sha: d.sha || undefined,
        files: d.files,
      });
    },
  });

  const conflictRework = async (t: TaskRun) => {
    await s.ensureWorktree(t);
    const cr = await prepareConflictRework(baseDir, t.slug, { mainBranch });
    if (cr.status === 'clean') {
      decide('merge', 'rework-clean', `${mainBranch} merged into ${t.branch} without conflicts (${short(cr.sha)}); re-queueing`, t.id);
    } else if (ctx.launcher?.remote) {
      // Conflict markers cannot travel in a bundle: the agent merges main itself and its worker resolves them there.
      await abortConflictRework(baseDir, t.slug);
      decide(
        'merge',
        'rework-conflict',
        `${mainBranch} conflicts with ${t.branch} in ${cr.files.join(', ')}; an agent merges ${mainBranch} into the branch and its worker resolves them`,
        t.id,
        { files: cr.files },
      );
      t.remoteMergeMain = true;
      await work(t, 'conflict', conflictPrompt(cr, t.mt.title));
    } else {
      decide(
        'merge',
        'rework-conflict',
        `${mainBranch} merged into ${t.branch} with conflicts in ${cr.files.join(', ')}; resuming the worker with both sides' intent`,
        t.id,
        { files: cr.files },
      );
      try {
        await work(t, 'conflict', conflictPrompt(cr, t.mt.title));
        const done = await finishConflictRework(baseDir, t.slug);
        decide('merge', 'rework-resolved', `conflicts resolved${done.committed ? ` and committed as ${short(done.sha)}` : ''}`, t.id);
      } catch (error) {
        await abortConflictRework(baseDir, t.slug).catch(() => undefined);
        throw error instanceof Interrupted || error instanceof TaskFailure
          ? error
          : new TaskFailure(`conflict rework failed: ${describeError(error)}`);
      }
    }
    await acceptAndReview(t);
  };

  const smokeRework = async (t: TaskRun, out: Pick<Extract<MergeOutcome, { status: 'smoke-failed' }>, 'revertSha' | 'log'>) => {
    await s.ensureWorktree(t);
    const sr = await prepareSmokeRework(baseDir, t.slug, { revertSha: out.revertSha, mainBranch });
    const files = sr.status === 'conflict' ? sr.files : [];
    // Conflict markers cannot travel in a bundle: on the queue road the agent redoes the restore (the revert of the
    // revert, on the branch with main merged in) and its worker resolves the markers there.
    const onAgent = ctx.launcher?.remote === true && sr.status === 'conflict';
    if (onAgent) {
      await abortConflictRework(baseDir, t.slug);
      t.remoteRevert = { commit: sr.revertSha, message: sr.message };
    }
    decide(
      'merge',
      'rework-smoke',
      onAgent
        ? `restoring ${t.branch} on top of ${mainBranch} conflicts in ${files.join(', ')}; an agent restores it and its worker resolves them, with the smoke log`
        : `branch restored on top of ${mainBranch}${files.length ? ` with conflicts in ${files.join(', ')}` : ''}; sending the smoke log to the worker`,
      t.id,
      { files },
    );
    const local = files.length > 0 && !onAgent;
    try {
      await work(t, 'smoke', smokePrompt(smokeCommand ?? '(smoke)', out.log, files));
      if (local) await finishConflictRework(baseDir, t.slug);
    } catch (error) {
      t.remoteRevert = undefined;
      if (local) await abortConflictRework(baseDir, t.slug).catch(() => undefined);
      throw error instanceof Interrupted || error instanceof TaskFailure
        ? error
        : new TaskFailure(`smoke rework failed: ${describeError(error)}`);
    }
    await acceptAndReview(t);
  };

  const removeMerged = async (t: TaskRun) => {
    if (settings.archive) {
      await s.ensureWorktree(t);
      const r = await runCommand(t.wtName, settings.archive, t.id);
      decide('merge', r.ok ? 'archived' : 'archive-failed', `\`${settings.archive}\` ${commandOutcome(r)}`, t.id);
    }
    try {
      const removed = await removeWorktree(baseDir, t.slug);
      decide(
        'merge',
        'worktree-removed',
        removed.removed ? `${t.wtName} removed; branch ${t.branch} kept` : `${t.wtName} was already gone; branch ${t.branch} kept`,
        t.id,
      );
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
      decide('merge', 'already-merged', `${t.branch} is already in ${mainBranch} (merge ${short(already)}); not merged again`, t.id, {
        branch: t.branch,
        sha: already,
      });
      alreadyInMain.set(t.id, `already in ${mainBranch}: ${t.branch} was merged earlier (${short(already)}); not merged again`);
      await recordMerged(
        t,
        already,
        t.merge.attempts,
        `${t.branch} was already in ${mainBranch} as ${short(already)} (merged earlier); not merged again`,
      );
      return 'merged';
    }
    if (s.gate) await awaitApproval(t, s.gate);
    return 'merge';
  };

  /** The approval gate before a merge: waits for a person; a rejection goes to the worker on its thread, then it asks again. */
  const awaitApproval = async (t: TaskRun, g: ApprovalGate) => {
    for (;;) {
      const head = await resolveCommit(mainDir, t.branch);
      const outcome = await g
        .wait({ taskId: t.id, branch: t.branch, head }, hard.signal, (fresh) => {
          decide(
            'merge',
            'awaiting-approval',
            `${fresh ? 'waiting' : 'still waiting'} for a person: codex-orch runs approve ${ctx.runId} ${t.id} (or runs reject ${ctx.runId} ${t.id} --note "…")`,
            t.id,
            { head },
          );
          s.emit({ type: 'approval.requested', ts: now(), runId: ctx.runId, taskId: t.id, branch: t.branch, head });
        })
        .catch((error: unknown) => {
          checkpoint();
          throw error;
        });
      s.emit({
        type: 'approval.decided',
        ts: now(),
        runId: ctx.runId,
        taskId: t.id,
        decision: outcome.decision,
        note: outcome.decision === 'rejected' ? outcome.note : null,
      });
      if (outcome.decision === 'approved') {
        decide('merge', 'approved', `a person approved ${t.branch} at ${short(head)}`, t.id, { head });
        return;
      }
      decide(
        'merge',
        'rejected',
        `a person rejected ${t.branch} at ${short(head)}: ${tail(outcome.note, 300)}; sending the note to the worker`,
        t.id,
        { head },
      );
      if (mergeOnly)
        throw new LeftComplete(
          `rejected before merge: ${tail(outcome.note, 300)}; a worker must rework it: codex-orch resume ${ctx.runId}`,
        );
      await work(t, 'approval', approvalPrompt(outcome.note));
      await acceptAndReview(t);
      g.reworked(t.id);
    }
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
          await recordMerged(
            t,
            out.sha,
            attempt,
            `${t.branch} merged into ${mainBranch} as ${short(out.sha)}${out.alreadyMerged ? ' (already contained)' : ''}`,
          );
          return;
        case 'main-dirty':
          // A stop (abort, budget) cuts the queue's wait for main/ short: that is not the person's edits failing the subtask.
          checkpoint();
          withStore('merge', (s) =>
            s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'skipped', detail: out.message }),
          );
          return stopMerging(out.message);
        case 'error':
          withStore('merge', (s) =>
            s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'failed', detail: out.message }),
          );
          if (queue.halted) return stopMerging(out.message);
          if (mergeOnly) throw new LeftComplete(`merge failed: ${out.message}`);
          throw new TaskFailure(`merge failed: ${out.message}`);
        case 'conflict':
          t.merge.conflicts++;
          withStore('merge', (s) =>
            s.addMerge({ runId: ctx.runId, subtaskId: t.id, branch: t.branch, outcome: 'conflict', detail: out.files.join(', ') }),
          );
          if (mergeOnly)
            throw new LeftComplete(
              `merge conflict in ${out.files.join(', ')} (merge aborted, main unchanged); a worker must rework it: codex-orch resume ${ctx.runId}`,
            );
          if (attempt >= maxMergeAttempts)
            throw new TaskFailure(`merge conflict in ${out.files.join(', ')} after ${attempt} merge attempt(s)`);
          await conflictRework(t);
          break;
        case 'smoke-failed':
          t.merge.smokeFailures++;
          withStore('merge', (s) =>
            s.addMerge({
              runId: ctx.runId,
              subtaskId: t.id,
              branch: t.branch,
              outcome: 'smoke-failed',
              sha: out.revertSha,
              detail: tail(out.log, 2000),
            }),
          );
          if (mergeOnly)
            throw new LeftComplete(
              `the smoke test failed after the merge, which was reverted (${short(out.revertSha)}); a worker must rework it: codex-orch resume ${ctx.runId}`,
            );
          if (attempt >= maxMergeAttempts)
            throw new TaskFailure(
              `smoke test \`${smokeCommand}\` failed after ${attempt} merge attempt(s) (each merge reverted): ${tail(out.log, 400)}`,
            );
          await smokeRework(t, out);
          break;
      }
    }
  };

  return { queue, smokeCommand, mergeLoop, conflictRework, smokeRework, recordMerged };
}
