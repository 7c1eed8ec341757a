import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryError } from '../../src/errors.js';
import { retrySubtask } from '../../src/orchestrator/retry.js';
import { RETRY_RECORD } from '../../src/orchestrator/retry-record.js';
import { manifestSchema } from '../../src/scheduler/index.js';
import { acquireRunLock, openSqliteStore } from '../../src/store/index.js';
import { spawnTs } from '../helpers/cli-child.js';
import { git, type TempBase } from '../helpers/git-repo.js';
import { expectRetryResumed, retryRig, retryStatuses as statuses } from '../helpers/retry-plan.js';

/**
 * A person's retry of a failed subtask, end to end: `run --plan` (the CLI, the
 * plan fake codex, real git, the SQLite store) where `bad` fails its
 * acceptance (it needs flag.txt, which main/ does not have yet) and `dep`,
 * which depends on it, is blocked. The person adds flag.txt to main/, retries
 * `bad`, and `runs resume` starts it again from main on a new branch and
 * thread: it merges, then `dep` runs and merges; the failed attempt's branch
 * is kept under another name with its work.
 */

const bases: TempBase[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) b.cleanup();
});

const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RetryError);
  return e as RetryError;
};

describe('runs retry: a failed subtask starts again from main', { timeout: 300_000 }, () => {
  it('bad fails, dep is blocked; retry bad → resume: bad and dep merge, the failed attempt is kept', async () => {
    const r = retryRig(bases);
    const first = await spawnTs(['run', '--plan', r.file, '--no-review', '--json', '--max-parallel', '2'], r.env).done;
    expect(first.code, first.stderr).toBe(1);
    const report = JSON.parse(first.stdout) as { runId: string; runDir: string };
    const runId = report.runId;
    const store = openSqliteStore(r.t.stateDir);
    try {
      expect(statuses(store, runId)).toEqual({ ok: 'merged', bad: 'error', dep: 'blocked' });
      const failedThread = store.getSubtask(runId, 'bad')!.threadId;
      expect(failedThread).toBeTruthy();
      const workersBefore = store.listWorkers(runId).filter((w) => w.subtaskId === 'bad');
      expect(workersBefore.length).toBeGreaterThan(0);
      const attemptsBefore = store.getSubtask(runId, 'bad')!.attempts;

      // What cannot be retried is refused in one line, and nothing changes.
      const opts = { store, stateDir: r.t.stateDir, runId };
      expect((await refusal(retrySubtask({ ...opts, taskId: 'ok' }))).reason).toBe('conflict');
      expect((await refusal(retrySubtask({ ...opts, taskId: 'ok' }))).message).toMatch(/merged already/);
      expect((await refusal(retrySubtask({ ...opts, taskId: 'nope' }))).reason).toBe('not-found');
      expect((await refusal(retrySubtask({ ...opts, runId: 'no-such-run', taskId: 'bad' }))).reason).toBe('not-found');
      const blocked = await refusal(retrySubtask({ ...opts, taskId: 'dep' }));
      expect(blocked.reason).toBe('conflict');
      expect(blocked.hint).toBe('retry bad');
      // A live run (its lock held by a live process) does not take a retry: stop it first.
      const held = acquireRunLock(store, runId);
      try {
        const live = await refusal(retrySubtask({ ...opts, taskId: 'bad' }));
        expect(live.reason).toBe('conflict');
        expect(live.message).toMatch(/is live .*stop it first/);
      } finally {
        held.release();
      }
      expect(statuses(store, runId)).toEqual({ ok: 'merged', bad: 'error', dep: 'blocked' });
      expect(store.listEvents(runId).some((e) => e.type === RETRY_RECORD.request)).toBe(false);

      // The person fixes main/ (the missing flag), then retries.
      r.addFlag();
      const retried = await retrySubtask({ ...opts, taskId: 'bad' });
      expect(retried).toMatchObject({ runId, taskId: 'bad', previous: 'error', unblocked: ['dep'], resumed: null });
      expect(retried.next).toContain(`codex-orch runs resume ${runId}`);
      expect(statuses(store, runId)).toEqual({ ok: 'merged', bad: 'pending', dep: 'pending' });
      const reset = store.getSubtask(runId, 'bad')!;
      expect(reset.threadId).toBeUndefined();
      expect(reset.branch).toBeUndefined();
      expect(reset.reason).toMatch(/^retry requested at .* \(it was error: .*\); it starts again from main$/);
      const saved = manifestSchema.parse(JSON.parse(fs.readFileSync(path.join(report.runDir, 'manifest.json'), 'utf8')));
      const savedBad = saved.phases[0]!.tasks.find((t) => t.id === 'bad')!;
      expect([savedBad.status, savedBad.threadId, savedBad.branch]).toEqual(['pending', null, null]);
      // A second retry before the run went on is refused: it is pending now.
      expect((await refusal(retrySubtask({ ...opts, taskId: 'bad' }))).message).toMatch(/has not run yet \(pending\)/);

      const resumed = await spawnTs(['runs', 'resume', runId, '--json'], r.env).done;
      expectRetryResumed(resumed, r, store, runId);

      // The retried attempt started from main (it had flag.txt) on a new thread; the earlier one is kept.
      const done = store.getSubtask(runId, 'bad')!;
      expect(done.attempts).toBe(attemptsBefore + 1);
      expect(done.threadId).toBeTruthy();
      expect(done.threadId).not.toBe(failedThread);
      const kept = git(r.t.main, 'branch', '--list', 'task-bad-attempt-*').trim();
      expect(kept).toBe('task-bad-attempt-1');
      expect(git(r.t.main, 'show', 'task-bad-attempt-1:bad.txt')).toBe('bad');
      expect(git(r.t.main, 'ls-tree', '--name-only', 'task-bad-attempt-1')).not.toContain('flag.txt');
      const workersAfter = store.listWorkers(runId).filter((w) => w.subtaskId === 'bad');
      expect(workersAfter.slice(0, workersBefore.length).map((w) => w.workerId)).toEqual(workersBefore.map((w) => w.workerId));
      expect(workersAfter.length).toBeGreaterThan(workersBefore.length);
      const types = store.listEvents(runId).map((e) => e.type);
      expect(types.filter((t) => t === RETRY_RECORD.request)).toHaveLength(1);
      expect(types.filter((t) => t === RETRY_RECORD.begun)).toHaveLength(1);
      const decisions = fs
        .readFileSync(path.join(report.runDir, 'decisions.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { kind: string; action: string; taskId?: string; reason: string });
      const retryDecision = decisions.find((d) => d.kind === 'schedule' && d.action === 'retry');
      expect(retryDecision?.taskId).toBe('bad');
      expect(retryDecision?.reason).toMatch(/the earlier attempt is kept as branch task-bad-attempt-1/);
      // A merged subtask is not retried after all.
      expect((await refusal(retrySubtask({ ...opts, taskId: 'bad' }))).message).toMatch(/merged already/);
    } finally {
      store.close();
    }
  });
});
