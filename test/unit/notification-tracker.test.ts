import type { PriceTable } from '../../src/cost/index.js';
import { describe, expect, it } from 'vitest';
import { NotificationTracker } from '../../src/notify/notification.js';
import type { RunEvent } from '../../src/orchestrator/events.js';

const ts = '2026-12-01T09:00:00.000Z';
const finished = (status: 'stuck' | 'error' | 'complete', summary: string): RunEvent => ({
  type: 'command.finished',
  ts,
  worktree: 'task-a',
  command: 'codex exec …',
  allowed: true,
  rule: null,
  exitCode: status === 'complete' ? 0 : 1,
  durationMs: 5,
  dryRun: false,
  worker: { status, goalMet: null, summary },
});

describe('NotificationTracker', () => {
  it('seed road workers: stuck and crashed are told, an aborted one and a finished one are not', () => {
    const t = new NotificationTracker();
    t.next({ type: 'run.started', ts, runId: 'r', task: 'x', baseDir: '/b', dryRun: false, model: 'm' });
    expect(t.next(finished('stuck', 'no event for 20 s'))?.event).toBe('worker.stuck');
    expect(t.next(finished('error', 'codex exited with code 1'))?.event).toBe('worker.crashed');
    expect(t.next(finished('error', 'aborted'))).toBeNull();
    expect(t.next(finished('complete', 'done'))).toBeNull();
  });

  it('plan road: an aborted worker is not a crash; a review is never a worker event; budgets and the run end are told', () => {
    const t = new NotificationTracker({ stateDir: '/s' });
    t.next({ type: 'plan.started', ts, runId: 'r', task: 'x', tasks: 1, maxParallel: 1 });
    expect(
      t.next({
        type: 'plan.worker',
        ts,
        taskId: 'a',
        workerId: 'a-1',
        purpose: 'initial',
        phase: 'finished',
        status: 'error',
        reason: 'aborted',
      }),
    ).toBeNull();
    expect(
      t.next({
        type: 'plan.worker',
        ts,
        taskId: 'a',
        workerId: 'review-1',
        purpose: 'review',
        phase: 'finished',
        status: 'rework',
        tokens: 30,
      }),
    ).toBeNull();
    expect(t.next({ type: 'plan.decision', ts, kind: 'budget', action: 'exhausted', reason: 'token budget of 10 used up' })).toMatchObject({
      event: 'budget.reached',
      summary: 'budget reached: token budget of 10 used up',
      cost: { tokens: 30 },
    });
    expect(t.next({ type: 'run.finished', ts, runId: 'r', status: 'aborted', wallTimeMs: 1000 })).toMatchObject({
      event: 'run.interrupted',
      reportPath: '/s/runs/r/report.md',
      counts: { subtasks: 1, merged: 0 },
    });
    expect(t.next({ type: 'run.finished', ts, runId: 'r', status: 'succeeded', wallTimeMs: 1000 })?.event).toBe('run.succeeded');
  });

  it('the payload prices the tokens of models the price table knows', () => {
    const prices: PriceTable = { models: { 'test-model': { input: 2, output: 8 } }, sources: ['test'] };
    const t = new NotificationTracker({ prices });
    t.next({
      type: 'run.started',
      ts,
      runId: 'r',
      task: 'x',
      baseDir: '/b',
      dryRun: false,
      model: 'test-model',
      workerModel: 'unknown-model',
    });
    t.next({ type: 'agent.turn', ts, turn: 1, usage: { input: 1_000_000, cachedInput: 0, output: 500_000 } });
    t.next({
      type: 'plan.worker',
      ts,
      taskId: 'a',
      workerId: 'a-1',
      purpose: 'initial',
      phase: 'finished',
      status: 'complete',
      tokens: 10,
      usage: { input: 10, cachedInput: 0, output: 0 },
    });
    const n = t.next({ type: 'run.finished', ts, runId: 'r', status: 'succeeded', wallTimeMs: 1000 });
    // 1M input at $2 + 0.5M output at $8 = $6; the worker's model has no price and adds nothing.
    expect(n?.cost).toEqual({ tokens: 10, usd: 6 });
  });
});
