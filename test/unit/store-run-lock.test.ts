import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import {
  acquireBaseDirLock,
  acquireRunLock,
  baseDirLockKey,
  openStore,
  isPidAlive,
  lockStaleness,
  openSqliteStore,
  pruneStaleLocks,
  runLockKey,
  type LockHandle,
  type Store,
} from '../../src/store/index.js';

let dir: string;
let store: Store;
const handles: LockHandle[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-lock-'));
  store = openSqliteStore(dir);
});
afterEach(() => {
  for (const h of handles.splice(0)) h.release();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A clock the test moves by hand. */
function clock(start = Date.parse('2026-01-01T00:00:00.000Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

function keep(h: LockHandle): LockHandle {
  handles.push(h);
  return h;
}

function refusal(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('expected a StoreError');
}

describe('isPidAlive', () => {
  it('knows this process is alive and nonsense pids are not', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(0)).toBe(false);
    expect(isPidAlive(-1)).toBe(false);
    expect(isPidAlive(1.5)).toBe(false);
  });
});

describe('lockStaleness', () => {
  const lock = {
    key: 'run:r',
    owner: 'o',
    pid: 10,
    hostname: os.hostname(),
    acquiredAt: '2026-01-01T00:00:00.000Z',
    heartbeatAt: '2026-01-01T00:00:00.000Z',
  };
  const now = new Date('2026-01-01T00:00:10.000Z');
  it('live: pid alive and heartbeat fresh', () => {
    expect(lockStaleness(lock, { now, staleAfterMs: 10_000, isPidAlive: () => true })).toBeUndefined();
  });
  it('dead pid', () => {
    expect(lockStaleness(lock, { now, staleAfterMs: 10_000, isPidAlive: () => false })).toBe('dead-pid');
  });
  it('old heartbeat', () => {
    expect(lockStaleness(lock, { now, staleAfterMs: 9_999, isPidAlive: () => true })).toBe('stale-heartbeat');
  });
  it('another host: heartbeat only', () => {
    const other = { ...lock, hostname: `${os.hostname()}-elsewhere` };
    expect(lockStaleness(other, { now, staleAfterMs: 10_000, isPidAlive: () => false })).toBeUndefined();
    expect(lockStaleness(other, { now, staleAfterMs: 1_000, isPidAlive: () => true })).toBe('stale-heartbeat');
  });
  it('an unreadable heartbeat is stale', () => {
    expect(lockStaleness({ ...lock, heartbeatAt: 'garbage' }, { now, isPidAlive: () => true })).toBe('stale-heartbeat');
  });
});

describe.each([
  ['sqlite', () => store],
  ['memory', () => openStore({ memory: true })],
])('acquireRunLock on the %s store', (_name, target) => {
  it('refuses a second acquirer while the holder is live, with pid and since in the message', () => {
    const s = target();
    const c = clock();
    const first = keep(acquireRunLock(s, 'r1', { now: c.now, heartbeatMs: 0, pid: 4242, isPidAlive: () => true }));
    expect(first.tookOver).toBeUndefined();
    expect(s.getLock(runLockKey('r1'))).toMatchObject({ pid: 4242, runId: 'r1', acquiredAt: '2026-01-01T00:00:00.000Z' });
    c.advance(5_000);
    const e = refusal(() => acquireRunLock(s, 'r1', { now: c.now, heartbeatMs: 0, isPidAlive: () => true }));
    expect(e.message).toBe('run r1 is being resumed by pid 4242 since 2026-01-01T00:00:00.000Z (last heartbeat 5s ago)');
    expect(e.context).toMatchObject({ runId: 'r1', pid: 4242 });
    // Another run is not affected.
    keep(acquireRunLock(s, 'r2', { now: c.now, heartbeatMs: 0 }));
  });

  it('takes over a lock whose pid is dead and reports it', () => {
    const s = target();
    const c = clock();
    const dead = acquireRunLock(s, 'r1', { now: c.now, heartbeatMs: 0, pid: 999_999 });
    const second = keep(acquireRunLock(s, 'r1', { now: c.now, heartbeatMs: 0, isPidAlive: (pid) => pid !== 999_999 }));
    expect(second.tookOver).toMatchObject({ pid: 999_999, reason: 'dead-pid', runId: 'r1' });
    expect(s.getLock(runLockKey('r1'))?.owner).toBe(second.owner);
    // The old handle finds out it lost the lock.
    expect(() => dead.heartbeat()).toThrow(/lost the lock run:r1: taken over by pid/);
    expect(dead.lost).toBeInstanceOf(StoreError);
    dead.release();
    expect(s.getLock(runLockKey('r1'))?.owner).toBe(second.owner);
  });

  it('takes over a lock whose heartbeat is old, but not one kept fresh', () => {
    const s = target();
    const c = clock();
    const alive = () => true;
    const holder = acquireRunLock(s, 'r1', { now: c.now, staleAfterMs: 10_000, heartbeatMs: 0, isPidAlive: alive });
    c.advance(8_000);
    holder.heartbeat();
    c.advance(8_000);
    expect(() => acquireRunLock(s, 'r1', { now: c.now, staleAfterMs: 10_000, heartbeatMs: 0, isPidAlive: alive })).toThrow(/being resumed/);
    c.advance(3_000);
    const next = keep(acquireRunLock(s, 'r1', { now: c.now, staleAfterMs: 10_000, heartbeatMs: 0, isPidAlive: alive }));
    expect(next.tookOver?.reason).toBe('stale-heartbeat');
    holder.release();
  });

  it('release frees the lock, is idempotent, and heartbeat after release throws', () => {
    const s = target();
    const h = acquireRunLock(s, 'r1', { heartbeatMs: 0 });
    h.release();
    h.release();
    expect(s.getLock(runLockKey('r1'))).toBeUndefined();
    expect(() => h.heartbeat()).toThrow(/released/);
    keep(acquireRunLock(s, 'r1', { heartbeatMs: 0 }));
  });

  it('the same process cannot hold one run twice', () => {
    const s = target();
    keep(acquireRunLock(s, 'r1', { heartbeatMs: 0 }));
    expect(() => acquireRunLock(s, 'r1', { heartbeatMs: 0 })).toThrow(new RegExp(`pid ${process.pid}`));
  });
});

describe('acquireRunLock with a state dir', () => {
  it('opens and closes its own store', () => {
    const h = acquireRunLock(dir, 'r1', { heartbeatMs: 0 });
    expect(store.getLock(runLockKey('r1'))?.pid).toBe(process.pid);
    expect(() => acquireRunLock(dir, 'r1', { heartbeatMs: 0 })).toThrow(/being resumed/);
    h.release();
    expect(store.getLock(runLockKey('r1'))).toBeUndefined();
  });
});

describe('auto heartbeat', () => {
  it('moves the heartbeat on its own and stops at release', async () => {
    const h = acquireRunLock(store, 'r1', { heartbeatMs: 5 });
    const first = store.getLock(runLockKey('r1'))!.heartbeatAt;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (store.getLock(runLockKey('r1'))!.heartbeatAt !== first) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    h.release();
    expect(store.getLock(runLockKey('r1'))).toBeUndefined();
  });

  it('reports a lost lock through onLost', async () => {
    const lost = new Promise<StoreError>((resolve) => {
      keep(acquireRunLock(store, 'r1', { heartbeatMs: 5, onLost: resolve }));
    });
    store.releaseLock(runLockKey('r1'), undefined);
    const e = await lost;
    expect(e.message).toMatch(/lost the lock run:r1: it was removed/);
  });
});

describe('acquireBaseDirLock', () => {
  it('keys by the resolved absolute dir and names the holding run', () => {
    const base = path.join(dir, 'base');
    fs.mkdirSync(base);
    const link = path.join(dir, 'link');
    fs.symlinkSync(base, link);
    keep(acquireBaseDirLock(store, base, { runId: 'r1', heartbeatMs: 0, pid: 4242, isPidAlive: () => true }));
    expect(baseDirLockKey(link)).toBe(baseDirLockKey(base));
    expect(baseDirLockKey(`${base}/`)).toBe(`basedir:${fs.realpathSync(base)}`);
    const e = refusal(() => acquireBaseDirLock(store, `${link}/`, { runId: 'r2', heartbeatMs: 0, isPidAlive: () => true }));
    expect(e.message).toMatch(new RegExp(`^base dir ${fs.realpathSync(base)} is in use by run r1 \\(pid 4242\\) since `));
    // A run lock and a base-dir lock do not interfere.
    keep(acquireRunLock(store, 'r1', { heartbeatMs: 0 }));
    const other = path.join(dir, 'other');
    keep(acquireBaseDirLock(store, other, { runId: 'r2', heartbeatMs: 0 }));
  });
});

describe('pruneStaleLocks', () => {
  it('removes stale locks only', () => {
    keep(acquireRunLock(store, 'live', { heartbeatMs: 0 }));
    acquireRunLock(store, 'dead', { heartbeatMs: 0, pid: 999_999 });
    const removed = pruneStaleLocks(store, { isPidAlive: (pid) => pid !== 999_999 });
    expect(removed.map((l) => l.key)).toEqual(['run:dead']);
    expect(store.listLocks().map((l) => l.key)).toEqual(['run:live']);
  });
});
