import fs from 'node:fs';
import path from 'node:path';
import { executePlan, type PlanRunResult } from '../../src/orchestrator/plan/execute-plan.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { acquireRunLock, openStore, type Store } from '../../src/store/index.js';
import type { PlanInput } from '../../src/scheduler/index.js';
import { makePlanRig, type PlanRig } from './plan-env.js';

/**
 * A plan run for the dashboard tests: the plan executor with the plan fake
 * codex, its run in the SQLite store of the rig's state dir (created, locked
 * and finished like a CLI run does), every RunEvent appended to the store's
 * events table. Subtasks that carry a `barrier` directive wait until the test
 * calls `release(name)`.
 */
export interface DashboardRun {
  rig: PlanRig;
  store: Store;
  runId: string;
  done: Promise<PlanRunResult>;
  release(barrier: string): void;
}

export function startPlanRun(rig: PlanRig, plan: PlanInput, options: { maxParallel?: number; extra?: Partial<Parameters<typeof executePlan>[1]> } = {}): DashboardRun {
  const store = openStore({ stateDir: rig.base.stateDir });
  const runId = rig.ctx.runId;
  store.createRun({ id: runId, task: plan.task, baseDir: rig.base.baseDir, status: 'running', pid: process.pid });
  const lock = acquireRunLock(store, runId);
  const emit = (e: RunEvent) => {
    store.appendEvent(runId, { type: e.type, ts: e.ts, data: e, ...('workerId' in e && typeof e.workerId === 'string' ? { workerId: e.workerId } : {}) });
  };
  const done = executePlan(plan, { ...rig.ctx, store, maxParallel: options.maxParallel ?? 2, onEvent: emit, ...options.extra }).then(
    (result) => {
      store.updateRun(runId, { status: result.allMerged ? 'succeeded' : 'failed' });
      lock.release();
      return result;
    },
    (error: unknown) => {
      store.updateRun(runId, { status: 'failed', error: String(error) });
      lock.release();
      throw error;
    },
  );
  const release = (name: string) => {
    const dir = path.join(rig.fakeState, `barrier-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'released-by-test'), '');
  };
  return { rig, store, runId, done, release };
}

export { makePlanRig };
