import { describe, expect, it } from 'vitest';
import {
  dispatch,
  listTaskSource,
  type DispatchEvent,
  type DispatchOutcome,
  type DispatchTask,
  type RunTask,
  type SourcedTask,
  type TaskSource,
} from '../../src/dispatcher/index.js';

/** Lets other promises and timers run: a task "works" for a few event-loop turns. */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
};

interface Interval {
  id: string;
  baseDir: string;
  start: number;
  end: number;
}

/**
 * A fake orchestrator run that records start/end on a logical clock (a counter
 * shared by all tasks), so ordering and overlap are asserted without wall time.
 */
function recordingRunner(
  behave: (task: DispatchTask & { baseDir: string }, signal: AbortSignal) => Promise<Partial<DispatchOutcome> | void> = () => turns(5),
) {
  let clock = 0;
  const intervals: Interval[] = [];
  const runTask: RunTask = async (task, signal) => {
    const interval: Interval = { id: task.id, baseDir: task.baseDir, start: (clock += 1), end: Number.POSITIVE_INFINITY };
    intervals.push(interval);
    try {
      const partial = (await behave(task, signal)) ?? {};
      return { status: 'succeeded', merges: 2, tokens: 100, durationMs: 7, runId: `run-${task.id}`, ...partial };
    } finally {
      interval.end = clock += 1;
    }
  };
  return { runTask, intervals };
}

const overlap = (a: Interval, b: Interval): boolean => a.start < b.end && b.start < a.end;
/** The most intervals running at any one instant (checked at each start). */
const maxRunning = (intervals: Interval[]): number =>
  Math.max(0, ...intervals.map((x) => intervals.filter((y) => y.start <= x.start && x.start < y.end).length));
const byId = (intervals: Interval[], id: string): Interval => {
  const found = intervals.find((i) => i.id === id);
  if (!found) throw new Error(`task ${id} did not run`);
  return found;
};

describe('dispatch: per-base-dir exclusion with concurrency', () => {
  it('three tasks over two base dirs, concurrency 2: repos run in parallel, one repo never overlaps itself', async () => {
    const source = listTaskSource('test', [
      { id: 'a1', task: 'first change in repo A', baseDir: '/work/a' },
      { id: 'a2', task: 'second change in repo A', baseDir: '/work/a/' },
      { id: 'b1', task: 'change in repo B', baseDir: '/work/b' },
    ]);
    const { runTask, intervals } = recordingRunner();
    const summary = await dispatch(source, runTask, { concurrency: 2 });

    const a1 = byId(intervals, 'a1');
    const a2 = byId(intervals, 'a2');
    const b1 = byId(intervals, 'b1');
    // Both repositories progress in parallel.
    expect(overlap(a1, b1)).toBe(true);
    // The two tasks of repo A never overlap, and run in the order given.
    expect(overlap(a1, a2)).toBe(false);
    expect(a1.end).toBeLessThan(a2.start);
    // At most two at once.
    expect(maxRunning(intervals)).toBe(2);

    expect(summary.status).toBe('succeeded');
    expect(summary.aborted).toBe(false);
    expect(summary).toMatchObject({ total: 3, succeeded: 3, failed: 0, skipped: 0, merges: 6, tokens: 300 });
    expect(summary.rows).toEqual([
      {
        id: 'a1',
        task: 'first change in repo A',
        baseDir: '/work/a',
        source: 'test',
        status: 'succeeded',
        merges: 2,
        tokens: 100,
        durationMs: 7,
        error: null,
        runId: 'run-a1',
        duplicate: false,
      },
      {
        id: 'a2',
        task: 'second change in repo A',
        baseDir: '/work/a',
        source: 'test',
        status: 'succeeded',
        merges: 2,
        tokens: 100,
        durationMs: 7,
        error: null,
        runId: 'run-a2',
        duplicate: false,
      },
      {
        id: 'b1',
        task: 'change in repo B',
        baseDir: '/work/b',
        source: 'test',
        status: 'succeeded',
        merges: 2,
        tokens: 100,
        durationMs: 7,
        error: null,
        runId: 'run-b1',
        duplicate: false,
      },
    ]);
    expect(['a1', 'a2', 'b1'].map((id) => source.results().get(id)?.state)).toEqual(['acked', 'acked', 'acked']);
  });

  it('a slow task of one repo does not hold up the other repo, and order per repo is kept', async () => {
    const tasks: DispatchTask[] = [
      { id: 'a1', task: 'a1', baseDir: '/r/a' },
      { id: 'a2', task: 'a2', baseDir: '/r/a' },
      { id: 'a3', task: 'a3', baseDir: '/r/a/../a' },
      { id: 'b1', task: 'b1', baseDir: '/r/b' },
      { id: 'b2', task: 'b2', baseDir: '/r/b' },
      { id: 'c1', task: 'c1', baseDir: '/r/c' },
    ];
    const { runTask, intervals } = recordingRunner((task) => turns(task.id === 'a1' ? 30 : 3));
    const summary = await dispatch(listTaskSource('t', tasks), runTask, { concurrency: 3 });
    expect(summary.succeeded).toBe(6);
    expect(maxRunning(intervals)).toBeLessThanOrEqual(3);
    for (const repo of ['/r/a', '/r/b']) {
      const mine = intervals.filter((i) => i.baseDir === repo);
      for (let i = 1; i < mine.length; i += 1) expect((mine[i - 1] as Interval).end).toBeLessThan((mine[i] as Interval).start);
    }
    expect(intervals.filter((i) => i.baseDir === '/r/a').map((i) => i.id)).toEqual(['a1', 'a2', 'a3']);
    // b and c both finished while a1 was still running.
    const a1 = byId(intervals, 'a1');
    expect(byId(intervals, 'b2').end).toBeLessThan(a1.end);
    expect(byId(intervals, 'c1').end).toBeLessThan(a1.end);
  });

  it('concurrency 1 runs one task at a time, in source order', async () => {
    const { runTask, intervals } = recordingRunner();
    await dispatch(
      listTaskSource('t', [
        { id: 'x', task: 'x', baseDir: '/x' },
        { id: 'y', task: 'y', baseDir: '/y' },
        { id: 'z', task: 'z', baseDir: '/z' },
      ]),
      runTask,
    );
    expect(intervals.map((i) => i.id)).toEqual(['x', 'y', 'z']);
    expect(maxRunning(intervals)).toBe(1);
    expect(overlap(byId(intervals, 'x'), byId(intervals, 'y'))).toBe(false);
    expect(overlap(byId(intervals, 'y'), byId(intervals, 'z'))).toBe(false);
  });

  it('uses the default base dir for tasks without one, and treats it as the same repo', async () => {
    const { runTask, intervals } = recordingRunner();
    const summary = await dispatch(
      listTaskSource('t', [
        { id: 'p', task: 'p' },
        { id: 'q', task: 'q', baseDir: '/default/repo' },
      ]),
      runTask,
      { concurrency: 2, defaultBaseDir: '/default/repo/' },
    );
    expect(summary.rows.map((r) => r.baseDir)).toEqual(['/default/repo', '/default/repo']);
    expect(overlap(byId(intervals, 'p'), byId(intervals, 'q'))).toBe(false);
  });

  it('compares base dirs with baseDirKey when given (e.g. symlinks resolved)', async () => {
    const { runTask, intervals } = recordingRunner();
    await dispatch(
      listTaskSource('t', [
        { id: 'link', task: 'l', baseDir: '/link/to/repo' },
        { id: 'real', task: 'r', baseDir: '/real/repo' },
      ]),
      runTask,
      { concurrency: 2, baseDirKey: (dir) => dir.replace('/link/to/repo', '/real/repo') },
    );
    expect(overlap(byId(intervals, 'link'), byId(intervals, 'real'))).toBe(false);
  });
});

describe('dispatch: failures', () => {
  it('a failing task makes the summary failed; the others still run and are acked', async () => {
    const source = listTaskSource('t', [
      { id: 'ok', task: 'ok', baseDir: '/a' },
      { id: 'bad', task: 'bad', baseDir: '/b' },
      { id: 'after', task: 'after', baseDir: '/b' },
    ]);
    const { runTask } = recordingRunner(async (task) => {
      await turns(2);
      if (task.id === 'bad') return { status: 'failed', merges: 0, tokens: 40, error: 'tests failed after merge' };
    });
    const summary = await dispatch(source, runTask, { concurrency: 2 });
    expect(summary.status).toBe('failed');
    expect(summary).toMatchObject({ total: 3, succeeded: 2, failed: 1, tokens: 240 });
    expect(summary.rows[1]).toMatchObject({ id: 'bad', status: 'failed', error: 'tests failed after merge', tokens: 40 });
    // A run that ended in failure is still an outcome: acked with it.
    expect(source.results().get('bad')).toMatchObject({ state: 'acked', outcome: { status: 'failed' } });
  });

  it('a runner that throws fails the task on its source with the error', async () => {
    const source = listTaskSource('t', [{ id: 'boom', task: 'boom', baseDir: '/a' }]);
    const summary = await dispatch(source, async () => {
      throw new Error('codex binary not found');
    });
    expect(summary.status).toBe('failed');
    expect(summary.rows[0]).toMatchObject({ status: 'failed', error: 'codex binary not found', merges: 0, tokens: 0 });
    expect(source.results().get('boom')).toEqual({ id: 'boom', state: 'failed', reason: 'codex binary not found' });
  });

  it('a task with no base dir and no default is failed with a clear reason, without running', async () => {
    const source = listTaskSource('t', [
      { id: 'nowhere', task: 'n' },
      { id: 'relative', task: 'r', baseDir: 'some/rel' },
      { id: 'fine', task: 'f', baseDir: '/a' },
    ]);
    const { runTask, intervals } = recordingRunner();
    const summary = await dispatch(source, runTask);
    expect(intervals.map((i) => i.id)).toEqual(['fine']);
    expect(summary.status).toBe('failed');
    expect(summary.rows[0]).toMatchObject({ id: 'nowhere', baseDir: null, status: 'failed' });
    expect(summary.rows[0]?.error).toMatch(/no base dir: the task has none and no default was given/);
    expect(summary.rows[1]?.error).toBe('base dir "some/rel" is not an absolute path');
    expect(source.results().get('nowhere')?.state).toBe('failed');
  });

  it('a duplicate id within one dispatch is failed, not run twice', async () => {
    const source = listTaskSource('t', [
      { id: 'same', task: 'one', baseDir: '/a' },
      { id: 'same', task: 'two', baseDir: '/b' },
    ]);
    const { runTask, intervals } = recordingRunner();
    const summary = await dispatch(source, runTask, { concurrency: 2 });
    expect(intervals).toHaveLength(1);
    expect(summary.rows[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/duplicate task id "same"/) });
  });

  it('a source whose ack throws is reported, not fatal', async () => {
    const flaky: TaskSource = {
      name: 'flaky',
      async *tasks() {
        yield {
          id: 'x',
          task: 'x',
          baseDir: '/a',
          ack: async () => {
            throw new Error('disk full');
          },
          fail: async () => undefined,
        } satisfies SourcedTask;
      },
    };
    const events: DispatchEvent[] = [];
    const summary = await dispatch(flaky, recordingRunner().runTask, { onEvent: (e) => events.push(e) });
    expect(summary.status).toBe('succeeded');
    expect(summary.sourceErrors).toEqual(['flaky: ack of task x failed: disk full']);
    expect(events).toContainEqual({ type: 'source-error', id: 'x', operation: 'ack', error: 'disk full' });
  });

  it('a source iterator that throws rejects the dispatch after the running task finished', async () => {
    const { runTask, intervals } = recordingRunner();
    const acked: string[] = [];
    const broken: TaskSource = {
      name: 'broken',
      async *tasks() {
        yield { id: 'x', task: 'x', baseDir: '/a', ack: async () => void acked.push('x'), fail: async () => undefined };
        throw new Error('inbox unreadable');
      },
    };
    await expect(dispatch(broken, runTask)).rejects.toThrow('inbox unreadable');
    expect(intervals[0]?.end).not.toBe(Number.POSITIVE_INFINITY);
    expect(acked).toEqual(['x']);
  });

  it('rejects bad options', async () => {
    const source = listTaskSource('t', [{ id: 'x', task: 'x' }]);
    await expect(dispatch(source, recordingRunner().runTask, { concurrency: 0 })).rejects.toThrow(/concurrency must be a whole number/);
    await expect(dispatch(source, recordingRunner().runTask, { defaultBaseDir: 'rel' })).rejects.toThrow(/absolute path/);
  });
});

describe('dispatch: abort', () => {
  it('stops taking new tasks; the running one gets the signal and finishes; the rest are released', async () => {
    const controller = new AbortController();
    const source = listTaskSource('t', [
      { id: 't1', task: 't1', baseDir: '/a' },
      { id: 't2', task: 't2', baseDir: '/a' },
      { id: 't3', task: 't3', baseDir: '/b' },
    ]);
    let sawAbort = false;
    const { runTask, intervals } = recordingRunner(async (task, signal) => {
      if (task.id === 't1') {
        controller.abort();
        await turns(3);
        sawAbort = signal.aborted;
        return { status: 'failed', error: 'aborted' };
      }
    });
    const events: DispatchEvent[] = [];
    const summary = await dispatch(source, runTask, { signal: controller.signal, onEvent: (e) => events.push(e) });

    expect(intervals.map((i) => i.id)).toEqual(['t1']);
    expect(sawAbort).toBe(true);
    expect(summary.aborted).toBe(true);
    // A run that fails after the abort counts as interrupted, not failed, and goes back to its source.
    expect(summary.status).toBe('aborted');
    expect(summary).toMatchObject({ failed: 0, interrupted: 1 });
    expect(summary.rows.find((r) => r.id === 't1')).toMatchObject({ status: 'interrupted', error: 'aborted' });
    expect(source.results().get('t1')).toEqual({ id: 't1', state: 'released' });
    const notStarted = summary.rows.filter((r) => r.id !== 't1');
    // Whatever had been taken from the source but not started is skipped and released.
    for (const row of notStarted) {
      expect(row).toMatchObject({ status: 'skipped', error: 'not started: the dispatch was aborted' });
      expect(source.results().get(row.id)).toEqual({ id: row.id, state: 'released' });
    }
    expect(events.some((e) => e.type === 'aborting')).toBe(true);
  });

  it('an abort with nothing failed gives status aborted', async () => {
    const controller = new AbortController();
    const { runTask, intervals } = recordingRunner(async (task) => {
      if (task.id === 'first') controller.abort();
    });
    const summary = await dispatch(
      listTaskSource('t', [
        { id: 'first', task: 'f', baseDir: '/a' },
        { id: 'second', task: 's', baseDir: '/a' },
      ]),
      runTask,
      { signal: controller.signal },
    );
    expect(intervals).toHaveLength(1);
    expect(summary.status).toBe('aborted');
    expect(summary.succeeded).toBe(1);
  });

  it('an already-aborted signal runs nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const { runTask, intervals } = recordingRunner();
    const summary = await dispatch(listTaskSource('t', [{ id: 'x', task: 'x', baseDir: '/a' }]), runTask, { signal: controller.signal });
    expect(intervals).toHaveLength(0);
    expect(summary).toMatchObject({ status: 'aborted', total: 0 });
  });

  it('ends a long-running source that is waiting for tasks', async () => {
    const controller = new AbortController();
    const waiting: TaskSource = {
      name: 'waiting',
      async *tasks() {
        yield { id: 'only', task: 'only', baseDir: '/a', ack: async () => undefined, fail: async () => undefined };
        // Parks forever, as an HTTP intake with no new submissions would (and ignores the signal).
        await new Promise<void>(() => undefined);
      },
    };
    const { runTask } = recordingRunner(async () => {
      await turns(2);
      controller.abort();
    });
    const summary = await dispatch(waiting, runTask, { signal: controller.signal });
    expect(summary).toMatchObject({ status: 'aborted', succeeded: 1 });
  });
});

describe('dispatch: events and back-pressure', () => {
  it('reports received, started and finished for each task', async () => {
    const events: DispatchEvent[] = [];
    await dispatch(listTaskSource('t', [{ id: 'x', task: 'do x', baseDir: '/a' }]), recordingRunner().runTask, {
      onEvent: (e) => events.push(e),
    });
    expect(events.map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-finished']);
    expect(events[1]).toEqual({ type: 'task-started', id: 'x', task: 'do x', baseDir: '/a', running: 1 });
  });

  it('a throwing listener does not break the dispatch', async () => {
    const summary = await dispatch(listTaskSource('t', [{ id: 'x', task: 'x', baseDir: '/a' }]), recordingRunner().runTask, {
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    expect(summary.status).toBe('succeeded');
  });

  it('takes at most maxPending tasks ahead from the source', async () => {
    let handedOut = 0;
    let maxAhead = 0;
    let started = 0;
    const many: TaskSource = {
      name: 'many',
      async *tasks() {
        for (let i = 0; i < 20; i += 1) {
          handedOut += 1;
          maxAhead = Math.max(maxAhead, handedOut - started);
          yield { id: `t${i}`, task: `t${i}`, baseDir: '/same', ack: async () => undefined, fail: async () => undefined };
        }
      },
    };
    const summary = await dispatch(
      many,
      async () => {
        started += 1;
        await turns(1);
        return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 };
      },
      { maxPending: 3 },
    );
    expect(summary.succeeded).toBe(20);
    // Three waiting, plus the one being handed over.
    expect(maxAhead).toBeLessThanOrEqual(4);
  });
});

describe('dispatch: a busy base dir is waited for, not a failure', () => {
  const busy = (baseDir: string): DispatchOutcome => ({
    status: 'failed',
    merges: 0,
    tokens: 0,
    durationMs: 0,
    error: `base dir ${baseDir} is in use by run r-other (pid 1)`,
    failure: 'busy',
  });

  it('a task that finds its base dir busy is offered again after a backoff; later tasks of that base dir keep their order; others go on', async () => {
    const answers = new Map<string, number>([['a1', 2]]);
    const order: string[] = [];
    const runTask: RunTask = async (task) => {
      order.push(task.id);
      const left = answers.get(task.id) ?? 0;
      if (left > 0) {
        answers.set(task.id, left - 1);
        return busy(task.baseDir);
      }
      await turns(2);
      return { status: 'succeeded', merges: 1, tokens: 1, durationMs: 1, runId: `run-${task.id}` };
    };
    const events: DispatchEvent[] = [];
    const source = listTaskSource('test', [
      { id: 'a1', task: 'a1', baseDir: '/w/a' },
      { id: 'a2', task: 'a2', baseDir: '/w/a' },
      { id: 'b1', task: 'b1', baseDir: '/w/b' },
    ]);
    const summary = await dispatch(source, runTask, {
      concurrency: 2,
      busyRetry: { initialMs: 5, maxMs: 20 },
      onEvent: (e) => events.push(e),
    });
    expect(summary.status).toBe('succeeded');
    expect(summary.rows.map((r) => [r.id, r.status, r.error])).toEqual([
      ['a1', 'succeeded', null],
      ['a2', 'succeeded', null],
      ['b1', 'succeeded', null],
    ]);
    // a1 was tried three times before a2 ever started; b1 did not wait for A.
    expect(order.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a1', 'a1', 'a2']);
    expect(order.indexOf('b1')).toBeLessThan(order.lastIndexOf('a1'));
    const waits = events.filter((e): e is Extract<DispatchEvent, { type: 'task-waiting' }> => e.type === 'task-waiting');
    expect(waits.map((w) => [w.id, w.waits])).toEqual([
      ['a1', 1],
      ['a1', 2],
    ]);
    expect(waits[0]?.reason).toContain('is in use by run r-other');
    expect(source.results().get('a1')?.state).toBe('acked');
    // One start event per task, however often it waited.
    expect(events.filter((e) => e.type === 'task-started').map((e) => (e as { id: string }).id)).toEqual(['a1', 'b1', 'a2']);
  });

  it('an abort while a task waits hands it back to its source (not started), not a failure', async () => {
    const controller = new AbortController();
    const runTask: RunTask = async (task) => {
      setTimeout(() => controller.abort(), 5);
      return busy(task.baseDir);
    };
    const source = listTaskSource('test', [{ id: 'x', task: 'x', baseDir: '/w/x' }]);
    const summary = await dispatch(source, runTask, { signal: controller.signal, busyRetry: { initialMs: 60_000 } });
    expect(summary.rows.map((r) => [r.id, r.status])).toEqual([['x', 'skipped']]);
    expect(summary.failed).toBe(0);
    expect(source.results().get('x')?.state).toBe('released');
  });

  it('a busy answer that comes after the abort is not a failure either: the task is handed back', async () => {
    const controller = new AbortController();
    const runTask: RunTask = async (task) => {
      controller.abort();
      return busy(task.baseDir);
    };
    const source = listTaskSource('test', [{ id: 'y', task: 'y', baseDir: '/w/y' }]);
    const summary = await dispatch(source, runTask, { signal: controller.signal });
    expect(summary.rows.map((r) => [r.id, r.status, r.error])).toEqual([['y', 'skipped', 'not started: the dispatch was aborted']]);
    expect(source.results().get('y')?.state).toBe('released');
  });

  it('busyDelay doubles from initialMs to maxMs with ±20 % jitter', async () => {
    const { busyDelay } = await import('../../src/dispatcher/index.js');
    expect([1, 2, 3, 10].map((n) => busyDelay(n, { initialMs: 100, maxMs: 1000 }, () => 0.5))).toEqual([100, 200, 400, 1000]);
    expect(busyDelay(1, { initialMs: 100 }, () => 0)).toBe(80);
    expect(busyDelay(1, { initialMs: 100 }, () => 1)).toBe(120);
  });
});
