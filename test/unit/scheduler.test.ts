import { describe, expect, it } from 'vitest';
import {
  apply,
  createSchedule,
  globMatches,
  globsOverlap,
  isDone,
  manifestFromPlan,
  nextRunnable,
  ScheduleError,
  scheduleEvent as ev,
  simulate,
  summary,
  validatePlan,
  whyNotRunnable,
  type Plan,
  type PlanInput,
  type ScheduleEvent,
  type ScheduleOptions,
  type ScheduleState,
} from '../../src/scheduler/index.js';

type TaskIn = PlanInput['phases'][number]['tasks'][number];

/** `t('b', ['a'], ['src/b/**'])`: a task with disjoint files unless told otherwise. */
const t = (id: string, dependsOn: string[] = [], files: string[] = [`pkg/${id}/**`]): TaskIn => ({
  id,
  title: id,
  prompt: `do ${id}`,
  dependsOn,
  files,
});

function mkPlan(...phases: TaskIn[][]): Plan {
  const r = validatePlan({ version: 1, task: 'test', phases: phases.map((tasks, i) => ({ name: `P${i + 1}`, tasks })) });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.plan;
}

function run(state: ScheduleState, ...events: ScheduleEvent[]): ScheduleState {
  return events.reduce(apply, state);
}

/** Start, complete and merge each id in turn. */
function finish(state: ScheduleState, ...ids: string[]): ScheduleState {
  return ids.reduce((s, id) => run(s, ev.started(id), ev.completed(id), ev.merged(id)), state);
}

const status = (state: ScheduleState): Record<string, string> =>
  Object.fromEntries(Object.entries(state.tasks).map(([id, ts]) => [id, ts.status]));

describe('globsOverlap', () => {
  const cases: [string[], string[], boolean][] = [
    [['**'], ['src/a.ts'], true],
    [['**'], ['**'], true],
    [['src/**'], ['src/a/b.ts'], true],
    [['src/**'], ['src'], true],
    [['src/a/**'], ['src/b/**'], false],
    [['src/a.ts'], ['src/a.ts'], true],
    [['src/a.ts'], ['src/b.ts'], false],
    [['src/parser'], ['src/parser/x.ts'], true], // a literal path covers what is under it
    [['src/parser/'], ['src/parser/x.ts'], true],
    [['src/parser'], ['src/parse'], false],
    [['src/*.ts'], ['src/a.ts'], true],
    [['src/*.ts'], ['src/a.md'], false],
    [['src/*'], ['src/a/b.ts'], false], // `*` does not cross `/`
    [['src/*.ts'], ['src/*.md'], true], // pattern vs pattern: conservative
    [['src/**/*.ts'], ['lib/**'], false],
    [['**/*.ts'], ['docs/readme.md'], true], // `**` anywhere: conservative
    [['src/{a,b}/**'], ['src/c/x'], false],
    [['src/{a,b}/**'], ['src/b/x'], true],
    [['{src,lib/x}/**'], ['test/**'], true], // `/` inside braces: unparsed, treated as `**`
    [['SRC/A.ts'], ['src/a.ts'], true], // case-insensitive file systems
    [['./src/a.ts'], ['src//a.ts'], true],
    [['src/*'], ['src/.env'], true], // dotfiles count
    [['a/**', 'b/x'], ['c/**', 'b/*'], true],
    [['a/**', 'b/x'], ['c/**', 'd/*'], false],
    [[], ['**'], false],
  ];
  it.each(cases)('%j vs %j → %s', (a, b, expected) => {
    expect(globsOverlap(a, b)).toBe(expected);
    expect(globsOverlap(b, a)).toBe(expected);
  });

  it('globMatches: the reference meaning', () => {
    expect(globMatches('src/parser', 'src/parser/a.ts')).toBe(true);
    expect(globMatches('src/*.ts', 'src/a/b.ts')).toBe(false);
    expect(globMatches('**', '.github/workflows/ci.yml')).toBe(true);
  });
});

describe('createSchedule', () => {
  it('starts everything pending and rejects bad options or plans', () => {
    const plan = mkPlan([t('a'), t('b', ['a'])]);
    expect(status(createSchedule(plan))).toEqual({ a: 'pending', b: 'pending' });
    expect(() => createSchedule(plan, { wip: 0 })).toThrow(ScheduleError);
    expect(() => createSchedule(plan, { wip: 1.5 })).toThrow(/wip must be/);
    const cyclic = {
      ...plan,
      phases: [{ name: 'x', tasks: [{ ...plan.phases[0]!.tasks[0]!, dependsOn: ['b'] }, plan.phases[0]!.tasks[1]!] }],
    };
    expect(() => createSchedule(cyclic)).toThrow(/dependsOn cycle: a → b → a/);
  });

  it('resumes from a saved manifest, re-deriving blocked', () => {
    const plan = mkPlan([t('a'), t('b', ['a']), t('c')]);
    const m = manifestFromPlan(plan);
    m.phases[0]!.tasks[0]!.status = 'error';
    m.phases[0]!.tasks[0]!.reason = 'tests fail';
    m.phases[0]!.tasks[0]!.attempts = 2;
    m.phases[0]!.tasks[2]!.status = 'merged';
    const s = createSchedule(m);
    expect(status(s)).toEqual({ a: 'error', b: 'blocked', c: 'merged' });
    expect(s.tasks.a).toEqual({ status: 'error', reason: 'tests fail', attempts: 2 });
    expect(s.tasks.b?.reason).toBe('dependency a is error (tests fail)');
  });
});

describe('nextRunnable', () => {
  const table: { name: string; phases: TaskIn[][]; opts?: ScheduleOptions; done?: string[]; expected: string[] }[] = [
    { name: 'independent tasks, declaration order on equal paths', phases: [[t('a'), t('b'), t('c')]], expected: ['a', 'b', 'c'] },
    { name: 'WIP limit', phases: [[t('a'), t('b'), t('c'), t('d')]], opts: { wip: 2 }, expected: ['a', 'b'] },
    { name: 'dependencies wait', phases: [[t('a'), t('b', ['a'])]], expected: ['a'] },
    { name: 'dependency merged → dependant runs', phases: [[t('a'), t('b', ['a'])]], done: ['a'], expected: ['b'] },
    {
      name: 'longest remaining path first (c heads a chain of 3)',
      phases: [[t('a'), t('b'), t('c'), t('d', ['c']), t('e', ['d'])]],
      opts: { wip: 2 },
      expected: ['c', 'a'],
    },
    {
      name: 'estimated cost changes the critical path',
      phases: [[t('a'), t('b'), t('c'), t('d', ['c'])]],
      opts: { wip: 1, cost: { b: 5 } },
      expected: ['b'],
    },
    {
      name: 'overlapping files never start together',
      phases: [[t('a', [], ['src/**']), t('b', [], ['src/x.ts']), t('c')]],
      expected: ['a', 'c'],
    },
    { name: '"**" (the default) runs alone', phases: [[t('a'), t('b', [], ['**']), t('c')]], expected: ['a', 'c'] },
    { name: 'the next phase waits for the whole earlier phase', phases: [[t('a'), t('b')], [t('c')]], done: ['a'], expected: ['b'] },
    {
      name: 'the next phase opens when the earlier phase is merged',
      phases: [
        [t('a'), t('b')],
        [t('c'), t('d')],
      ],
      done: ['a', 'b'],
      expected: ['c', 'd'],
    },
  ];
  it.each(table)('$name', ({ phases, opts, done = [], expected }) => {
    expect(nextRunnable(finish(createSchedule(mkPlan(...phases), opts), ...done))).toEqual(expected);
  });

  it('an overlapping task waits until the holder is merged (gate merged), not just complete', () => {
    let s = createSchedule(mkPlan([t('a', [], ['src/**']), t('b', [], ['src/a.ts'])]));
    s = run(s, ev.started('a'));
    expect(nextRunnable(s)).toEqual([]);
    expect(whyNotRunnable(s, 'b')).toBe('files overlap a, which is running');
    s = run(s, ev.completed('a'));
    expect(nextRunnable(s)).toEqual([]);
    expect(whyNotRunnable(s, 'b')).toBe('files overlap a, which is complete');
    s = run(s, ev.merged('a'));
    expect(nextRunnable(s)).toEqual(['b']);
  });

  it("gate 'complete': dependants, overlapping tasks and later phases go on before the merge", () => {
    let s = createSchedule(mkPlan([t('a', [], ['src/**']), t('b', ['a']), t('c', [], ['src/x'])], [t('d')]), { gate: 'complete' });
    s = run(s, ev.started('a'), ev.completed('a'));
    expect(nextRunnable(s)).toEqual(['b', 'c']);
    s = run(s, ev.started('b'), ev.started('c'), ev.completed('b'), ev.completed('c'));
    expect(nextRunnable(s)).toEqual(['d']);
    expect(isDone(s)).toBe(false); // complete tasks still wait for the merge queue
  });

  it('running tasks count against WIP; complete ones do not', () => {
    let s = createSchedule(mkPlan([t('a'), t('b'), t('c')]), { wip: 1 });
    s = run(s, ev.started('a'));
    expect(nextRunnable(s)).toEqual([]);
    expect(whyNotRunnable(s, 'b')).toBe('WIP limit 1 reached');
    s = run(s, ev.completed('a'));
    expect(nextRunnable(s)).toEqual(['b']);
  });
});

describe('failures', () => {
  it('a failed task blocks its dependants (transitively), not the others', () => {
    let s = createSchedule(mkPlan([t('a'), t('b', ['a']), t('c', ['b']), t('d')]));
    s = run(s, ev.started('a'), ev.started('d'), ev.failed('a', 'tests fail'));
    expect(status(s)).toEqual({ a: 'error', b: 'blocked', c: 'blocked', d: 'running' });
    expect(s.tasks.b?.reason).toBe('dependency a is error (tests fail)');
    expect(s.tasks.c?.reason).toBe('dependency a is error (tests fail), through b');
    s = finish(s);
    s = run(s, ev.completed('d'), ev.merged('d'));
    expect(isDone(s)).toBe(true);
    expect(summary(s)).toMatchObject({
      done: true,
      allMerged: false,
      counts: { error: 1, blocked: 2, merged: 1 },
      failed: [{ id: 'a', status: 'error', reason: 'tests fail' }],
      blocked: [{ id: 'b' }, { id: 'c' }],
    });
  });

  it('phase gate: a failed task opens the next phase; only its dependants there are blocked', () => {
    let s = createSchedule(mkPlan([t('a'), t('b')], [t('c', ['a']), t('d')]));
    s = finish(s, 'b');
    s = run(s, ev.started('a'), ev.stuck('a', 'no events for 10 min'));
    expect(status(s)).toEqual({ a: 'stuck', b: 'merged', c: 'blocked', d: 'pending' });
    expect(nextRunnable(s)).toEqual(['d']);
  });

  it('requeue unblocks the dependants and closes the later phase again', () => {
    let s = createSchedule(mkPlan([t('a')], [t('b', ['a']), t('c')]));
    s = run(s, ev.started('a'), ev.stuck('a', 'stalled'));
    expect(nextRunnable(s)).toEqual(['c']);
    s = run(s, ev.requeued('a', 'self-heal: resume with error context'));
    expect(status(s)).toEqual({ a: 'pending', b: 'pending', c: 'pending' });
    expect(s.tasks.a?.reason).toBe('self-heal: resume with error context');
    expect(nextRunnable(s)).toEqual(['a']);
    s = finish(s, 'a');
    expect(s.tasks.a?.attempts).toBe(2);
    expect(nextRunnable(s)).toEqual(['b', 'c']);
  });

  it("gate 'complete': blocking flows only through tasks that have not run", () => {
    let s = createSchedule(mkPlan([t('a'), t('b', ['a']), t('c', ['b']), t('d', ['a'])]), { gate: 'complete' });
    s = run(s, ev.started('a'), ev.completed('a'), ev.started('b'), ev.failed('a', 'merge failed'));
    // b already runs on its own worktree; d has not started and is blocked.
    expect(status(s)).toEqual({ a: 'error', b: 'running', c: 'pending', d: 'blocked' });
    s = run(s, ev.completed('b'));
    expect(nextRunnable(s)).toEqual(['c']);
  });

  it('a complete task whose merge keeps failing can be failed or sent back for rework', () => {
    let s = createSchedule(mkPlan([t('a'), t('b', ['a'])]));
    s = run(s, ev.started('a'), ev.completed('a'), ev.requeued('a', 'merge conflict in src/x.ts'));
    expect(status(s)).toEqual({ a: 'pending', b: 'pending' });
    s = run(s, ev.started('a'), ev.completed('a'), ev.failed('a', 'smoke test failed 3 times'));
    expect(status(s)).toEqual({ a: 'error', b: 'blocked' });
  });
});

describe('apply', () => {
  const plan = mkPlan([t('a', [], ['src/**']), t('b', ['a']), t('c', [], ['src/x'])], [t('d')]);
  const illegal: { name: string; events: ScheduleEvent[]; message: RegExp }[] = [
    { name: 'unknown id', events: [ev.started('zz')], message: /unknown task id "zz"/ },
    {
      name: 'start before the dependency is merged',
      events: [ev.started('b')],
      message: /started\(b\): cannot start: dependency a is pending/,
    },
    {
      name: 'start over an overlapping running task',
      events: [ev.started('a'), ev.started('c')],
      message: /files overlap a, which is running/,
    },
    { name: 'start in a closed phase', events: [ev.started('d')], message: /phase 2 is not open/ },
    { name: 'start twice', events: [ev.started('a'), ev.started('a')], message: /not allowed while the task is running/ },
    {
      name: 'complete a task that is not running',
      events: [ev.completed('a')],
      message: /completed\(a\): not allowed while the task is pending/,
    },
    {
      name: 'merge a running task',
      events: [ev.started('a'), ev.merged('a')],
      message: /merged\(a\): not allowed while the task is running/,
    },
    {
      name: 'requeue a merged task',
      events: [ev.started('a'), ev.completed('a'), ev.merged('a'), ev.requeued('a')],
      message: /not allowed while the task is merged/,
    },
    { name: 'stuck when not running', events: [ev.stuck('a', 'x')], message: /not allowed while the task is pending/ },
  ];
  it.each(illegal)('refuses: $name', ({ events, message }) => {
    expect(() => run(createSchedule(plan), ...events)).toThrow(message);
  });

  it('never modifies the state it is given', () => {
    const s0 = createSchedule(plan);
    const s1 = apply(s0, ev.started('a'));
    expect(status(s0)).toEqual({ a: 'pending', b: 'pending', c: 'pending', d: 'pending' });
    expect(s1.tasks.a).toEqual({ status: 'running', reason: null, attempts: 1 });
    expect(Object.isFrozen(s1) && Object.isFrozen(s1.tasks) && Object.isFrozen(s1.tasks.a)).toBe(true);
    expect(s1.graph).toBe(s0.graph);
  });
});

describe('simulate', () => {
  it('diamond with a slow branch: makespan equals the critical path', () => {
    const plan = mkPlan([t('a'), t('b', ['a']), t('c', ['a']), t('d', ['b', 'c'])]);
    const r = simulate(plan, { a: 1, b: 5, c: 2, d: 1 }, { wip: Number.POSITIVE_INFINITY });
    expect(r.makespan).toBe(7);
    expect(r.criticalPath).toEqual({ length: 7, ids: ['a', 'b', 'd'] });
    expect(r.order.map((o) => [o.id, o.start, o.end])).toEqual([
      ['a', 0, 1],
      ['b', 1, 6],
      ['c', 1, 3],
      ['d', 6, 7],
    ]);
  });

  it('phase gates are part of the critical path', () => {
    const plan = mkPlan([t('a'), t('b')], [t('c')]);
    const r = simulate(plan, { a: 1, b: 4, c: 2 }, { wip: Number.POSITIVE_INFINITY });
    expect(r.makespan).toBe(6);
    expect(r.criticalPath).toEqual({ length: 6, ids: ['b', 'c'] });
  });

  it('overlapping files serialise even with unlimited WIP', () => {
    const plan = mkPlan([t('a', [], ['src/**']), t('b', [], ['src/a.ts']), t('c')]);
    const r = simulate(plan, { a: 2, b: 3, c: 1 }, { wip: Number.POSITIVE_INFINITY });
    expect(r.makespan).toBe(5);
    expect(r.criticalPath.length).toBe(3);
  });

  it('failures: dependants are blocked and reported', () => {
    const plan = mkPlan([t('a'), t('b', ['a']), t('c')]);
    const r = simulate(plan, { a: 1, b: 1, c: 1 }, { outcomes: { a: 'error' } });
    expect(r.blocked).toEqual(['b']);
    expect(r.order.map((o) => `${o.id}:${o.status}`)).toEqual(['a:error', 'c:merged']);
  });

  it('WIP 1 runs the longest chain first', () => {
    const plan = mkPlan([t('x'), t('a'), t('b', ['a'])]);
    expect(simulate(plan, { x: 1, a: 1, b: 1 }, { wip: 1 }).order.map((o) => o.id)).toEqual(['a', 'x', 'b']);
  });
});
