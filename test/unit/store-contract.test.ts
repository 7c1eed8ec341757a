/**
 * The Store contract: the same suite against the one SQLite store, on disk and
 * on a private in-memory database (the backend most unit tests use).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { openSqliteStore, openStore, type Store } from '../../src/store/index.js';

interface Backend {
  name: string;
  open(): Store;
  cleanup(): void;
}

function sqliteBackend(): Backend {
  let dir: string | undefined;
  return {
    name: 'sqlite',
    open() {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-contract-'));
      return openSqliteStore(dir);
    },
    cleanup() {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const memoryBackend = (): Backend => ({ name: 'memory', open: () => openStore({ memory: true }), cleanup() {} });

function thrown(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('expected a StoreError');
}

describe.each([sqliteBackend(), memoryBackend()])('Store contract: $name', (backend) => {
  let store: Store;
  beforeEach(() => {
    store = backend.open();
  });
  afterEach(() => {
    store.close();
    backend.cleanup();
  });

  const mkRun = (over: Partial<Parameters<Store['createRun']>[0]> = {}) =>
    store.createRun({ task: 'do the thing', baseDir: '/tmp/base', ...over });

  describe('runs', () => {
    it('creates a run with defaults and reads it back', () => {
      const run = mkRun({ model: 'gpt-x', pid: 42 });
      expect(run.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
      expect(run).toMatchObject({
        task: 'do the thing',
        baseDir: '/tmp/base',
        status: 'pending',
        dryRun: false,
        tokens: { input: 0, output: 0 },
        model: 'gpt-x',
        pid: 42,
      });
      expect(run.createdAt).toBe(run.updatedAt);
      expect(run.finishedAt).toBeUndefined();
      expect('error' in run).toBe(false);
      expect(store.getRun(run.id)).toEqual(run);
    });

    it('refuses a duplicate id and an invalid status', () => {
      mkRun({ id: 'r1' });
      expect(thrown(() => mkRun({ id: 'r1' })).message).toMatch(/already exists/);
      expect(thrown(() => mkRun({ id: 'r2', status: 'done' as never })).message).toMatch(/invalid run status/);
      expect(store.getRun('r2')).toBeUndefined();
    });

    it('updates with a patch: null clears, undefined keeps, finishedAt follows the status', () => {
      const run = mkRun({ id: 'r1', model: 'm' });
      const running = store.updateRun('r1', { status: 'running', pid: 7, error: 'transient' });
      expect(running).toMatchObject({ status: 'running', pid: 7, model: 'm', error: 'transient' });
      expect(running.finishedAt).toBeUndefined();
      expect(running.updatedAt >= run.updatedAt).toBe(true);

      const failed = store.updateRun('r1', { status: 'failed', error: null, summary: 'it broke', tokens: { input: 5, output: 6 } });
      expect(failed.finishedAt).toBeDefined();
      expect(failed.error).toBeUndefined();
      expect(failed).toMatchObject({ summary: 'it broke', tokens: { input: 5, output: 6 }, model: 'm' });

      const resumed = store.updateRun('r1', { status: 'running' });
      expect(resumed.finishedAt).toBeUndefined();
      const explicit = store.updateRun('r1', { status: 'succeeded', finishedAt: '2030-01-01T00:00:00.000Z' });
      expect(explicit.finishedAt).toBe('2030-01-01T00:00:00.000Z');
      expect(store.getRun('r1')).toEqual(explicit);
    });

    it('updateRun of an unknown run is a StoreError', () => {
      expect(thrown(() => store.updateRun('nope', { status: 'running' })).message).toMatch(/no run "nope"/);
    });

    it('adds tokens atomically and keeps the agent state', () => {
      mkRun({ id: 'r1' });
      store.addRunTokens('r1', { input: 10, output: 2 });
      expect(store.addRunTokens('r1', { input: 1, output: 1 }).tokens).toEqual({ input: 11, output: 3 });
      store.saveAgentState('r1', '{"state":"serialised"}');
      expect(store.getRun('r1')?.agentState).toBe('{"state":"serialised"}');
      store.saveAgentState('r1', null);
      expect(store.getRun('r1')?.agentState).toBeUndefined();
    });

    it('stores the manifest as JSON', () => {
      const manifest = { version: 1, task: 't', phases: [{ name: 'P1', tasks: [{ id: 't1', when: new Date(0) }] }] };
      mkRun({ id: 'r1', manifest });
      expect(store.getRun('r1')?.manifest).toEqual({
        version: 1,
        task: 't',
        phases: [{ name: 'P1', tasks: [{ id: 't1', when: '1970-01-01T00:00:00.000Z' }] }],
      });
      store.updateRun('r1', { manifest: null });
      expect(store.getRun('r1')?.manifest).toBeUndefined();
    });

    it('returns copies', () => {
      const run = mkRun({ id: 'r1' });
      run.tokens.input = 999;
      expect(store.getRun('r1')?.tokens.input).toBe(0);
    });

    it('lists newest first, filtered by status and base dir, limited', () => {
      mkRun({ id: 'a', createdAt: '2026-01-01T00:00:00.000Z' });
      mkRun({ id: 'b', createdAt: '2026-01-02T00:00:00.000Z', status: 'running' });
      mkRun({ id: 'c', createdAt: '2026-01-03T00:00:00.000Z', baseDir: '/other' });
      mkRun({ id: 'd', createdAt: '2026-01-03T00:00:00.000Z', status: 'failed' });
      expect(store.listRuns().map((r) => r.id)).toEqual(['d', 'c', 'b', 'a']);
      expect(store.listRuns({ limit: 2 }).map((r) => r.id)).toEqual(['d', 'c']);
      expect(store.listRuns({ status: 'running' }).map((r) => r.id)).toEqual(['b']);
      expect(store.listRuns({ status: ['failed', 'pending'] }).map((r) => r.id)).toEqual(['d', 'c', 'a']);
      expect(store.listRuns({ status: [] })).toEqual([]);
      expect(store.listRuns({ baseDir: '/other' }).map((r) => r.id)).toEqual(['c']);
      expect(store.listRuns({ limit: 0 })).toEqual([]);
    });

    it('deletes a run with everything that belongs to it', () => {
      mkRun({ id: 'r1' });
      mkRun({ id: 'r2' });
      store.upsertSubtask({ runId: 'r1', id: 's1' });
      store.upsertWorker({ runId: 'r1', workerId: 'w1' });
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'merged', sha: 'abc' });
      store.addCommand({ runId: 'r1', worktree: '/w', command: 'ls', allowed: true });
      store.addCommand({ runId: 'r2', worktree: '/w', command: 'pwd', allowed: true });
      store.appendEvent('r1', { type: 'x' });
      expect(store.deleteRun('r1')).toBe(true);
      expect(store.deleteRun('r1')).toBe(false);
      expect(store.getRun('r1')).toBeUndefined();
      expect(store.listSubtasks('r1')).toEqual([]);
      expect(store.listWorkers('r1')).toEqual([]);
      expect(store.listMerges('r1')).toEqual([]);
      expect(store.listEvents('r1')).toEqual([]);
      expect(store.hasMerged('r1', 'task-a')).toBe(false);
      expect(store.listCommands().map((c) => c.command)).toEqual(['pwd']);
    });
  });

  describe('id prefix resolution', () => {
    beforeEach(() => {
      mkRun({ id: '20261130-001523-ab12cd' });
      mkRun({ id: '20261130-001523-ab34ef' });
      mkRun({ id: '20261201-093000-77aa00' });
    });

    it('resolves an exact id, a unique prefix, and a unique prefix of the random suffix', () => {
      expect(store.getRun('20261130-001523-ab12cd')?.id).toBe('20261130-001523-ab12cd');
      expect(store.getRun('20261201')?.id).toBe('20261201-093000-77aa00');
      expect(store.getRun('ab12')?.id).toBe('20261130-001523-ab12cd');
      expect(store.getRun('77a')?.id).toBe('20261201-093000-77aa00');
      expect(store.requireRun('ab3').id).toBe('20261130-001523-ab34ef');
    });

    it('an ambiguous prefix is a StoreError listing the candidates', () => {
      const e = thrown(() => store.getRun('ab'));
      expect(e.message).toMatch(/ambiguous/);
      expect(e.message).toContain('20261130-001523-ab12cd');
      expect(e.message).toContain('20261130-001523-ab34ef');
      expect(e.context.candidates).toEqual(['20261130-001523-ab12cd', '20261130-001523-ab34ef']);
      expect(thrown(() => store.getRun('2026')).message).toMatch(/matches 3 runs/);
    });

    it('no match is undefined for getRun and a StoreError for requireRun', () => {
      expect(store.getRun('zzz')).toBeUndefined();
      expect(store.getRun('')).toBeUndefined();
      expect(store.getRun('%')).toBeUndefined();
      expect(store.getRun('_')).toBeUndefined();
      expect(thrown(() => store.requireRun('zzz')).hint).toMatch(/runs list/);
    });

    it('does not match the middle (time) segment', () => {
      expect(store.getRun('0015')).toBeUndefined();
    });
  });

  describe('idempotency by task key', () => {
    it('finds a run by task key and refuses a second run for it', () => {
      const run = mkRun({ taskKey: 'k1' });
      expect(store.findRunByTaskKey('k1')?.id).toBe(run.id);
      expect(store.findRunByTaskKey('k2')).toBeUndefined();
      const e = thrown(() => mkRun({ taskKey: 'k1' }));
      expect(e.context.runId).toBe(run.id);
      expect(store.listRuns()).toHaveLength(1);
    });

    it('ensureRun creates once and then returns the existing run', () => {
      const first = store.ensureRun({ taskKey: 'k1', task: 't', baseDir: '/b' });
      const second = store.ensureRun({ taskKey: 'k1', task: 'other text', baseDir: '/b' });
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.run).toEqual(first.run);
    });
  });

  describe('subtasks', () => {
    beforeEach(() => void mkRun({ id: 'r1' }));

    it('inserts with defaults and merges later upserts', () => {
      const s = store.upsertSubtask({ runId: 'r1', id: 't1' });
      expect(s).toMatchObject({
        runId: 'r1',
        id: 't1',
        title: 't1',
        kind: 'feature',
        status: 'pending',
        files: ['**'],
        dependsOn: [],
        attempts: 0,
        position: 0,
      });
      store.upsertSubtask({
        runId: 'r1',
        id: 't2',
        title: 'Second',
        kind: 'tests',
        phase: 'Phase 1',
        prompt: 'write tests',
        acceptance: 'npm test',
        files: ['test/**'],
        dependsOn: ['t1'],
      });
      const running = store.upsertSubtask({
        runId: 'r1',
        id: 't2',
        status: 'running',
        worktree: '/b/task-second',
        branch: 'task-second',
        threadId: 'th-1',
        attempts: 1,
        startedAt: '2026-01-01T00:00:00.000Z',
        reason: 'first try',
      });
      expect(running).toMatchObject({
        title: 'Second',
        kind: 'tests',
        phase: 'Phase 1',
        prompt: 'write tests',
        acceptance: 'npm test',
        files: ['test/**'],
        dependsOn: ['t1'],
        status: 'running',
        worktree: '/b/task-second',
        branch: 'task-second',
        threadId: 'th-1',
        attempts: 1,
        position: 1,
        reason: 'first try',
      });
      const cleared = store.upsertSubtask({ runId: 'r1', id: 't2', status: 'merged', reason: null, endedAt: '2026-01-01T00:01:00.000Z' });
      expect(cleared.reason).toBeUndefined();
      expect(cleared.threadId).toBe('th-1');
      expect(store.getSubtask('r1', 't2')).toEqual(cleared);
      expect(store.getSubtask('r1', 'nope')).toBeUndefined();
    });

    it('lists by position then id', () => {
      store.upsertSubtask({ runId: 'r1', id: 'b', position: 2 });
      store.upsertSubtask({ runId: 'r1', id: 'a', position: 2 });
      store.upsertSubtask({ runId: 'r1', id: 'z', position: 0 });
      expect(store.listSubtasks('r1').map((s) => s.id)).toEqual(['z', 'a', 'b']);
    });

    it('refuses an unknown run and a bad status, writing nothing', () => {
      expect(thrown(() => store.upsertSubtask({ runId: 'nope', id: 't1' })).message).toMatch(/no run/);
      expect(thrown(() => store.upsertSubtask({ runId: 'r1', id: 't1', status: 'done' as never })).message).toMatch(
        /invalid subtask status/,
      );
      expect(store.listSubtasks('r1')).toEqual([]);
    });
  });

  describe('workers', () => {
    beforeEach(() => void mkRun({ id: 'r1' }));

    it('inserts, merges and lists by start time', () => {
      store.upsertWorker({ runId: 'r1', workerId: 'w2', startedAt: '2026-01-01T00:00:02.000Z' });
      store.upsertWorker({ runId: 'r1', workerId: 'w3' });
      const w1 = store.upsertWorker({
        runId: 'r1',
        workerId: 'w1',
        subtaskId: 't1',
        status: 'running',
        threadId: 'th',
        runDir: '/s/runs/r1/workers/w1',
        profile: 'default',
        startedAt: '2026-01-01T00:00:01.000Z',
      });
      expect(w1).toMatchObject({ status: 'running', subtaskId: 't1', threadId: 'th', profile: 'default' });
      const done = store.upsertWorker({
        runId: 'r1',
        workerId: 'w1',
        status: 'succeeded',
        usage: { input: 100, output: 20, cachedInput: 50 },
        exitCode: 0,
        endedAt: '2026-01-01T00:05:00.000Z',
      });
      expect(done).toMatchObject({ status: 'succeeded', threadId: 'th', usage: { input: 100, output: 20, cachedInput: 50 }, exitCode: 0 });
      expect(store.listWorkers('r1').map((w) => w.workerId)).toEqual(['w1', 'w2', 'w3']);
      expect(store.getWorker('r1', 'w3')?.status).toBe('starting');
      expect(store.upsertWorker({ runId: 'r1', workerId: 'w1', usage: null, exitCode: null }).usage).toBeUndefined();
      expect(thrown(() => store.upsertWorker({ runId: 'r1', workerId: 'w1', status: 'nah' as never })).message).toMatch(
        /invalid worker status/,
      );
    });
  });

  describe('merges', () => {
    beforeEach(() => void mkRun({ id: 'r1' }));

    it('records attempts in order and knows what is merged', () => {
      expect(store.hasMerged('r1', 'task-a')).toBe(false);
      store.addMerge({ runId: 'r1', branch: 'task-a', subtaskId: 'a', outcome: 'conflict', detail: 'src/x.ts' });
      expect(store.hasMerged('r1', 'task-a')).toBe(false);
      const m = store.addMerge({ runId: 'r1', branch: 'task-a', subtaskId: 'a', outcome: 'merged', sha: 'abc123' });
      expect(m).toMatchObject({ runId: 'r1', branch: 'task-a', subtaskId: 'a', outcome: 'merged', sha: 'abc123' });
      expect(store.hasMerged('r1', 'task-a')).toBe(true);
      expect(store.hasMerged('r1', 'task-b')).toBe(false);
      const merges = store.listMerges('r1');
      expect(merges.map((x) => x.outcome)).toEqual(['conflict', 'merged']);
      expect(merges[0]!.id).toBeLessThan(merges[1]!.id);
    });

    it('refuses to record a second merge of a merged branch', () => {
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'merged', sha: 'abc' });
      const e = thrown(() => store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'merged', sha: 'def' }));
      expect(e.message).toMatch(/already merged/);
      expect(store.listMerges('r1')).toHaveLength(1);
    });

    it('a reverted merge can be merged again', () => {
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'merged', sha: 'abc' });
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'smoke-failed', detail: 'npm test failed' });
      expect(store.hasMerged('r1', 'task-a')).toBe(true);
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'reverted', sha: 'rev' });
      expect(store.hasMerged('r1', 'task-a')).toBe(false);
      store.addMerge({ runId: 'r1', branch: 'task-a', outcome: 'merged', sha: 'abc2' });
      expect(store.hasMerged('r1', 'task-a')).toBe(true);
    });

    it('refuses an unknown run and outcome', () => {
      expect(thrown(() => store.addMerge({ runId: 'nope', branch: 'b', outcome: 'merged' })).message).toMatch(/no run/);
      expect(thrown(() => store.addMerge({ runId: 'r1', branch: 'b', outcome: 'yay' as never })).message).toMatch(/invalid merge outcome/);
    });
  });

  describe('commands', () => {
    it('records commands with and without a run, lists by run, since id, and the last N', () => {
      mkRun({ id: 'r1' });
      const c1 = store.addCommand({
        runId: 'r1',
        worktree: '/b/main',
        command: 'git status',
        allowed: true,
        rule: 'git-read',
        exitCode: 0,
        durationMs: 12.6,
      });
      expect(c1).toMatchObject({ runId: 'r1', allowed: true, rule: 'git-read', exitCode: 0, durationMs: 13, dryRun: false });
      const c2 = store.addCommand({
        worktree: '/b/main',
        command: 'rm -rf /',
        allowed: false,
        rule: 'deny-rm',
        reason: 'no',
        dryRun: true,
      });
      expect(c2.runId).toBeUndefined();
      expect(c2.exitCode).toBeUndefined();
      store.addCommand({ runId: 'r1', worktree: '/b/main', command: 'ls', allowed: true, exitCode: null });
      expect(store.listCommands().map((c) => c.command)).toEqual(['git status', 'rm -rf /', 'ls']);
      expect(store.listCommands({ runId: 'r1' }).map((c) => c.command)).toEqual(['git status', 'ls']);
      expect(store.listCommands({ sinceId: c1.id }).map((c) => c.command)).toEqual(['rm -rf /', 'ls']);
      expect(store.listCommands({ limit: 2 }).map((c) => c.command)).toEqual(['rm -rf /', 'ls']);
      expect(thrown(() => store.addCommand({ runId: 'nope', worktree: '/', command: 'ls', allowed: true })).message).toMatch(/no run/);
    });
  });

  describe('events', () => {
    beforeEach(() => void mkRun({ id: 'r1' }));

    it('numbers events per run from 1 and lists since a seq', () => {
      mkRun({ id: 'r2' });
      const e1 = store.appendEvent('r1', { type: 'run.started', data: { task: 't' } });
      store.appendEvent('r2', { type: 'other' });
      const e2 = store.appendEvent('r1', { type: 'worker.event', workerId: 'w1', data: [1, 2] });
      store.appendEvent('r1', { type: 'worker.event', workerId: 'w2', data: 'x', ts: '2026-01-01T00:00:00.000Z' });
      expect(e1).toMatchObject({ runId: 'r1', seq: 1, type: 'run.started', data: { task: 't' } });
      expect(e2.seq).toBe(2);
      expect(store.appendEvent('r2', { type: 'other' }).seq).toBe(2);
      expect(store.lastEventSeq('r1')).toBe(3);
      expect(store.lastEventSeq('nope')).toBe(0);
      expect(store.listEvents('r1').map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(store.listEvents('r1', { since: 1 }).map((e) => e.seq)).toEqual([2, 3]);
      expect(store.listEvents('r1', { since: 1, limit: 1 }).map((e) => e.seq)).toEqual([2]);
      expect(store.listEvents('r1', { workerId: 'w2' })).toEqual([
        { runId: 'r1', seq: 3, ts: '2026-01-01T00:00:00.000Z', type: 'worker.event', workerId: 'w2', data: 'x' },
      ]);
    });

    it('stores data as JSON (undefined becomes null)', () => {
      expect(store.appendEvent('r1', { type: 'x' }).data).toBeNull();
      expect(store.appendEvent('r1', { type: 'x', data: { a: undefined, d: new Date(0) } }).data).toEqual({
        d: '1970-01-01T00:00:00.000Z',
      });
    });

    it('refuses events of an unknown run', () => {
      expect(thrown(() => store.appendEvent('nope', { type: 'x' })).message).toMatch(/no run/);
    });
  });

  describe('locks', () => {
    const req = (owner: string, at = '2026-01-01T00:00:00.000Z') => ({
      key: 'run:r1',
      owner,
      pid: 123,
      hostname: 'h',
      runId: 'r1',
      at,
    });

    it('acquires a free lock, refuses a live holder, lets the owner re-acquire', () => {
      const a = store.tryAcquireLock(req('A'), () => false);
      expect(a).toEqual({
        acquired: true,
        lock: { key: 'run:r1', owner: 'A', pid: 123, hostname: 'h', runId: 'r1', acquiredAt: req('A').at, heartbeatAt: req('A').at },
      });
      const b = store.tryAcquireLock(req('B'), () => false);
      expect(b.acquired).toBe(false);
      if (!b.acquired) expect(b.holder.owner).toBe('A');
      const again = store.tryAcquireLock(req('A', '2026-01-01T00:00:05.000Z'), () => false);
      expect(again.acquired && again.lock.heartbeatAt).toBe('2026-01-01T00:00:05.000Z');
    });

    it('takes over when the predicate says the holder is gone, and reports the previous holder', () => {
      store.tryAcquireLock(req('A'), () => false);
      const seen: string[] = [];
      const b = store.tryAcquireLock(req('B', '2026-01-01T00:01:00.000Z'), (holder) => {
        seen.push(holder.owner);
        return true;
      });
      expect(seen).toEqual(['A']);
      expect(b.acquired).toBe(true);
      if (b.acquired) {
        expect(b.previous?.owner).toBe('A');
        expect(b.lock.owner).toBe('B');
        expect(b.lock.acquiredAt).toBe('2026-01-01T00:01:00.000Z');
      }
    });

    it('heartbeats and releases only as the owner', () => {
      store.tryAcquireLock(req('A'), () => false);
      expect(store.heartbeatLock('run:r1', 'B', '2026-01-01T00:00:09.000Z')).toBe(false);
      expect(store.heartbeatLock('run:r1', 'A', '2026-01-01T00:00:10.000Z')).toBe(true);
      expect(store.getLock('run:r1')?.heartbeatAt).toBe('2026-01-01T00:00:10.000Z');
      expect(store.releaseLock('run:r1', 'B')).toBe(false);
      expect(store.listLocks().map((l) => l.key)).toEqual(['run:r1']);
      expect(store.releaseLock('run:r1', 'A')).toBe(true);
      expect(store.getLock('run:r1')).toBeUndefined();
      store.tryAcquireLock(req('C'), () => false);
      expect(store.releaseLock('run:r1', undefined)).toBe(true);
      expect(store.listLocks()).toEqual([]);
    });
  });

  describe('transactions', () => {
    it('commits everything together', () => {
      const id = store.transaction(() => {
        const run = mkRun({ id: 'r1' });
        store.upsertSubtask({ runId: run.id, id: 's1' });
        store.appendEvent(run.id, { type: 'plan.accepted' });
        return run.id;
      });
      expect(id).toBe('r1');
      expect(store.listSubtasks('r1')).toHaveLength(1);
      expect(store.lastEventSeq('r1')).toBe(1);
    });

    it('rolls everything back on a throw and rethrows', () => {
      mkRun({ id: 'r0' });
      expect(() =>
        store.transaction(() => {
          mkRun({ id: 'r1' });
          store.updateRun('r0', { status: 'running' });
          store.appendEvent('r0', { type: 'x' });
          store.addMerge({ runId: 'r0', branch: 'b', outcome: 'merged' });
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(store.getRun('r1')).toBeUndefined();
      expect(store.getRun('r0')?.status).toBe('pending');
      expect(store.lastEventSeq('r0')).toBe(0);
      expect(store.hasMerged('r0', 'b')).toBe(false);
      // Ids and seqs keep working after a rollback.
      expect(store.appendEvent('r0', { type: 'y' }).seq).toBe(1);
    });

    it('a failed store call inside a transaction can be caught without losing the rest', () => {
      mkRun({ id: 'r0' });
      store.transaction(() => {
        store.appendEvent('r0', { type: 'a' });
        try {
          store.upsertSubtask({ runId: 'r0', id: 's', status: 'bad' as never });
        } catch {
          /* expected */
        }
        store.appendEvent('r0', { type: 'b' });
      });
      expect(store.listEvents('r0').map((e) => e.type)).toEqual(['a', 'b']);
    });

    it('nested transactions join the outer one', () => {
      expect(() =>
        store.transaction(() => {
          store.transaction(() => mkRun({ id: 'inner' }));
          throw new Error('outer fails');
        }),
      ).toThrow('outer fails');
      expect(store.getRun('inner')).toBeUndefined();
    });

    it('refuses an async function and rolls back what it wrote', () => {
      const e = thrown(() =>
        store.transaction(() => {
          mkRun({ id: 'r1' });
          return Promise.resolve(1);
        }),
      );
      expect(e.message).toMatch(/synchronous/);
      expect(store.getRun('r1')).toBeUndefined();
    });
  });

  it('a closed store refuses calls with a StoreError', () => {
    store.close();
    expect(thrown(() => store.listRuns()).message).toMatch(/closed/);
    store.close();
  });
});
