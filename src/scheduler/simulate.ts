import type { Plan } from './plan-schema.js';
import {
  apply,
  createSchedule,
  isDone,
  nextRunnable,
  ScheduleError,
  scheduleEvent,
  type ScheduleOptions,
  type ScheduleState,
} from './scheduler.js';

/**
 * An event-driven run of the scheduler on a virtual clock with zero overhead:
 * a task starts the instant `nextRunnable` offers it, runs for its duration,
 * and (unless told to fail) completes and is merged at the same instant.
 * Pure; used by the property tests and as the model the benchmark compares
 * real processes against.
 */

export interface SimulateOptions extends ScheduleOptions {
  /** Tasks that end in error or stuck instead of completing (after their duration). */
  outcomes?: Readonly<Record<string, 'error' | 'stuck'>>;
}

export interface SimulatedTask {
  id: string;
  start: number;
  end: number;
  status: 'merged' | 'error' | 'stuck';
}

export interface SimulationResult {
  /** Time at which the last task ended (0 for nothing run). */
  makespan: number;
  /** The longest chain through dependencies and phase gates, by duration: the lower bound on makespan. */
  criticalPath: { length: number; ids: string[] };
  /** Every task that ran, in start order (ties in the order they were started). */
  order: SimulatedTask[];
  /** Tasks never run because a dependency failed. */
  blocked: string[];
  final: ScheduleState;
}

/**
 * `durations` in any unit; a missing id lasts 1. Unless `opts.cost` is given,
 * the tie-break uses the durations as cost estimates (perfect estimates).
 */
export function simulate(plan: Plan, durations: Readonly<Record<string, number>>, opts: SimulateOptions = {}): SimulationResult {
  const duration = (id: string): number => {
    const d = durations[id] ?? 1;
    if (!(d >= 0) || !Number.isFinite(d)) throw new ScheduleError(`simulate: duration of ${id} must be a finite number ≥ 0, got ${d}`);
    return d;
  };
  const { outcomes = {}, ...scheduleOptions } = opts;
  let state = createSchedule(plan, { cost: durations, ...scheduleOptions });
  const running = new Map<string, SimulatedTask>();
  const order: SimulatedTask[] = [];
  let now = 0;

  for (;;) {
    for (const id of nextRunnable(state)) {
      state = apply(state, scheduleEvent.started(id));
      const run: SimulatedTask = { id, start: now, end: now + duration(id), status: 'merged' };
      running.set(id, run);
      order.push(run);
    }
    if (running.size === 0) break;
    now = Math.min(...[...running.values()].map((r) => r.end));
    // Finish everything due now, in declaration order, before asking for more.
    for (const id of state.graph.ids) {
      const run = running.get(id);
      if (!run || run.end !== now) continue;
      running.delete(id);
      const outcome = outcomes[id];
      if (outcome === 'error') {
        state = apply(state, scheduleEvent.failed(id, 'simulated failure'));
        run.status = 'error';
      } else if (outcome === 'stuck') {
        state = apply(state, scheduleEvent.stuck(id, 'simulated stall'));
        run.status = 'stuck';
      } else {
        state = apply(state, scheduleEvent.completed(id));
        state = apply(state, scheduleEvent.merged(id));
      }
    }
  }
  if (!isDone(state)) {
    throw new ScheduleError('simulate: the scheduler stalled with tasks left and nothing running', { tasks: state.tasks });
  }
  const blocked = state.graph.ids.filter((id) => state.tasks[id]?.status === 'blocked');
  return {
    makespan: order.reduce((m, r) => Math.max(m, r.end), 0),
    criticalPath: criticalPath(plan, duration),
    order,
    blocked,
    final: state,
  };
}

/**
 * Longest path where a task follows its dependencies and every task of the
 * earlier phases (the phase gate), weighted by duration.
 */
export function criticalPath(plan: Plan, duration: (id: string) => number): { length: number; ids: string[] } {
  const finish = new Map<string, number>();
  const pred = new Map<string, string | undefined>();
  let barrier = 0;
  let barrierTask: string | undefined;
  for (const phase of plan.phases) {
    // Tasks of a phase depend only on their own or earlier phases: order the phase topologically.
    const local = topoWithinPhase(phase.tasks);
    let phaseMax = barrier;
    let phaseMaxTask = barrierTask;
    for (const t of local) {
      let start = barrier;
      let from = barrierTask;
      for (const d of t.dependsOn) {
        const f = finish.get(d) as number;
        if (f > start) {
          start = f;
          from = d;
        }
      }
      const end = start + duration(t.id);
      finish.set(t.id, end);
      pred.set(t.id, from);
      // Ties keep the first-declared task; a phase always contributes one task to the path.
      if (end > phaseMax || (end === phaseMax && phaseMaxTask === barrierTask)) {
        phaseMax = end;
        phaseMaxTask = t.id;
      }
    }
    barrier = phaseMax;
    barrierTask = phaseMaxTask;
  }
  const ids: string[] = [];
  for (let id = barrierTask; id !== undefined; id = pred.get(id)) ids.unshift(id);
  return { length: barrier, ids };
}

function topoWithinPhase<T extends { id: string; dependsOn: string[] }>(tasks: T[]): T[] {
  const inPhase = new Map(tasks.map((t) => [t.id, t]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (t: T): void => {
    if (done.has(t.id)) return;
    done.add(t.id);
    for (const d of t.dependsOn) {
      const dep = inPhase.get(d);
      if (dep) visit(dep);
    }
    out.push(t);
  };
  for (const t of tasks) visit(t);
  return out;
}
