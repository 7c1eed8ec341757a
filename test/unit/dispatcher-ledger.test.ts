import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  type RunTask,
  type SourcedTask,
  type TaskSource,
} from '../../src/dispatcher/index.js';

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
    const stopped = await withIdempotency(async () => ({ ...ok, status: 'failed', error: 'interrupted' }), deps, 'o')({ ...task, id: 'i' }, aborted.signal);
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
    expect(outcome).toMatchObject({ status: 'failed', duplicate: true, error: expect.stringContaining('is already running (claimed by this dispatcher') });
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
