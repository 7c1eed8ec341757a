import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apply,
  createSchedule,
  globMatches,
  globPairOverlaps,
  globsOverlap,
  isDone,
  nextRunnable,
  scheduleEvent as ev,
  simulate,
  validatePlan,
  type Gate,
  type Plan,
  type ScheduleState,
  type TaskStatus,
} from '../../src/scheduler/index.js';

// ---------------------------------------------------------------------------
// Generators

const SEGMENTS = ['src', 'lib', 'a', 'b', 'a.ts', '.env', '*', '**', '*.ts', 'x?', '{a,b}', '[ab]'];
const PATH_SEGMENTS = ['src', 'lib', 'a', 'b', 'a.ts', 'b.ts', '.env', 'x1', 'A'];

const globArb = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const pathArb = fc.array(fc.constantFrom(...PATH_SEGMENTS), { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));

interface GenTask {
  id: string;
  phase: number;
  dependsOn: string[];
  files: string[];
  duration: number;
}

/**
 * A random valid plan: tasks in declaration order with non-decreasing phases,
 * each depending on a random subset of the tasks declared before it (so the
 * graph is acyclic and never points at a later phase).
 */
function planArb(opts: { maxTasks?: number; disjointFiles?: boolean } = {}): fc.Arbitrary<{ plan: Plan; tasks: GenTask[] }> {
  const maxTasks = opts.maxTasks ?? 12;
  return fc
    .array(
      fc.record({
        phaseStep: fc.nat({ max: 5 }).map((n) => (n === 0 ? 1 : 0)), // a new phase now and then
        depPicks: fc.array(fc.nat({ max: 1000 }), { maxLength: 3 }),
        files: fc.array(globArb, { minLength: 1, maxLength: 2 }),
        duration: fc.integer({ min: 1, max: 6 }),
      }),
      { minLength: 1, maxLength: maxTasks },
    )
    .map((raw) => {
      let phase = 0;
      const tasks: GenTask[] = raw.map((r, i) => {
        if (i > 0) phase += r.phaseStep;
        const deps = i === 0 ? [] : [...new Set(r.depPicks.map((p) => `t${p % i}`))];
        return { id: `t${i}`, phase, dependsOn: deps, files: opts.disjointFiles ? [`pkg/t${i}/**`] : r.files, duration: r.duration };
      });
      const phases = Array.from({ length: phase + 1 }, (_, p) => ({
        name: `P${p}`,
        tasks: tasks
          .filter((t) => t.phase === p)
          .map((t) => ({ id: t.id, title: t.id, prompt: `do ${t.id}`, files: t.files, dependsOn: t.dependsOn })),
      })).filter((p) => p.tasks.length > 0);
      const r = validatePlan({ version: 1, task: 'random', phases });
      if (!r.ok) throw new Error(`generator made an invalid plan: ${r.errors.join('; ')}`);
      // Phase numbers may have gaps after empty phases were dropped: renumber.
      const phaseOf = new Map<string, number>();
      r.plan.phases.forEach((p, i) => p.tasks.forEach((t) => phaseOf.set(t.id, i)));
      return { plan: r.plan, tasks: tasks.map((t) => ({ ...t, phase: phaseOf.get(t.id) as number })) };
    });
}

const wipArb = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(Number.POSITIVE_INFINITY));
const gateArb = fc.constantFrom<Gate>('merged', 'complete');

// ---------------------------------------------------------------------------
// Independent oracles (written from the rules, not from the scheduler's code)

/**
 * Blocked, from the rules: some dependency failed (error or stuck), or is itself
 * waiting behind a failure. Blocking flows only through tasks that have not run:
 * a dependency that already completed or merged (possible under gate 'complete'
 * when its own dependency fails after the fact) does not pass it on.
 */
function ancestorsFailed(tasks: GenTask[], state: ScheduleState, id: string): boolean {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const memo = new Map<string, boolean>();
  const failedVia = (x: string): boolean => {
    const known = memo.get(x);
    if (known !== undefined) return known;
    const result = (byId.get(x)?.dependsOn ?? []).some((d) => {
      const s = state.tasks[d]?.status;
      return s === 'error' || s === 'stuck' || ((s === 'pending' || s === 'blocked') && failedVia(d));
    });
    memo.set(x, result);
    return result;
  };
  return failedVia(id);
}

function checkInvariants(tasks: GenTask[], state: ScheduleState): void {
  const st = (id: string): TaskStatus => state.tasks[id]?.status as TaskStatus;
  const running = tasks.filter((t) => st(t.id) === 'running');
  expect(running.length).toBeLessThanOrEqual(state.wip);
  const holders = tasks.filter((t) => st(t.id) === 'running' || (state.gate === 'merged' && st(t.id) === 'complete'));
  for (let i = 0; i < holders.length; i += 1) {
    for (let j = i + 1; j < holders.length; j += 1) {
      expect(
        globsOverlap(holders[i]!.files, holders[j]!.files),
        `${holders[i]!.id} and ${holders[j]!.id} overlap and both hold files`,
      ).toBe(false);
    }
  }
  for (const t of tasks) {
    const s = st(t.id);
    if (s === 'pending' || s === 'blocked') expect(s === 'blocked', `${t.id} is ${s}`).toBe(ancestorsFailed(tasks, state, t.id));
  }
}

/** What the rules say about a task offered by nextRunnable, checked before it is started. */
function checkStartable(tasks: GenTask[], state: ScheduleState, id: string): void {
  const st = (x: string): TaskStatus => state.tasks[x]?.status as TaskStatus;
  const ok = (s: TaskStatus): boolean => s === 'merged' || (state.gate === 'complete' && s === 'complete');
  const me = tasks.find((t) => t.id === id) as GenTask;
  expect(st(id)).toBe('pending');
  for (const d of me.dependsOn) expect(ok(st(d)), `${id} offered while its dependency ${d} is ${st(d)}`).toBe(true);
  for (const t of tasks) {
    if (t.phase < me.phase) {
      expect(
        ok(st(t.id)) || ['error', 'stuck', 'blocked'].includes(st(t.id)),
        `${id} offered while ${t.id} of an earlier phase is ${st(t.id)}`,
      ).toBe(true);
    }
  }
}

// ---------------------------------------------------------------------------

describe('overlap is conservative', () => {
  it('globs that both match some path are reported as overlapping', () => {
    fc.assert(
      fc.property(globArb, globArb, pathArb, (a, b, p) => {
        if (globMatches(a, p) && globMatches(b, p)) expect(globPairOverlaps(a, b), `${a} and ${b} both match ${p}`).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('is symmetric, and "**" overlaps everything', () => {
    fc.assert(
      fc.property(globArb, globArb, (a, b) => {
        expect(globPairOverlaps(a, b)).toBe(globPairOverlaps(b, a));
        expect(globPairOverlaps('**', a)).toBe(true);
      }),
    );
  });
});

describe('scheduler under random event sequences', () => {
  it('keeps every rule in every state, and always finishes', () => {
    fc.assert(
      fc.property(
        planArb(),
        wipArb,
        gateArb,
        fc.array(fc.nat({ max: 999 }), { minLength: 10, maxLength: 120 }),
        ({ plan, tasks }, wip, gate, choices) => {
          let state = createSchedule(plan, { wip, gate });
          checkInvariants(tasks, state);
          const step = (c: number): void => {
            const runnable = nextRunnable(state);
            for (const id of runnable) checkStartable(tasks, state, id);
            const byStatus = (s: TaskStatus): string[] => tasks.map((t) => t.id).filter((id) => state.tasks[id]?.status === s);
            const running = byStatus('running');
            const complete = byStatus('complete');
            const failed = [...byStatus('error'), ...byStatus('stuck')].filter((id) => (state.tasks[id]?.attempts ?? 0) < 3);
            const pick = <T>(xs: T[]): T => xs[c % xs.length] as T;
            switch (c % 5) {
              case 0: // start a prefix of the offered set: any prefix is startable together
                for (const id of runnable.slice(0, 1 + (c % Math.max(1, runnable.length)))) state = apply(state, ev.started(id));
                return;
              case 1:
                if (running.length > 0) {
                  const id = pick(running);
                  const kind = Math.floor(c / 5) % 6;
                  state = apply(
                    state,
                    kind < 3
                      ? ev.completed(id)
                      : kind === 3
                        ? ev.failed(id, 'boom')
                        : kind === 4
                          ? ev.stuck(id, 'stalled')
                          : ev.requeued(id, 'restart'),
                  );
                }
                return;
              case 2:
                if (complete.length > 0) {
                  const id = pick(complete);
                  const kind = Math.floor(c / 5) % 8;
                  state = apply(
                    state,
                    kind < 6 ? ev.merged(id) : kind === 6 ? ev.requeued(id, 'merge conflict') : ev.failed(id, 'smoke failed'),
                  );
                }
                return;
              case 3:
                if (failed.length > 0 && Math.floor(c / 5) % 3 === 0) state = apply(state, ev.requeued(pick(failed), 'self-heal'));
                return;
              default:
                for (const id of runnable) state = apply(state, ev.started(id));
            }
          };
          for (const c of choices) {
            step(c);
            checkInvariants(tasks, state);
          }
          // Drain: start what is offered, finish what runs, merge what is complete.
          for (let guard = 0; !isDone(state); guard += 1) {
            expect(guard).toBeLessThan(10 * tasks.length + 10);
            const runnable = nextRunnable(state);
            for (const id of runnable) checkStartable(tasks, state, id);
            for (const id of runnable) state = apply(state, ev.started(id));
            for (const t of tasks) {
              const s = state.tasks[t.id]?.status;
              if (s === 'running') state = apply(state, ev.completed(t.id));
              if (state.tasks[t.id]?.status === 'complete') state = apply(state, ev.merged(t.id));
            }
            checkInvariants(tasks, state);
          }
          for (const t of tasks) {
            const s = state.tasks[t.id]?.status as TaskStatus;
            expect(['merged', 'error', 'stuck', 'blocked']).toContain(s);
            if (s === 'blocked') expect(ancestorsFailed(tasks, state, t.id)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('simulation', () => {
  it('respects dependencies, phase gates, file overlap and WIP; everything finishes or is blocked by a failure', () => {
    fc.assert(
      fc.property(
        planArb(),
        wipArb,
        gateArb,
        fc.array(fc.constantFrom<'ok' | 'error' | 'stuck'>('ok', 'ok', 'ok', 'ok', 'error', 'stuck'), { minLength: 12, maxLength: 12 }),
        ({ plan, tasks }, wip, gate, fates) => {
          const durations = Object.fromEntries(tasks.map((t) => [t.id, t.duration]));
          const outcomes: Record<string, 'error' | 'stuck'> = {};
          tasks.forEach((t, i) => {
            const f = fates[i];
            if (f === 'error' || f === 'stuck') outcomes[t.id] = f;
          });
          const r = simulate(plan, durations, { wip, gate, outcomes });
          const run = new Map(r.order.map((o) => [o.id, o]));
          const byId = new Map(tasks.map((t) => [t.id, t]));

          for (const o of r.order) {
            const me = byId.get(o.id) as GenTask;
            expect(o.end - o.start).toBe(me.duration);
            for (const d of me.dependsOn) {
              const dep = run.get(d);
              expect(dep?.status, `${o.id} ran although its dependency ${d} did not merge`).toBe('merged');
              expect(o.start).toBeGreaterThanOrEqual(dep!.end);
            }
            for (const other of r.order) {
              const them = byId.get(other.id) as GenTask;
              if (them.phase < me.phase) expect(o.start).toBeGreaterThanOrEqual(other.end);
              if (other.id !== o.id && globsOverlap(me.files, them.files)) {
                expect(o.start < other.end && other.start < o.end, `${o.id} and ${other.id} overlap in files and in time`).toBe(false);
              }
            }
            const concurrent = r.order.filter((x) => x.start <= o.start && o.start < x.end).length;
            expect(concurrent).toBeLessThanOrEqual(wip);
          }
          for (const t of tasks) {
            const o = run.get(t.id);
            if (o) expect(o.status).toBe(outcomes[t.id] ?? 'merged');
            else {
              expect(r.blocked).toContain(t.id);
              expect(ancestorsFailed(tasks, r.final, t.id)).toBe(true);
            }
          }
          expect(r.blocked.length + r.order.length).toBe(tasks.length);
          if (Object.keys(outcomes).length === 0) expect(r.makespan).toBeGreaterThanOrEqual(r.criticalPath.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with unlimited WIP, disjoint files and zero overhead the makespan equals the critical path', () => {
    fc.assert(
      fc.property(planArb({ maxTasks: 20, disjointFiles: true }), gateArb, ({ plan, tasks }, gate) => {
        const durations = Object.fromEntries(tasks.map((t) => [t.id, t.duration]));
        const r = simulate(plan, durations, { wip: Number.POSITIVE_INFINITY, gate });
        expect(r.makespan).toBe(r.criticalPath.length);
        // The reported path is a real chain: each step is a dependency or a phase gate, and durations sum up.
        const byId = new Map(tasks.map((t) => [t.id, t]));
        expect(r.criticalPath.ids.reduce((s, id) => s + (byId.get(id)?.duration ?? 0), 0)).toBe(r.criticalPath.length);
        for (let i = 1; i < r.criticalPath.ids.length; i += 1) {
          const prev = byId.get(r.criticalPath.ids[i - 1] as string) as GenTask;
          const cur = byId.get(r.criticalPath.ids[i] as string) as GenTask;
          expect(cur.dependsOn.includes(prev.id) || prev.phase < cur.phase).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(planArb(), wipArb, ({ plan, tasks }, wip) => {
        const durations = Object.fromEntries(tasks.map((t) => [t.id, t.duration]));
        expect(simulate(plan, durations, { wip }).order).toEqual(simulate(plan, durations, { wip }).order);
      }),
      { numRuns: 50 },
    );
  });
});
