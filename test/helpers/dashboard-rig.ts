import fs from 'node:fs';
import path from 'node:path';
import { executePlan, type PlanRunResult } from '../../src/orchestrator/plan/execute-plan.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { acquireRunLock, openStore, type Store } from '../../src/store/index.js';
import type { Manifest } from '../../src/scheduler/index.js';
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

export function startPlanRun(
  rig: PlanRig,
  plan: Manifest,
  options: { maxParallel?: number; extra?: Partial<Parameters<typeof executePlan>[1]> } = {},
): DashboardRun {
  const store = openStore({ stateDir: rig.base.stateDir });
  const runId = rig.ctx.runId;
  store.createRun({ id: runId, task: plan.task, baseDir: rig.base.baseDir, status: 'running', pid: process.pid });
  const lock = acquireRunLock(store, runId);
  const emit = (e: RunEvent) => {
    store.appendEvent(runId, {
      type: e.type,
      ts: e.ts,
      data: e,
      ...('workerId' in e && typeof e.workerId === 'string' ? { workerId: e.workerId } : {}),
    });
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

/** `codex-orch serve` as its own process; resolves once it printed its first line. */
export interface ServeChild {
  url: string;
  port: number;
  pid: number;
  firstLine: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

export async function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeChild> {
  const { spawnTs } = await import('./cli-child.js');
  const run = spawnTs(['serve', ...args], env);
  let out = '';
  let err = '';
  run.child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const i = out.indexOf('\n');
      if (i >= 0) {
        run.child.stdout!.off('data', onData);
        resolve(out.slice(0, i));
      }
    };
    run.child.stdout!.on('data', onData);
    run.child.once('exit', (code) => reject(new Error(`codex-orch serve exited with ${code} before printing its URL: ${err}`)));
    setTimeout(() => reject(new Error(`codex-orch serve printed nothing in 60 s: ${err}`)), 60_000).unref();
  });
  const m = /^codex-orch dashboard: (http:\/\/[^/]+:(\d+)\/\S*)$/.exec(firstLine);
  if (!m) throw new Error(`unexpected first line of codex-orch serve: ${firstLine}`);
  return {
    url: m[1]!,
    port: Number(m[2]),
    pid: run.child.pid!,
    firstLine,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      run.child.kill(signal);
      await run.done;
    },
    output: () => `${out}${err}`,
  };
}
