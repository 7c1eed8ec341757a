import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryLedger,
  dispatch,
  ledgerSet,
  listTaskSource,
  mergeSources,
  openDispatchLedger,
  withIdempotency,
  type DispatchLedger,
  type DispatchOutcome,
  type RunTask,
  type SourcedTask,
  type TaskSource,
} from '../../src/dispatcher/index.js';
import { openSqliteStore } from '../../src/store/index.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-ledger-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const task = { id: 't1', task: 'do it', baseDir: '/w/a' };
const ok = { status: 'succeeded' as const, merges: 1, tokens: 10, durationMs: 2, runId: 'run-1' };

for (const [kind, make] of [
  ['sqlite', (opts = {}) => openDispatchLedger(path.join(tmp, 'state'), opts)],
  ['memory', (opts = {}) => createMemoryLedger(opts)],
] as const) {
  describe(`dispatch ledger (${kind})`, () => {
    it('claims a new id, answers done after finish, busy while a live holder runs it', () => {
      const ledger: DispatchLedger = make();
      const first = ledger.claim(task, 'a');
      expect(first).toMatchObject({ kind: 'claimed', entry: { id: 't1', state: 'running', attempts: 1, owner: 'a', pid: process.pid } });
      expect(ledger.claim(task, 'b')).toMatchObject({ kind: 'busy', entry: { owner: 'a' } });
      expect(ledger.finish('t1', 'b', ok, 'succeeded')).toBe(false);
      expect(ledger.finish('t1', 'a', ok, 'succeeded')).toBe(true);
      expect(ledger.claim(task, 'b')).toMatchObject({ kind: 'done', entry: { state: 'succeeded', runId: 'run-1', outcome: ok } });
      expect(ledger.list().map((e) => e.id)).toEqual(['t1']);
      ledger.close();
    });

    it('an interrupted entry, or one whose holder died, is claimed again (attempts counted, run id kept)', () => {
      const dead = new Set([111]);
      const ledger: DispatchLedger = make({ isPidAlive: (pid: number) => !dead.has(pid), pid: 111, hostname: 'h' });
      ledger.claim(task, 'a');
      ledger.finish('t1', 'a', { ...ok, status: 'failed', runId: 'run-1' }, 'interrupted');
      const again = ledger.claim(task, 'b');
      expect(again).toMatchObject({ kind: 'claimed', entry: { attempts: 2, runId: 'run-1' }, previous: { state: 'interrupted' } });
      // Owner b "is killed": its pid (111) is dead, so c takes over.
      const c = ledger.claim(task, 'c');
      expect(c).toMatchObject({ kind: 'claimed', entry: { attempts: 3, owner: 'c' }, previous: { owner: 'b', state: 'running' } });
      ledger.close();
    });

    it('a holder on another host counts as live', () => {
      const ledger = make({ hostname: 'other', isPidAlive: () => false });
      ledger.claim(task, 'a');
      ledger.close();
      if (kind === 'sqlite') {
        const here = openDispatchLedger(path.join(tmp, 'state'), { hostname: 'here', isPidAlive: () => false });
        expect(here.claim(task, 'b').kind).toBe('busy');
        here.close();
      }
    });
  });
}

describe('sqlite ledger across connections', () => {
  it('two connections (as two processes) never both claim; the file lives in the state dir', () => {
    const dir = path.join(tmp, 'state');
    const a = openDispatchLedger(dir);
    const b = openDispatchLedger(dir);
    expect(a.location).toBe(path.join(dir, 'state.db'));
    const results = [a.claim(task, 'a').kind, b.claim(task, 'b').kind];
    expect(results.sort()).toEqual(['busy', 'claimed']);
    a.finish('t1', 'a', ok, 'succeeded');
    expect(b.claim(task, 'b')).toMatchObject({ kind: 'done', entry: { runId: 'run-1' } });
    a.close();
    b.close();
  });

  it('ledgerSet opens one ledger per state dir', () => {
    const set = ledgerSet((baseDir) => path.join(tmp, path.basename(baseDir), '.state'));
    expect(set.forBaseDir('/w/a')).toBe(set.forBaseDir('/w/a/'));
    expect(set.forBaseDir('/w/a')).not.toBe(set.forBaseDir('/w/b'));
    expect(set.lookup('nope', '/w/a')).toBeUndefined();
    set.close();
    expect(fs.existsSync(path.join(tmp, 'a', '.state', 'state.db'))).toBe(true);
  });
});

describe('withIdempotency', () => {
  it('a task id runs once across dispatches; the duplicate gets the earlier outcome', async () => {
    const ledger = openDispatchLedger(path.join(tmp, 'state'));
    let runs = 0;
    const base: RunTask = async () => ({ ...ok, runId: `run-${(runs += 1)}` });
    const first = await dispatch(listTaskSource('a', [task]), withIdempotency(base, { forBaseDir: () => ledger }, 'o1'));
    const second = await dispatch(listTaskSource('b', [task]), withIdempotency(base, { forBaseDir: () => ledger }, 'o2'));
    expect(runs).toBe(1);
    expect(first.rows[0]).toMatchObject({ status: 'succeeded', duplicate: false, runId: 'run-1' });
    expect(second.rows[0]).toMatchObject({ status: 'succeeded', duplicate: true, runId: 'run-1', merges: 1, tokens: 10 });
    ledger.close();
  });

  it('a failed run is not retried; an interrupted one (abort) or a runner that threw is', async () => {
    const ledger = createMemoryLedger();
    const deps = { forBaseDir: () => ledger };
    const failing = withIdempotency(async () => ({ ...ok, status: 'failed', error: 'tests failed' }), deps, 'o');
    const signal = new AbortController().signal;
    await failing({ ...task, id: 'f' }, signal);
    expect(await failing({ ...task, id: 'f' }, signal)).toMatchObject({ status: 'failed', error: 'tests failed', duplicate: true });

    const aborted = new AbortController();
    aborted.abort();
    const stopped = await withIdempotency(
      async () => ({ ...ok, status: 'failed', error: 'interrupted' }),
      deps,
      'o',
    )({ ...task, id: 'i' }, aborted.signal);
    expect(stopped.interrupted).toBe(true);
    expect(ledger.get('i')?.state).toBe('interrupted');
    const rerun = await withIdempotency(async () => ({ ...ok, runId: 'run-2' }), deps, 'o')({ ...task, id: 'i' }, signal);
    expect(rerun).toMatchObject({ status: 'succeeded', runId: 'run-2', interrupted: false });

    const throwing = withIdempotency(async () => Promise.reject(new Error('boom')), deps, 'o');
    await expect(throwing({ ...task, id: 'x' }, signal)).rejects.toThrow('boom');
    expect(ledger.get('x')?.state).toBe('interrupted');
  });

  it('a task running under another live dispatcher is answered failed with who holds it', async () => {
    const ledger = createMemoryLedger();
    ledger.claim(task, 'someone-else');
    const outcome = await withIdempotency(async () => ok, { forBaseDir: () => ledger }, 'me')(task, new AbortController().signal);
    expect(outcome).toMatchObject({
      status: 'failed',
      duplicate: true,
      error: expect.stringContaining('is already running (claimed by this dispatcher'),
    });
  });
});

describe('mergeSources', () => {
  const parked = (name: string, items: SourcedTask[], released: string[]): TaskSource => ({
    name,
    async *tasks() {
      for (const i of items) yield i;
      await new Promise<void>(() => undefined);
    },
  });
  const sourced = (id: string, released: string[]): SourcedTask => ({
    id,
    task: id,
    baseDir: `/w/${id}`,
    ack: async () => undefined,
    fail: async () => undefined,
    release: async () => {
      released.push(id);
    },
  });

  it('interleaves finite and long-running sources, keeps each task source name, and ends when all finite ones end', async () => {
    const a = listTaskSource('env', [
      { id: 'a1', task: 'a1', baseDir: '/w/1' },
      { id: 'a2', task: 'a2', baseDir: '/w/2' },
    ]);
    const b = listTaskSource('inbox', [{ id: 'b1', task: 'b1', baseDir: '/w/3' }]);
    const summary = await dispatch(mergeSources([a, b]), async () => ok, { concurrency: 3 });
    expect(summary.rows.map((r) => `${r.source}:${r.id}`).sort()).toEqual(['env:a1', 'env:a2', 'inbox:b1']);
    expect(a.results().get('a1')?.state).toBe('acked');
    expect(b.results().get('b1')?.state).toBe('acked');
  });

  it('on abort, a task taken ahead from another source is released', async () => {
    const released: string[] = [];
    const controller = new AbortController();
    const merged = mergeSources([
      parked('one', [sourced('x', released)], released),
      parked('two', [sourced('y', released), sourced('z', released)], released),
    ]);
    const summary = await dispatch(
      merged,
      async () => {
        controller.abort();
        await new Promise((r) => setImmediate(r));
        return ok;
      },
      { signal: controller.signal, concurrency: 1, maxPending: 1 },
    );
    expect(summary.succeeded).toBe(1);
    await new Promise((r) => setImmediate(r));
    // Every task taken from a source but not run went back.
    const ran = summary.rows.filter((r) => r.status === 'succeeded').map((r) => r.id);
    expect([...ran, ...released].sort()).toEqual(expect.arrayContaining(['x', 'y']));
    expect(ran.some((id) => released.includes(id))).toBe(false);
  });
});

describe('the ledger records why a task failed', () => {
  const signal = new AbortController().signal;
  const failedWith =
    (failure: DispatchOutcome['failure'], runId?: string): RunTask =>
    async () => ({
      status: 'failed',
      merges: 0,
      tokens: 1,
      durationMs: 1,
      error: `failed: ${failure}`,
      failure,
      ...(runId ? { runId } : {}),
    });

  it('a run that failed on its own is final; disk full and runner errors run again when offered again, resuming the run', async () => {
    const ledger = openDispatchLedger(path.join(tmp, 'state'));
    const deps = { forBaseDir: () => ledger };
    await withIdempotency(failedWith('run', 'run-a'), deps, 'o')({ ...task, id: 'a' }, signal);
    expect(ledger.get('a')).toMatchObject({ state: 'failed', failure: 'run', runId: 'run-a' });
    expect(await withIdempotency(async () => ok, deps, 'o')({ ...task, id: 'a' }, signal)).toMatchObject({
      duplicate: true,
      status: 'failed',
      failure: 'run',
    });

    await withIdempotency(failedWith('disk', 'run-d'), deps, 'o')({ ...task, id: 'd' }, signal);
    expect(ledger.get('d')).toMatchObject({ state: 'failed', failure: 'disk', runId: 'run-d' });
    const seen: (string | undefined)[] = [];
    const again = await withIdempotency(
      async (t) => (seen.push(t.resume), { ...ok, runId: t.resume }),
      deps,
      'o',
    )({ ...task, id: 'd' }, signal);
    expect(again).toMatchObject({ status: 'succeeded', runId: 'run-d' });
    expect(again.duplicate).not.toBe(true);
    expect(seen).toEqual(['run-d']);
    expect(ledger.get('d')).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(ledger.get('d')?.failure).toBeUndefined();
    ledger.close();
  });

  it("the run id is linked as soon as the run has one, so a dead dispatcher's successor resumes it", async () => {
    const ledger = openDispatchLedger(path.join(tmp, 'state'), { isPidAlive: () => false });
    const deps = { forBaseDir: () => ledger };
    let linked: string | undefined;
    // The first attempt never ends (its dispatcher "is killed"): the run id is already in the ledger.
    void withIdempotency(
      async (_t, _s, context) => {
        context?.onRunId?.('run-k');
        linked = ledger.get('k')?.runId;
        return new Promise<never>(() => undefined);
      },
      deps,
      'dead-owner',
    )({ ...task, id: 'k' }, signal);
    await new Promise((r) => setImmediate(r));
    expect(linked).toBe('run-k');
    const resumed: (string | undefined)[] = [];
    const outcome = await withIdempotency(
      async (t) => (resumed.push(t.resume), { ...ok, runId: t.resume }),
      deps,
      'successor',
    )({ ...task, id: 'k' }, signal);
    expect(resumed).toEqual(['run-k']);
    expect(outcome.runId).toBe('run-k');
    expect(ledger.get('k')).toMatchObject({ state: 'succeeded', attempts: 2, owner: 'successor' });
    ledger.close();
  });

  it('a configuration error is never recorded: the entry goes (first attempt) or back to what it was', async () => {
    const ledger = openDispatchLedger(path.join(tmp, 'state'));
    const deps = { forBaseDir: () => ledger };
    const out = await withIdempotency(failedWith('config'), deps, 'o')({ ...task, id: 'c' }, signal);
    expect(out).toMatchObject({ status: 'failed', failure: 'config' });
    expect(ledger.get('c')).toBeUndefined();
    await withIdempotency(failedWith('disk', 'run-c'), deps, 'o')({ ...task, id: 'c' }, signal);
    const before = ledger.get('c');
    await withIdempotency(failedWith('config'), deps, 'o2')({ ...task, id: 'c' }, signal);
    expect(ledger.get('c')).toEqual(before);
    // Once the configuration is fixed it runs.
    expect(await withIdempotency(async (t) => ({ ...ok, runId: t.resume }), deps, 'o3')({ ...task, id: 'c' }, signal)).toMatchObject({
      status: 'succeeded',
      runId: 'run-c',
    });
    ledger.close();
  });

  it('a busy base dir gives the claim back without counting an attempt; retry takes a failed run again', async () => {
    const ledger = openDispatchLedger(path.join(tmp, 'state'));
    const deps = { forBaseDir: () => ledger };
    await withIdempotency(failedWith('busy'), deps, 'o')({ ...task, id: 'b' }, signal);
    expect(ledger.get('b')).toMatchObject({ state: 'interrupted', failure: 'busy', attempts: 1 });
    await withIdempotency(async () => ok, deps, 'o')({ ...task, id: 'b' }, signal);
    expect(ledger.get('b')).toMatchObject({ state: 'succeeded', attempts: 1 });
    // A task that waited, then ran and was cut off (its dispatcher died): taking it over is a new attempt.
    const dead = openDispatchLedger(path.join(tmp, 'state'), { isPidAlive: () => false });
    await withIdempotency(failedWith('busy'), { forBaseDir: () => dead }, 'gone')({ ...task, id: 'w' }, signal);
    dead.claim({ ...task, id: 'w' }, 'gone');
    expect(dead.get('w')).toMatchObject({ state: 'running', attempts: 1 });
    expect(dead.claim({ ...task, id: 'w' }, 'successor')).toMatchObject({ kind: 'claimed', entry: { attempts: 2 } });
    dead.close();

    await withIdempotency(failedWith('run', 'run-r'), deps, 'o')({ ...task, id: 'r' }, signal);
    const fresh: (string | undefined)[] = [];
    const retried = await withIdempotency(async (t) => (fresh.push(t.resume), { ...ok, runId: 'run-r2' }), deps, 'o', { retry: true })(
      { ...task, id: 'r' },
      signal,
    );
    expect(retried).toMatchObject({ status: 'succeeded', runId: 'run-r2' });
    // A failed run starts over (it is not resumed).
    expect(fresh).toEqual([undefined]);
    expect(ledger.claim({ ...task, id: 'r' }, 'x', { retry: true }).kind).toBe('done');
    ledger.close();
  });
});

describe('the ledger of earlier versions (dispatch.db) is imported into state.db once', () => {
  it('rows move over with their state; a failed one stays final; the old file is renamed', () => {
    const dir = path.join(tmp, 'state');
    fs.mkdirSync(dir, { recursive: true });
    const old = new Database(path.join(dir, 'dispatch.db'));
    old.pragma('journal_mode = WAL');
    old.exec(`CREATE TABLE dispatch_tasks (
      id TEXT PRIMARY KEY, task TEXT NOT NULL, base_dir TEXT NOT NULL, state TEXT NOT NULL,
      run_id TEXT, outcome TEXT, attempts INTEGER NOT NULL, pid INTEGER NOT NULL, hostname TEXT NOT NULL,
      owner TEXT NOT NULL, claimed_at TEXT NOT NULL, updated_at TEXT NOT NULL
    ) STRICT`);
    const put = old.prepare(
      `INSERT INTO dispatch_tasks VALUES (?, ?, '/w/a', ?, ?, ?, 1, 1, 'h', 'o', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    );
    put.run('ok', 'done task', 'succeeded', 'run-1', JSON.stringify(ok));
    put.run('bad', 'failed task', 'failed', 'run-2', JSON.stringify({ ...ok, status: 'failed', error: 'tests failed' }));
    put.run('cut', 'cut task', 'interrupted', 'run-3', null);
    old.close();

    const ledger = openDispatchLedger(dir);
    expect(ledger.get('ok')).toMatchObject({ state: 'succeeded', runId: 'run-1', outcome: ok });
    expect(ledger.get('bad')).toMatchObject({ state: 'failed', failure: 'run' });
    expect(ledger.get('cut')).toMatchObject({ state: 'interrupted', failure: 'interrupted', runId: 'run-3' });
    expect(ledger.claim({ id: 'bad', task: 'failed task', baseDir: '/w/a' }, 'me').kind).toBe('done');
    expect(fs.existsSync(path.join(dir, 'dispatch.db'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'dispatch.db.imported'))).toBe(true);
    ledger.close();
    // Opening again imports nothing twice (and the run store opens the same schema).
    const store = openSqliteStore(dir);
    store.close();
    expect(
      openDispatchLedger(dir)
        .list()
        .map((e) => e.id)
        .sort(),
    ).toEqual(['bad', 'cut', 'ok']);
  });
});
