import { OrchestratorError } from '../errors.js';
import { globsOverlap } from './overlap.js';
import { planFromManifest, type Manifest, type Plan, type TaskStatus } from './plan-schema.js';
import { validatePlan } from './validate-plan.js';

/**
 * The scheduling core: a pure state machine over a validated plan. No clock,
 * no I/O; the orchestrator feeds it events and asks what to start next.
 *
 * Lifecycle of a task:
 *   pending → running (started) → complete (completed) → merged (merged)
 *   running → stuck (stuck) · running|complete|stuck|pending|blocked → error (failed)
 *   running|stuck|error|complete → pending (requeued: retry, rework, conflict)
 *   pending ⇄ blocked is derived after every event: a task is blocked while a
 *   dependency (directly or through others) is error or stuck.
 *
 * A task may start when all of these hold:
 * 1. it is pending;
 * 2. every dependency is merged (gate 'merged', the default) or complete or
 *    merged (gate 'complete');
 * 3. its phase is open: every task of every earlier phase is settled —
 *    merged (or complete under gate 'complete'), error, stuck or blocked. A
 *    failed task therefore holds back only its dependants (they become
 *    blocked), never the next phase as a whole;
 * 4. its `files` do not overlap (see overlap.ts) those of a task that holds
 *    its files: running tasks, and under gate 'merged' also complete tasks
 *    still waiting for the merge queue — so the second of two overlapping
 *    tasks starts from a `main` that already has the first one's changes;
 * 5. fewer than `wip` tasks are running (complete tasks use no worker).
 *
 * `nextRunnable` returns the tasks to start now, as a set that satisfies all
 * of the above together, in a deterministic order: longest remaining path
 * first (the sum of estimated costs, default 1 per task, along the longest
 * chain of dependants starting at the task), then declaration order.
 */

export type Gate = 'merged' | 'complete';

export interface ScheduleOptions {
  /** Most tasks running at once; `Infinity` for no limit. Default 3. */
  wip?: number;
  /** What a dependency (and an earlier phase) must reach before dependants start. Default 'merged'. */
  gate?: Gate;
  /** Estimated cost per task id for the critical-path tie-break; default 1. */
  cost?: Readonly<Record<string, number>>;
}

export interface TaskState {
  readonly status: TaskStatus;
  /** Why the task is blocked, stuck or error (or was requeued); null otherwise. */
  readonly reason: string | null;
  /** How many times the task was started. */
  readonly attempts: number;
}

/** The compiled plan, shared by every state derived from one `createSchedule`. */
export interface ScheduleGraph {
  /** Task ids in declaration order. */
  readonly ids: readonly string[];
  readonly phaseOf: ReadonlyMap<string, number>;
  readonly phaseCount: number;
  readonly deps: ReadonlyMap<string, readonly string[]>;
  readonly dependants: ReadonlyMap<string, readonly string[]>;
  /** For each task, the tasks whose files overlap its own. */
  readonly conflicts: ReadonlyMap<string, ReadonlySet<string>>;
  /** Longest remaining path (by estimated cost) from each task, itself included. */
  readonly priority: ReadonlyMap<string, number>;
  /** Ids by priority (descending), then declaration order. */
  readonly rank: readonly string[];
  /** A topological order (dependencies first). */
  readonly topo: readonly string[];
}

export interface ScheduleState {
  readonly graph: ScheduleGraph;
  readonly wip: number;
  readonly gate: Gate;
  readonly tasks: Readonly<Record<string, TaskState>>;
}

export type ScheduleEvent =
  | { readonly type: 'started'; readonly id: string }
  | { readonly type: 'completed'; readonly id: string }
  | { readonly type: 'merged'; readonly id: string }
  | { readonly type: 'failed'; readonly id: string; readonly reason: string }
  | { readonly type: 'stuck'; readonly id: string; readonly reason: string }
  | { readonly type: 'requeued'; readonly id: string; readonly reason?: string };

/** Event constructors: `apply(state, scheduleEvent.started('t1'))`. */
export const scheduleEvent = {
  started: (id: string): ScheduleEvent => ({ type: 'started', id }),
  completed: (id: string): ScheduleEvent => ({ type: 'completed', id }),
  merged: (id: string): ScheduleEvent => ({ type: 'merged', id }),
  failed: (id: string, reason: string): ScheduleEvent => ({ type: 'failed', id, reason }),
  stuck: (id: string, reason: string): ScheduleEvent => ({ type: 'stuck', id, reason }),
  requeued: (id: string, reason?: string): ScheduleEvent =>
    reason === undefined ? { type: 'requeued', id } : { type: 'requeued', id, reason },
} as const;

/** A plan the scheduler cannot take, or an event that breaks its rules (a bug in the caller). */
export class ScheduleError extends OrchestratorError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('run', message, { context });
  }
}

// ---------------------------------------------------------------------------

/**
 * Compiles the plan and returns the initial state. A saved manifest may be
 * passed to resume: its statuses, reasons and attempts are taken as they are
 * (a `running` task stays running until the caller requeues or finishes it).
 */
export function createSchedule(plan: Plan | Manifest, options: ScheduleOptions = {}): ScheduleState {
  const wip = options.wip ?? 3;
  if (!(wip === Number.POSITIVE_INFINITY || (Number.isInteger(wip) && wip >= 1))) {
    throw new ScheduleError(`wip must be a whole number ≥ 1 or Infinity, got ${wip}`);
  }
  const gate = options.gate ?? 'merged';
  const checked = validatePlan(planFromManifest(plan as Manifest));
  if (!checked.ok) throw new ScheduleError(`invalid plan: ${checked.errors.join('; ')}`, { errors: checked.errors });

  const graph = compile(checked.plan, options.cost ?? {});
  const tasks: Record<string, TaskState> = {};
  plan.phases.forEach((phase) => {
    for (const t of phase.tasks) {
      const saved = t as Partial<Manifest['phases'][number]['tasks'][number]>;
      tasks[t.id] = { status: saved.status ?? 'pending', reason: saved.reason ?? null, attempts: saved.attempts ?? 0 };
    }
  });
  return freezeState({ graph, wip, gate, tasks: refreshBlocked(graph, tasks) });
}

function compile(plan: Plan, cost: Readonly<Record<string, number>>): ScheduleGraph {
  const ids: string[] = [];
  const phaseOf = new Map<string, number>();
  const deps = new Map<string, string[]>();
  const dependants = new Map<string, string[]>();
  const files = new Map<string, string[]>();
  plan.phases.forEach((phase, p) => {
    for (const t of phase.tasks) {
      ids.push(t.id);
      phaseOf.set(t.id, p);
      deps.set(t.id, [...t.dependsOn]);
      dependants.set(t.id, []);
      files.set(t.id, t.files);
    }
  });
  for (const id of ids) for (const d of deps.get(id) ?? []) dependants.get(d)?.push(id);

  const conflicts = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
  for (let i = 0; i < ids.length; i += 1) {
    for (let j = i + 1; j < ids.length; j += 1) {
      const a = ids[i] as string;
      const b = ids[j] as string;
      if (globsOverlap(files.get(a) ?? [], files.get(b) ?? [])) {
        conflicts.get(a)?.add(b);
        conflicts.get(b)?.add(a);
      }
    }
  }

  // Kahn's algorithm, taking ready tasks in declaration order.
  const topo: string[] = [];
  const indegree = new Map(ids.map((id) => [id, deps.get(id)?.length ?? 0]));
  const ready = ids.filter((id) => indegree.get(id) === 0);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    topo.push(id);
    for (const d of dependants.get(id) ?? []) {
      const left = (indegree.get(d) as number) - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }

  const priority = new Map<string, number>();
  for (let k = topo.length - 1; k >= 0; k -= 1) {
    const id = topo[k] as string;
    const own = cost[id] ?? 1;
    let tail = 0;
    for (const d of dependants.get(id) ?? []) tail = Math.max(tail, priority.get(d) as number);
    priority.set(id, own + tail);
  }
  const order = new Map(ids.map((id, i) => [id, i]));
  const rank = [...ids].sort(
    (a, b) => (priority.get(b) as number) - (priority.get(a) as number) || (order.get(a) as number) - (order.get(b) as number),
  );

  return { ids, phaseOf, phaseCount: plan.phases.length, deps, dependants, conflicts, priority, rank, topo };
}

// ---------------------------------------------------------------------------
// Queries

function depSatisfied(state: ScheduleState, status: TaskStatus): boolean {
  return status === 'merged' || (state.gate === 'complete' && status === 'complete');
}

function settled(state: ScheduleState, status: TaskStatus): boolean {
  return depSatisfied(state, status) || status === 'error' || status === 'stuck' || status === 'blocked';
}

function holdsFiles(state: ScheduleState, status: TaskStatus): boolean {
  return status === 'running' || (state.gate === 'merged' && status === 'complete');
}

/** The highest open phase: every phase up to it is open, later ones are closed. */
export function openPhase(state: ScheduleState): number {
  const { graph } = state;
  let lowestUnsettled = graph.phaseCount - 1;
  for (const id of graph.ids) {
    const p = graph.phaseOf.get(id) as number;
    if (p < lowestUnsettled && !settled(state, statusOf(state, id))) lowestUnsettled = p;
  }
  return lowestUnsettled;
}

export function statusOf(state: ScheduleState, id: string): TaskStatus {
  const t = state.tasks[id];
  if (!t) throw new ScheduleError(`unknown task id ${JSON.stringify(id)}`, { id });
  return t.status;
}

function runningCount(state: ScheduleState): number {
  let n = 0;
  for (const id of state.graph.ids) if (statusOf(state, id) === 'running') n += 1;
  return n;
}

/** Why `id` cannot start now, or undefined when it can. */
export function whyNotRunnable(state: ScheduleState, id: string): string | undefined {
  const { graph } = state;
  const status = statusOf(state, id);
  if (status !== 'pending') return `${id} is ${status}`;
  for (const d of graph.deps.get(id) ?? []) {
    const ds = statusOf(state, d);
    if (!depSatisfied(state, ds)) return `dependency ${d} is ${ds}`;
  }
  const phase = graph.phaseOf.get(id) as number;
  if (phase > openPhase(state)) return `phase ${phase + 1} is not open: an earlier phase has unfinished tasks`;
  for (const other of graph.conflicts.get(id) ?? []) {
    const os = statusOf(state, other);
    if (holdsFiles(state, os)) return `files overlap ${other}, which is ${os}`;
  }
  if (runningCount(state) >= state.wip) return `WIP limit ${state.wip} reached`;
  return undefined;
}

/**
 * The tasks to start now, best first; starting all of them together keeps
 * every rule (overlap among themselves and the WIP limit included).
 */
export function nextRunnable(state: ScheduleState): string[] {
  const { graph } = state;
  let slots = state.wip - runningCount(state);
  if (slots <= 0) return [];
  const open = openPhase(state);
  const held = new Set<string>();
  for (const id of graph.ids) if (holdsFiles(state, statusOf(state, id))) held.add(id);

  const picked: string[] = [];
  for (const id of graph.rank) {
    if (slots <= 0) break;
    if (statusOf(state, id) !== 'pending') continue;
    if ((graph.phaseOf.get(id) as number) > open) continue;
    if (!(graph.deps.get(id) ?? []).every((d) => depSatisfied(state, statusOf(state, d)))) continue;
    const conflicts = graph.conflicts.get(id) as ReadonlySet<string>;
    let clash = false;
    for (const h of held) {
      if (conflicts.has(h)) {
        clash = true;
        break;
      }
    }
    if (clash) continue;
    picked.push(id);
    held.add(id);
    slots -= 1;
  }
  return picked;
}

/** Nothing left to do: no task is pending, running, or complete and waiting to be merged. */
export function isDone(state: ScheduleState): boolean {
  return state.graph.ids.every((id) => {
    const s = statusOf(state, id);
    return s !== 'pending' && s !== 'running' && s !== 'complete';
  });
}

export interface ScheduleSummary {
  total: number;
  counts: Record<TaskStatus, number>;
  running: string[];
  /** Complete and waiting for the merge queue. */
  awaitingMerge: string[];
  runnable: string[];
  blocked: { id: string; reason: string }[];
  failed: { id: string; status: 'error' | 'stuck'; reason: string }[];
  done: boolean;
  /** Every task merged: the only outcome `codex-orch run --plan` exits 0 on. */
  allMerged: boolean;
}

export function summary(state: ScheduleState): ScheduleSummary {
  const counts: Record<TaskStatus, number> = {
    pending: 0,
    blocked: 0,
    running: 0,
    stuck: 0,
    error: 0,
    complete: 0,
    awaiting_approval: 0,
    merged: 0,
  };
  const running: string[] = [];
  const awaitingMerge: string[] = [];
  const blocked: ScheduleSummary['blocked'] = [];
  const failed: ScheduleSummary['failed'] = [];
  for (const id of state.graph.ids) {
    const t = state.tasks[id] as TaskState;
    counts[t.status] += 1;
    if (t.status === 'running') running.push(id);
    else if (t.status === 'complete') awaitingMerge.push(id);
    else if (t.status === 'blocked') blocked.push({ id, reason: t.reason ?? '' });
    else if (t.status === 'error' || t.status === 'stuck') failed.push({ id, status: t.status, reason: t.reason ?? '' });
  }
  const total = state.graph.ids.length;
  return {
    total,
    counts,
    running,
    awaitingMerge,
    runnable: nextRunnable(state),
    blocked,
    failed,
    done: isDone(state),
    allMerged: counts.merged === total,
  };
}

// ---------------------------------------------------------------------------
// Transitions

const FROM: Record<ScheduleEvent['type'], readonly TaskStatus[]> = {
  started: ['pending'],
  completed: ['running'],
  merged: ['complete'],
  failed: ['pending', 'blocked', 'running', 'stuck', 'complete'],
  stuck: ['running'],
  requeued: ['running', 'stuck', 'error', 'complete'],
};

/** The state after `event`. The input state is not modified. Throws `ScheduleError` on an illegal event. */
export function apply(state: ScheduleState, event: ScheduleEvent): ScheduleState {
  const current = state.tasks[event.id];
  if (!current) throw new ScheduleError(`${event.type}: unknown task id ${JSON.stringify(event.id)}`, { event });
  if (!FROM[event.type].includes(current.status)) {
    throw new ScheduleError(`${event.type}(${event.id}): not allowed while the task is ${current.status}`, {
      event,
      status: current.status,
    });
  }
  if (event.type === 'started') {
    const why = whyNotRunnable(state, event.id);
    if (why !== undefined) throw new ScheduleError(`started(${event.id}): cannot start: ${why}`, { event });
  }
  let next: TaskState;
  switch (event.type) {
    case 'started':
      next = { status: 'running', reason: null, attempts: current.attempts + 1 };
      break;
    case 'completed':
      next = { ...current, status: 'complete', reason: null };
      break;
    case 'merged':
      next = { ...current, status: 'merged', reason: null };
      break;
    case 'failed':
      next = { ...current, status: 'error', reason: event.reason };
      break;
    case 'stuck':
      next = { ...current, status: 'stuck', reason: event.reason };
      break;
    case 'requeued':
      next = { ...current, status: 'pending', reason: event.reason ?? null };
      break;
  }
  const tasks = { ...state.tasks, [event.id]: next };
  return freezeState({ ...state, tasks: refreshBlocked(state.graph, tasks) });
}

/** Re-derives pending ⇄ blocked in topological order. */
function refreshBlocked(graph: ScheduleGraph, tasks: Record<string, TaskState>): Record<string, TaskState> {
  const rootOf = new Map<string, string>();
  for (const id of graph.topo) {
    const t = tasks[id] as TaskState;
    if (t.status === 'error' || t.status === 'stuck') {
      rootOf.set(id, id);
      continue;
    }
    if (t.status !== 'pending' && t.status !== 'blocked') continue;
    let blocker: { dep: string; root: string } | undefined;
    for (const d of graph.deps.get(id) ?? []) {
      const root = rootOf.get(d);
      if (root !== undefined) {
        blocker = { dep: d, root };
        break;
      }
    }
    if (blocker) {
      rootOf.set(id, blocker.root);
      const root = tasks[blocker.root] as TaskState;
      const reason = `dependency ${blocker.root} is ${root.status}${root.reason ? ` (${root.reason})` : ''}${blocker.dep === blocker.root ? '' : `, through ${blocker.dep}`}`;
      if (t.status !== 'blocked' || t.reason !== reason) tasks[id] = { ...t, status: 'blocked', reason };
    } else if (t.status === 'blocked') {
      tasks[id] = { ...t, status: 'pending', reason: null };
    }
  }
  return tasks;
}

function freezeState(state: ScheduleState): ScheduleState {
  for (const t of Object.values(state.tasks)) if (!Object.isFrozen(t)) Object.freeze(t);
  Object.freeze(state.tasks);
  return Object.freeze(state);
}
