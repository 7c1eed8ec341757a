import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InboxResult } from '../../src/dispatcher/index.js';
import { TaskQueue } from '../../src/queue/task-queue.js';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor, type ChildRun } from '../helpers/cli-child.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { REDIS_URL, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';

/**
 * `codex-orch dispatch --queue` processes (the product's CLI, ledger, makeRunTask and tasks queue, over the
 * stand-in orchestrator of test/fixtures/dispatch-stand-in.ts, which leaves a real run row in each base dir's
 * state.db) on the real Redis: a shared inbox over two repositories, one dispatcher SIGKILLed mid-way.
 */
const STAND_IN = fileURLToPath(new URL('../fixtures/dispatch-stand-in.ts', import.meta.url));

interface LogLine {
  kind: 'start' | 'resume' | 'done' | 'aborted';
  task: string;
  runId: string;
  baseDir?: string;
  pid: number;
  at: number;
}

let prefix = '';
let bases: TempBase[] = [];
let logFile = '';
const children: ChildRun[] = [];

beforeAll(async () => {
  await requireRedis();
});
beforeEach(() => {
  prefix = uniquePrefix();
  bases = [makeTempBase(), makeTempBase()];
  logFile = path.join(bases[0]!.root, 'runs.log');
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.done;
  }
  await dropPrefix(prefix);
  for (const b of bases) b.cleanup();
});

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  OPENAI_AGENTS_DISABLE_TRACING: '1',
  OPENAI_API_KEY: 'test-key',
  FAKE_RUN_LOG: logFile,
  ORCHESTRATOR_QUEUE_PREFIX: prefix,
  // A killed dispatcher's job and repository lock are taken over after 2 s.
  ORCHESTRATOR_QUEUE_LOCK_MS: '2000',
  ORCHESTRATOR_QUEUE_STALLED_MS: '1000',
  ...extra,
});
const dispatcher = (inbox: string, extra: NodeJS.ProcessEnv = {}): ChildRun => {
  const c = spawnTs(
    ['dispatch', '--watch', '--inbox', inbox, '--queue', REDIS_URL, '--concurrency', '2', '--poll-ms', '100', '--no-progress'],
    env(extra),
    STAND_IN,
  );
  children.push(c);
  return c;
};
const stderrOf = (c: ChildRun): (() => string) => {
  let text = '';
  c.child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  return () => text;
};
const lines = (): LogLine[] =>
  fs.existsSync(logFile)
    ? fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine)
    : [];
const results = (inbox: string, dir: 'done' | 'failed'): InboxResult[] =>
  fs.existsSync(path.join(inbox, dir))
    ? fs
        .readdirSync(path.join(inbox, dir))
        .filter((f) => f.endsWith('.result.json'))
        .map((f) => JSON.parse(fs.readFileSync(path.join(inbox, dir, f), 'utf8')) as InboxResult)
    : [];
const writeTask = (inbox: string, file: string, task: { id: string; task: string; baseDir: string }): void => {
  fs.mkdirSync(inbox, { recursive: true });
  // Written under another name and renamed in, as the inbox asks.
  fs.writeFileSync(path.join(inbox, `${file}.tmp`), JSON.stringify(task));
  fs.renameSync(path.join(inbox, `${file}.tmp`), path.join(inbox, file));
};

describe('dispatch --queue: whole tasks over several dispatcher processes', () => {
  it('two dispatchers, one shared inbox, two repositories, one SIGKILLed mid-way: every task runs to its end once, one run per repository at a time', async () => {
    const N = 16;
    const inbox = path.join(bases[0]!.root, 'inbox');
    const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, task: `task number ${i}`, baseDir: bases[i % 2]!.baseDir }));
    const victim = dispatcher(inbox, { FAKE_RUN_MS: '600' });
    const victimErr = stderrOf(victim);
    const other = dispatcher(inbox, { FAKE_RUN_MS: '150' });
    const otherErr = stderrOf(other);
    await waitFor(
      () => /tasks queue redis:/.test(victimErr()) && /tasks queue redis:/.test(otherErr()),
      'both dispatchers on the queue',
      60_000,
    );
    for (const [i, t] of tasks.entries()) writeTask(inbox, `t${String(i).padStart(2, '0')}.json`, t);

    // Killed in the middle of a run of its own (it holds that repository's lock and the job).
    const running = (): LogLine[] => {
      const mine = lines().filter((l) => l.pid === victim.child.pid);
      return mine.filter((l) => l.kind === 'start' && !mine.some((d) => d.kind === 'done' && d.runId === l.runId));
    };
    await waitFor(
      () => lines().filter((l) => l.kind === 'done' && l.pid === victim.child.pid).length >= 1 && running().length > 0,
      'the victim to finish one run and be in the middle of another',
      90_000,
    );
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await victim.done).signal).toBe('SIGKILL');
    const cut = running();
    expect(cut.length).toBeGreaterThan(0);

    // The other dispatcher takes over the stalled job, and the dead one's claimed inbox files (its poll puts them back).
    await waitFor(() => results(inbox, 'done').length === N, `all ${N} tasks in done/`, 150_000);
    other.child.kill('SIGTERM');
    const end = await other.done;
    expect(end.code, end.stderr).toBe(0);

    const ok = results(inbox, 'done');
    expect(ok.map((r) => r.id).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect(ok.every((r) => r.status === 'succeeded' && r.error === null && r.runId)).toBe(true);
    expect(results(inbox, 'failed')).toEqual([]);
    expect(fs.readdirSync(path.join(inbox, 'processing'))).toEqual([]);
    expect(fs.readdirSync(inbox).filter((f) => f.endsWith('.json'))).toEqual([]);

    const log = lines();
    // Every task's run reached its end exactly once, and none started twice from scratch.
    const doneCount = new Map<string, number>();
    for (const l of log.filter((x) => x.kind === 'done')) doneCount.set(l.task, (doneCount.get(l.task) ?? 0) + 1);
    expect([...doneCount.keys()].sort()).toEqual(tasks.map((t) => t.task).sort());
    expect([...doneCount.values()].every((n) => n === 1)).toBe(true);
    expect(log.filter((l) => l.kind === 'start').length).toBe(N);
    // The run cut off by the kill was resumed (same run id) by the other dispatcher and finished there.
    for (const c of cut) {
      expect(log.some((l) => l.kind === 'resume' && l.runId === c.runId && l.pid === other.child.pid)).toBe(true);
      expect(log.some((l) => l.kind === 'done' && l.runId === c.runId && l.pid === other.child.pid)).toBe(true);
    }
    // Both dispatchers ran tasks (the queue spread them).
    expect(new Set(log.filter((l) => l.kind === 'done').map((l) => l.pid)).size).toBe(2);

    // The store: one run per task in its base dir, succeeded; runs of one repository never overlap (a run cut by
    // the kill counts from its start to the kill, and again from its resume to its end).
    for (const base of bases) {
      const store = openSqliteStore(path.join(base.baseDir, '.codex-orchestrator'));
      try {
        const runs = store.listRuns();
        const mine = tasks.filter((t) => t.baseDir === base.baseDir).map((t) => t.task);
        expect(runs.map((r) => r.task).sort()).toEqual(mine.sort());
        expect(runs.every((r) => r.status === 'succeeded' && r.finishedAt)).toBe(true);
        const spans: { from: number; to: number; what: string }[] = [];
        for (const r of runs) {
          const resumed = log.find((l) => l.kind === 'resume' && l.runId === r.id);
          const from = Date.parse(r.createdAt);
          const to = Date.parse(r.finishedAt!);
          if (resumed) {
            spans.push({ from, to: killedAt, what: `${r.task} (until the kill)` }, { from: resumed.at, to, what: `${r.task} (resumed)` });
          } else spans.push({ from, to, what: r.task });
        }
        spans.sort((a, b) => a.from - b.from);
        for (let i = 1; i < spans.length; i++) {
          expect(spans[i]!.from, `${spans[i]!.what} started before ${spans[i - 1]!.what} ended`).toBeGreaterThanOrEqual(spans[i - 1]!.to);
        }
      } finally {
        store.close();
      }
    }

    // Redis: one job per task, all completed, none failed.
    const queue = new TaskQueue({ url: REDIS_URL, prefix });
    try {
      const counts = await queue.counts();
      expect(counts.completed).toBe(N);
      expect(counts.failed).toBe(0);
    } finally {
      await queue.close();
    }
  }, 240_000);

  it('one task dropped into two dispatchers’ inboxes is one job: it runs once and both inboxes file its outcome', async () => {
    const root = bases[0]!.root;
    const inboxes = [path.join(root, 'inbox-a'), path.join(root, 'inbox-b')];
    const ds = inboxes.map((inbox) => dispatcher(inbox, { FAKE_RUN_MS: '300' }));
    const errs = ds.map(stderrOf);
    await waitFor(() => errs.every((e) => /tasks queue redis:/.test(e())), 'both dispatchers on the queue', 60_000);
    const task = { id: 'same-task', task: 'the same task twice', baseDir: bases[1]!.baseDir };
    for (const inbox of inboxes) writeTask(inbox, 'same.json', task);
    await waitFor(() => inboxes.every((inbox) => results(inbox, 'done').length === 1), 'both inboxes to file the task in done/', 90_000);
    for (const d of ds) d.child.kill('SIGTERM');
    for (const d of ds) expect((await d.done).code).toBe(0);

    const [a, b] = inboxes.map((inbox) => results(inbox, 'done')[0]!);
    expect(a!.status).toBe('succeeded');
    expect(b!.status).toBe('succeeded');
    expect(a!.runId).toBe(b!.runId);
    expect(lines().filter((l) => l.kind === 'start')).toHaveLength(1);
    expect(lines().filter((l) => l.kind === 'done')).toHaveLength(1);
  }, 120_000);

  it('the HTTP intake on the queue: a task run by the other dispatcher is reported by the intake that took it', async () => {
    const token = 'queue-token-0123456789abcdef';
    const intake = spawnTs(
      ['dispatch', '--http', '0', '--base-dir', bases[0]!.baseDir, '--queue', REDIS_URL, '--concurrency', '1', '--no-progress'],
      env({ ORCHESTRATOR_DISPATCH_TOKEN: token, FAKE_RUN_MS: '2000' }),
      STAND_IN,
    );
    children.push(intake);
    const intakeErr = stderrOf(intake);
    const helper = dispatcher(path.join(bases[0]!.root, 'empty-inbox'), { FAKE_RUN_MS: '100' });
    const helperErr = stderrOf(helper);
    await waitFor(
      () => /http intake on http:\/\/\S+:/.test(intakeErr()) && /tasks queue redis:/.test(helperErr()),
      'both dispatchers up',
      60_000,
    );
    const url = (/http intake on (http:\/\/\S+):/.exec(intakeErr()) as RegExpExecArray)[1] as string;
    const auth = { authorization: `Bearer ${token}` };
    const ids = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'];
    for (const [i, id] of ids.entries()) {
      const r = await fetch(`${url}/tasks`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ id, task: `web task ${id}`, baseDir: bases[i % 2]!.baseDir }),
      });
      expect(r.status).toBe(202);
    }
    const records = async (): Promise<{ id: string; state: string; runId: string | null }[]> =>
      Promise.all(
        ids.map(
          async (id) =>
            (
              (await (await fetch(`${url}/tasks/${id}`, { headers: auth })).json()) as {
                task: { id: string; state: string; runId: string | null };
              }
            ).task,
        ),
      );
    let last: { id: string; state: string; runId: string | null }[] = [];
    const deadline = Date.now() + 120_000;
    while (!(last.length === ids.length && last.every((r) => r.state === 'succeeded'))) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for the intake to report every task succeeded: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 200));
      last = await records();
    }
    for (const c of [intake, helper]) c.child.kill('SIGTERM');
    for (const c of [intake, helper]) expect((await c.done).code).toBe(0);

    const log = lines();
    const done = log.filter((l) => l.kind === 'done');
    expect(done.map((l) => l.task).sort()).toEqual(ids.map((id) => `web task ${id}`));
    // Some ran on the helper, and the intake reports exactly those runs.
    const byHelper = done.filter((l) => l.pid === helper.child.pid);
    expect(byHelper.length).toBeGreaterThan(0);
    for (const d of byHelper) expect(last.find((r) => `web task ${r.id}` === d.task)?.runId).toBe(d.runId);
  }, 180_000);

  it('a dispatcher stopped (SIGTERM) mid-run: the run goes back to the queue, the file back to the inbox, and the next dispatcher resumes it', async () => {
    const inbox = path.join(bases[0]!.root, 'inbox');
    const first = dispatcher(inbox, { FAKE_RUN_MS: '60000' });
    const firstErr = stderrOf(first);
    await waitFor(() => /tasks queue redis:/.test(firstErr()), 'the dispatcher on the queue', 60_000);
    writeTask(inbox, 'long.json', { id: 'long', task: 'a long task', baseDir: bases[0]!.baseDir });
    await waitFor(() => lines().some((l) => l.kind === 'start'), 'the run to start', 60_000);
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/long \(.*\) back to the queue/);
    expect(fs.readdirSync(inbox)).toContain('long.json');
    const queue = new TaskQueue({ url: REDIS_URL, prefix });
    try {
      const counts = await queue.counts();
      expect(counts, stopped.stderr).toMatchObject({ active: 0, completed: 0, failed: 0 });
      expect((counts.waiting ?? 0) + (counts.delayed ?? 0)).toBe(1);
    } finally {
      await queue.close();
    }

    const second = dispatcher(inbox, { FAKE_RUN_MS: '50' });
    await waitFor(() => results(inbox, 'done').length === 1, 'the task in done/', 90_000);
    second.child.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
    const log = lines();
    expect(log.map((l) => l.kind)).toEqual(['start', 'aborted', 'resume', 'done']);
    expect(new Set(log.map((l) => l.runId)).size).toBe(1);
    expect(results(inbox, 'done')[0]).toMatchObject({ id: 'long', status: 'succeeded', runId: log[0]!.runId });
  }, 180_000);

  it('a queue that does not answer stops the dispatch before any task is taken, naming it (exit 8)', async () => {
    const inbox = path.join(bases[0]!.root, 'inbox');
    writeTask(inbox, 'x.json', { id: 'x', task: 'never taken', baseDir: bases[0]!.baseDir });
    const c = spawnTs(['dispatch', '--inbox', inbox, '--queue', 'redis://127.0.0.1:1', '--no-progress'], env(), STAND_IN);
    children.push(c);
    const r = await c.done;
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toMatch(/the job queue at redis:\/\/127\.0\.0\.1:1 does not answer/);
    expect(lines()).toEqual([]);
    expect(fs.readdirSync(inbox)).toContain('x.json');
  }, 60_000);
});
