import { describe, expect, it } from 'vitest';
import { queuedRunTask, queuedTaskRunner } from '../../src/dispatcher/queued-tasks.js';
import type { DispatchOutcome, RunTask } from '../../src/dispatcher/types.js';
import { taskJobId } from '../../src/queue/names.js';
import { RequeueTask, type QueuedTask, type TaskJobEnd } from '../../src/queue/task-queue.js';

const ok: DispatchOutcome = { status: 'succeeded', merges: 1, tokens: 5, durationMs: 10, runId: 'r1' };
const queued: QueuedTask = { id: 't1', task: 'do it', repoId: '/w/a', baseDir: '/w/a' };
const runnerOf =
  (outcome: DispatchOutcome): RunTask =>
  () =>
    Promise.resolve(outcome);
const live = new AbortController().signal;

describe('queuedTaskRunner (a dispatcher taking a job)', () => {
  it("completes the job with the run's own outcome, success or failure", async () => {
    await expect(queuedTaskRunner(runnerOf(ok), live)(queued, live)).resolves.toEqual(ok);
    const failed: DispatchOutcome = { status: 'failed', merges: 0, tokens: 3, durationMs: 5, error: 'tests fail', failure: 'run' };
    await expect(queuedTaskRunner(runnerOf(failed), live)(queued, live)).resolves.toEqual(failed);
  });

  it("attaches the finished run's summary from this machine (the producer's source may be elsewhere); a bad report costs only the details", async () => {
    const summary = {
      subtasks: [{ id: 'a', status: 'merged' }],
      files: ['a.txt'],
      tests: [],
      merges: [{ branch: 'task-a', sha: 'abc' }],
      tokens: 5,
      mainDir: '/w/a/main',
    };
    const seen: string[] = [];
    const run = queuedTaskRunner(runnerOf(ok), live, {
      summarize: (baseDir, outcome) => {
        seen.push(`${baseDir}:${outcome.runId}`);
        return summary;
      },
    });
    await expect(run(queued, live)).resolves.toEqual({ ...ok, summary });
    expect(seen).toEqual(['/w/a:r1']);
    const broken = queuedTaskRunner(runnerOf(ok), live, {
      summarize: () => {
        throw new Error('report.json is damaged');
      },
    });
    await expect(broken(queued, live)).resolves.toEqual(ok);
  });

  it('sends a busy task back to the queue with a growing pause, not a failure', async () => {
    const busy: DispatchOutcome = { status: 'failed', merges: 0, tokens: 0, durationMs: 0, error: 'base dir in use', failure: 'busy' };
    const run = queuedTaskRunner(runnerOf(busy), live, { busyRetry: { initialMs: 100, maxMs: 10_000 } });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const e = await run(queued, live).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RequeueTask);
      expect((e as RequeueTask).message).toBe('base dir in use');
      delays.push((e as RequeueTask).delayMs);
    }
    expect(delays[3]!).toBeGreaterThan(delays[0]!);
  });

  it('a run stopped by this dispatcher goes back to the queue at once (to be resumed elsewhere)', async () => {
    const stop = new AbortController();
    const runTask: RunTask = (_task, signal) => {
      stop.abort();
      expect(signal.aborted).toBe(true);
      return Promise.resolve({
        status: 'failed',
        merges: 0,
        tokens: 0,
        durationMs: 1,
        error: 'aborted',
        failure: 'interrupted',
        interrupted: true,
      });
    };
    const e = await queuedTaskRunner(runTask, stop.signal)(queued, live).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RequeueTask);
    expect((e as RequeueTask).delayMs).toBe(0);
  });

  it('fails the attempt (BullMQ retries it) for an infrastructure failure', async () => {
    for (const failure of ['disk', 'error', 'config'] as const) {
      const o: DispatchOutcome = { status: 'failed', merges: 0, tokens: 0, durationMs: 0, error: `broke: ${failure}`, failure };
      const e = await queuedTaskRunner(runnerOf(o), live)(queued, live).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Error);
      expect(e).not.toBeInstanceOf(RequeueTask);
      expect((e as Error).message).toBe(`broke: ${failure}`);
    }
  });
});

describe('queuedRunTask (a dispatcher queuing its source’s task)', () => {
  const fakeQueue = (end: TaskJobEnd | 'aborted') => {
    const added: QueuedTask[] = [];
    return {
      added,
      queue: {
        add: (t: QueuedTask) => {
          added.push(t);
          return Promise.resolve({ jobId: taskJobId(t.id, t.baseDir) });
        },
        wait: () => Promise.resolve(end),
      },
    };
  };

  it("queues the task with its repository's lock name and answers with the job's outcome", async () => {
    const { queue, added } = fakeQueue({ state: 'completed', value: ok });
    const run = queuedRunTask(queue, { repoIdOf: (d) => `repo:${d}` });
    await expect(run({ id: 't1', task: 'do it', baseDir: '/w/a' }, live)).resolves.toEqual(ok);
    expect(added).toEqual([{ id: 't1', task: 'do it', baseDir: '/w/a', repoId: 'repo:/w/a' }]);
  });

  it('a job that stayed failed is a failed outcome naming the reason; an abort while waiting is interrupted', async () => {
    const failed = await queuedRunTask(fakeQueue({ state: 'failed', reason: 'disk full' }).queue, { repoIdOf: (d) => d })(
      { id: 't1', task: 'x', baseDir: '/w/a' },
      live,
    );
    expect(failed).toMatchObject({ status: 'failed', failure: 'error', interrupted: false });
    expect(failed.error).toMatch(/failed 5 times: disk full/);
    const aborted = await queuedRunTask(fakeQueue('aborted').queue, { repoIdOf: (d) => d })({ id: 't1', task: 'x', baseDir: '/w/a' }, live);
    expect(aborted).toMatchObject({ status: 'failed', interrupted: true });
  });

  it('job ids: one per task id and base dir', () => {
    expect(taskJobId('fix-12', '/w/a')).toBe(taskJobId('fix-12', '/w/a'));
    expect(taskJobId('fix-12', '/w/a')).not.toBe(taskJobId('fix-12', '/w/b'));
    expect(taskJobId('fix-12', '/w/a')).toMatch(/^fix-12\.[0-9a-f]{8}$/);
    expect(taskJobId('a b:c')).toBe('a_b_c');
  });
});
