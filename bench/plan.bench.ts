/**
 * `yarn bench plan`: the scheduler driving real processes.
 *
 * A fixed 12-subtask DAG (disjoint files) of fake workers: each is `sleep <s>`
 * with a known duration of 0.2–0.8 s. Measured, in the same run:
 * - ours/∞: the scheduler with unlimited WIP; makespan / critical path
 *   (target ≤ 1.05: the only loss is process start-up and event latency);
 * - ours/3: the scheduler with WIP 3;
 * - xargs waves/P: the same sleeps through `xargs -P <wip>`. xargs knows no
 *   dependencies, so the baseline runs the DAG in topological waves (wave k =
 *   the tasks whose longest dependency chain has k links), one `xargs -P` per
 *   wave in one shell — what a shell script would do. Target: ours ≤ 1.05× it;
 * - xargs flat/P (for context): all twelve sleeps in one `xargs -P <wip>`,
 *   ignoring dependencies — not a valid schedule, an optimistic packing bound.
 * Each configuration runs `REPS` times; the median is reported.
 */
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  apply,
  criticalPath,
  createSchedule,
  isDone,
  nextRunnable,
  scheduleEvent,
  simulate,
  validatePlan,
  type Plan,
} from '../src/scheduler/index.js';
import { writeResult } from './write-result.js';

const REPS = 3;

/** id → [seconds, dependsOn] */
const DAG: Record<string, [number, string[]]> = {
  a: [0.4, []],
  b: [0.6, []],
  c: [0.3, []],
  d: [0.5, ['a']],
  e: [0.3, ['a', 'b']],
  f: [0.8, ['c']],
  g: [0.2, ['d']],
  h: [0.4, ['e', 'f']],
  i: [0.7, ['b']],
  j: [0.3, ['g', 'h']],
  k: [0.2, ['i']],
  l: [0.5, ['j', 'k']],
};

function benchPlan(): Plan {
  const r = validatePlan({
    version: 1,
    task: 'bench: 12 fake workers',
    phases: [
      {
        name: 'all',
        tasks: Object.entries(DAG).map(([id, [, dependsOn]]) => ({
          id,
          title: id,
          prompt: `sleep for ${id}`,
          files: [`pkg/${id}/**`],
          dependsOn,
        })),
      },
    ],
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.plan;
}

const durations: Record<string, number> = Object.fromEntries(Object.entries(DAG).map(([id, [s]]) => [id, s]));

/** Runs the plan with real `sleep` processes, driven by the scheduler; returns the makespan in ms. */
async function runScheduled(plan: Plan, wip: number): Promise<number> {
  let state = createSchedule(plan, { wip, cost: durations });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (isDone(state)) {
        resolve();
        return;
      }
      for (const id of nextRunnable(state)) {
        state = apply(state, scheduleEvent.started(id));
        const child = spawn('sleep', [String(durations[id])], { stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', (code) => {
          if (code !== 0) {
            reject(new Error(`sleep for ${id} exited ${code}`));
            return;
          }
          state = apply(state, scheduleEvent.completed(id));
          state = apply(state, scheduleEvent.merged(id));
          pump();
        });
      }
    };
    pump();
  });
  return performance.now() - t0;
}

/** Topological waves: wave k holds the tasks whose longest dependency chain has k links. */
function waves(): string[][] {
  const depth = new Map<string, number>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(DAG[id]?.[1] ?? []).map(visit)) + 1;
    depth.set(id, d);
    return d;
  };
  Object.keys(DAG).forEach(visit);
  const out: string[][] = [];
  for (const [id, d] of depth) (out[d] ??= []).push(id);
  return out;
}

function runShell(script: string): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', script], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`baseline failed: ${script}`);
  return performance.now() - t0;
}

const xargs = (ids: string[], p: number): string => `printf '%s\\n' ${ids.map((id) => durations[id]).join(' ')} | xargs -P ${p} -n 1 sleep`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Wall time of the pure core on a large synthetic plan (layers of 20, each task depending on 3 of the layer before). */
function coreCost(): { tasks: number; simulateMs: number; msPerTask: number } {
  const layers = 15;
  const width = 20;
  const tasks = [];
  for (let l = 0; l < layers; l += 1) {
    for (let w = 0; w < width; w += 1) {
      const dependsOn = l === 0 ? [] : [0, 7, 13].map((k) => `n${l - 1}-${(w + k) % width}`);
      tasks.push({ id: `n${l}-${w}`, title: 'x', prompt: 'x', files: [`pkg/${l}/${w}/**`], dependsOn });
    }
  }
  const t0 = performance.now();
  const r = validatePlan({ version: 1, task: 'big', phases: [{ name: 'all', tasks }] });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  simulate(r.plan, {}, { wip: 8 });
  const simulateMs = performance.now() - t0;
  return { tasks: tasks.length, simulateMs: round(simulateMs), msPerTask: round(simulateMs / tasks.length, 3) };
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export async function run(): Promise<void> {
  const plan = benchPlan();
  const cp = criticalPath(plan, (id) => durations[id] ?? 0);
  const cpMs = cp.length * 1000;
  const wv = waves();
  const n = Object.keys(DAG).length;
  const configs = [
    { label: 'unlimited', wip: Number.POSITIVE_INFINITY, p: n },
    { label: 'wip3', wip: 3, p: 3 },
  ];

  const results: Record<string, unknown> = {};
  for (const { label, wip, p } of configs) {
    const ours: number[] = [];
    const wavesMs: number[] = [];
    const flatMs: number[] = [];
    for (let rep = 0; rep < REPS; rep += 1) {
      ours.push(await runScheduled(plan, wip));
      wavesMs.push(runShell(wv.map((ids) => xargs(ids, p)).join(' && ')));
      flatMs.push(runShell(xargs(Object.keys(DAG), p)));
    }
    const predicted = simulate(plan, durations, { wip }).makespan * 1000;
    const m = median(ours);
    const w = median(wavesMs);
    results[label] = {
      wip: Number.isFinite(wip) ? wip : 'unlimited',
      xargsP: p,
      oursMs: round(m),
      oursRunsMs: ours.map((x) => round(x)),
      simulatedMs: round(predicted),
      oursOverSimulated: round(m / predicted, 3),
      oursOverCriticalPath: round(m / cpMs, 3),
      xargsWavesMs: round(w),
      oursOverXargsWaves: round(m / w, 3),
      xargsFlatNoDepsMs: round(median(flatMs)),
    };
    console.log(
      `${label.padEnd(9)} ours ${m.toFixed(0)} ms (sim ${predicted.toFixed(0)}, /cp ${(m / cpMs).toFixed(3)}) · xargs -P ${p} waves ${w.toFixed(0)} ms → ours/xargs ${(m / w).toFixed(3)} · flat (no deps) ${median(flatMs).toFixed(0)} ms`,
    );
  }
  const core = coreCost();
  console.log(`critical path ${cp.ids.join(' → ')} = ${cpMs.toFixed(0)} ms; waves ${wv.map((x) => x.join('')).join(' | ')}`);
  console.log(`pure core: validate + simulate ${core.tasks} tasks in ${core.simulateMs} ms`);

  const unlimited = results.unlimited as { oursOverCriticalPath: number; oursOverXargsWaves: number };
  const wip3 = results.wip3 as { oursOverXargsWaves: number };
  const file = writeResult('plan', {
    dag: { tasks: n, durationsS: durations, criticalPath: cp.ids, criticalPathMs: round(cpMs), waves: wv },
    reps: REPS,
    baseline:
      'xargs -P <wip> -n 1 sleep, one invocation per topological wave, all waves in one sh -c; flat = one xargs over all twelve, ignoring dependencies (context only)',
    ...results,
    coreCost: core,
    targets: {
      makespanOverCriticalPath: { target: 1.05, measured: unlimited.oursOverCriticalPath, met: unlimited.oursOverCriticalPath <= 1.05 },
      oursOverXargsUnlimited: { target: 1.05, measured: unlimited.oursOverXargsWaves, met: unlimited.oursOverXargsWaves <= 1.05 },
      oursOverXargsWip3: { target: 1.05, measured: wip3.oursOverXargsWaves, met: wip3.oursOverXargsWaves <= 1.05 },
    },
  });
  console.log(`wrote ${file}`);
}
