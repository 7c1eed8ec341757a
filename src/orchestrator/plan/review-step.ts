/**
 * Acceptance and review: the subtask's acceptance command (with bounded
 * "fix it" rounds by its worker), a commit of what the worker left, and the
 * review agent's verdict (rework on the same thread, bounded).
 */
import fs from 'node:fs';
import { describeError } from '../../errors.js';
import { commitAll, diffAgainst } from '../../git/index.js';
import { now } from '../events.js';
import type { ReviewFn } from '../review/types.js';
import { DEFAULTS, Interrupted, TaskFailure, commandLog, commandOutcome, short, type TaskRun, type WorkerPurpose } from './plan-types.js';
import { acceptancePrompt, reviewPrompt, tail } from './rework-prompts.js';
import type { StepContext } from './step-context.js';
import type { WorkerRun } from '../../workers/codex/index.js';

export function createReviewStep(
  s: StepContext,
  worker: { work: (t: TaskRun, purpose: WorkerPurpose, prompt: string) => Promise<WorkerRun> },
) {
  const { ctx, mainBranch, emit, decide, checkpoint, budget, runCommand, reviewTokens, testRuns } = s;
  const { maxReviewRounds, maxAcceptanceFixes } = s.limits;
  const hard = { signal: s.signal };
  const { work } = worker;
  const acceptanceRun = async (t: TaskRun): Promise<{ ok: boolean; exitCode: number | null; log: string } | null> => {
    if (!t.acceptance) return null;
    checkpoint();
    testRuns.push({ taskId: t.id, kind: 'acceptance', worktree: t.wtName, command: t.acceptance });
    if (t.remoteAcceptance) {
      // An agent machine ran it right after its worker, in its worktree with the repository's setup done.
      const acc = t.remoteAcceptance;
      t.remoteAcceptance = undefined;
      decide('acceptance', acc.ok ? 'passed' : 'failed', `\`${t.acceptance}\` exited ${acc.exitCode ?? 'none'} on the agent`, t.id, {
        exitCode: acc.exitCode,
      });
      return acc;
    }
    await s.ensureWorktree(t);
    const r = await runCommand(t.wtName, t.acceptance, t.id);
    checkpoint();
    const out = commandLog(r);
    decide('acceptance', r.ok ? 'passed' : 'failed', `\`${t.acceptance}\` ${commandOutcome(r)}`, t.id, { exitCode: r.exitCode });
    return { ok: r.ok, exitCode: r.exitCode, log: out };
  };

  const commitIfNeeded = async (t: TaskRun) => {
    // No worktree here (the worker ran on an agent, which committed): nothing can be left uncommitted.
    if (!fs.existsSync(t.worktree)) return;
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
          throw new TaskFailure(
            `acceptance \`${t.acceptance}\` still fails after ${maxAcceptanceFixes} fix round(s): ${tail(acc.log, 500)}`,
          );
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
      if (s.stopping()) throw new Interrupted(s.stoppedBy() ?? 'stopping');
      // The branch's committed diff, read from main/ on every road: a branch without a worktree here (its worker
      // ran on an agent) needs no checkout of every file for it, and one with a worktree has everything committed.
      const diff = await diffAgainst(s.mainDir, mainBranch, {
        maxBytes: ctx.maxDiffBytes ?? DEFAULTS.maxDiffBytes,
        head: `refs/heads/${t.branch}`,
      });
      const round = t.reviews.length + 1;
      let verdict: Awaited<ReturnType<ReviewFn>>;
      emit({
        type: 'plan.worker',
        ts: now(),
        taskId: t.id,
        workerId: `review-${round}`,
        purpose: 'review',
        phase: 'started',
        model: s.reviewModelName,
      });
      try {
        verdict = await ctx.review(
          {
            subtask: {
              id: t.mt.id,
              title: t.mt.title,
              kind: t.mt.kind,
              prompt: t.mt.prompt,
              files: t.mt.files,
              dependsOn: t.mt.dependsOn,
              acceptance: t.mt.acceptance,
            },
            diff: {
              files: diff.files.map((f) => ({
                path: f.path,
                status: f.status,
                additions: f.additions ?? undefined,
                deletions: f.deletions ?? undefined,
              })),
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
      emit({
        type: 'plan.worker',
        ts: now(),
        taskId: t.id,
        workerId: `review-${round}`,
        purpose: 'review',
        phase: 'finished',
        status: verdict.verdict,
        tokens: verdict.tokens.input + verdict.tokens.output,
        usage: { input: verdict.tokens.input, cachedInput: 0, output: verdict.tokens.output },
        model: s.reviewModelName,
      });
      decide('review', verdict.verdict, `round ${round}, risk ${verdict.risk}: ${tail(verdict.comments, 400) || '(no comments)'}`, t.id, {
        round,
        risk: verdict.risk,
        files: diff.files.length,
      });
      budget.addUsage(
        verdict.tokens.input + verdict.tokens.output,
        s.priced(s.reviewModelName, { input: verdict.tokens.input, cachedInput: 0, output: verdict.tokens.output }),
      );
      if (verdict.verdict === 'approve') return;
      if (t.reviewReworks >= maxReviewRounds) {
        throw new TaskFailure(`the reviewer still asks for rework after ${maxReviewRounds} round(s): ${tail(verdict.comments, 500)}`);
      }
      t.reviewReworks++;
      await work(t, 'review', reviewPrompt(verdict.comments, verdict.risk, round));
    }
  };

  return { acceptanceRun, acceptAndReview };
}
