/**
 * Run locks: one process drives a run at a time, and one run works a base dir at
 * a time. A lock is a row in the store's lock table with the holder's pid,
 * hostname and a heartbeat the holder refreshes on an unref'd timer. A second
 * acquirer is refused while the holder is live (its pid exists AND its heartbeat
 * is fresh); a lock whose process died, or whose heartbeat is older than
 * `staleAfterMs` (a hung process, or a reused pid), is taken over and the
 * takeover is reported on the handle. Check and takeover are one transaction.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError } from '../errors.js';
import { isPidAlive } from './pid.js';
import { STATE_DB, openSqliteStore } from './sqlite-store.js';
import type { LockRecord, Store } from './types.js';
import { definedProps } from '../defined-props.js';

export const DEFAULT_STALE_AFTER_MS = 30_000;

export interface LockOptions {
  /** A heartbeat older than this makes the lock stale; default 30 000 ms. */
  staleAfterMs?: number;
  /** Auto-heartbeat period; default staleAfterMs / 3. 0 turns the timer off (call heartbeat() yourself). */
  heartbeatMs?: number;
  /** Called once when an auto-heartbeat finds the lock taken by someone else. */
  onLost?: (error: StoreError) => void;
  /** For tests. */
  now?: () => Date;
  /** For tests; default `isPidAlive`. */
  isPidAlive?: (pid: number) => boolean;
  /** For tests; default process.pid. */
  pid?: number;
}

export type StaleReason = 'dead-pid' | 'stale-heartbeat';

/** The lock that was taken over, and why. */
export interface LockTakeover {
  pid: number;
  hostname: string;
  runId?: string;
  acquiredAt: string;
  heartbeatAt: string;
  reason: StaleReason;
}

export interface LockHandle {
  readonly key: string;
  readonly owner: string;
  readonly pid: number;
  readonly acquiredAt: string;
  /** Set when a stale lock was taken over: report it. */
  readonly tookOver: LockTakeover | undefined;
  /** Set once the lock was found taken by someone else. */
  readonly lost: StoreError | undefined;
  /** Refreshes the heartbeat now; StoreError when the lock was lost or released. */
  heartbeat(): void;
  /** Releases the lock (idempotent; never throws). Also done on process exit. */
  release(): void;
}

export const runLockKey = (runId: string): string => `run:${runId}`;

/** The absolute, symlink-resolved base dir (as far as it exists). */
export function normalizeBaseDir(baseDir: string): string {
  const abs = path.resolve(baseDir);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}

export const baseDirLockKey = (baseDir: string): string => `basedir:${normalizeBaseDir(baseDir)}`;

export { isPidAlive };

export interface StalenessOptions {
  staleAfterMs?: number;
  now?: Date;
  isPidAlive?: (pid: number) => boolean;
}

/**
 * Why a lock is stale, or undefined when its holder is live. The pid is only
 * checked for locks of this host; other hosts' locks go by heartbeat alone.
 */
export function lockStaleness(lock: LockRecord, options: StalenessOptions = {}): StaleReason | undefined {
  const alive = options.isPidAlive ?? isPidAlive;
  if (lock.hostname === os.hostname() && !alive(lock.pid)) return 'dead-pid';
  const age = (options.now ?? new Date()).getTime() - Date.parse(lock.heartbeatAt);
  if (!(age <= (options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS))) return 'stale-heartbeat';
  return undefined;
}

/** Removes stale locks (for `runs prune`); returns the ones removed. */
export function pruneStaleLocks(store: Store, options: StalenessOptions = {}): LockRecord[] {
  return store.transaction(() => {
    const removed: LockRecord[] = [];
    for (const lock of store.listLocks()) {
      if (lockStaleness(lock, options) !== undefined && store.releaseLock(lock.key, lock.owner)) removed.push(lock);
    }
    return removed;
  });
}

/** Releases of the locks this process holds, run on exit by one listener (not one per lock). */
const heldLocks = new Set<() => void>();
let exitHookInstalled = false;

function onProcessExit(): void {
  for (const release of [...heldLocks]) release();
}

function trackHeld(release: () => void): void {
  heldLocks.add(release);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', onProcessExit);
  }
}

function describeAge(fromIso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(fromIso)) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

function openTarget(target: Store | string): { store: Store; owned: boolean } {
  return typeof target === 'string' ? { store: openSqliteStore(target), owned: true } : { store: target, owned: false };
}

function acquire(
  target: Store | string,
  key: string,
  runId: string | undefined,
  options: LockOptions,
  refuse: (holder: LockRecord, now: Date) => StoreError,
): LockHandle {
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (!(staleAfterMs > 0)) throw new StoreError(`staleAfterMs must be positive, got ${staleAfterMs}`);
  const now = options.now ?? (() => new Date());
  const pid = options.pid ?? process.pid;
  const owner = crypto.randomUUID();
  const { store, owned } = openTarget(target);

  let attempt;
  let reason: StaleReason | undefined;
  try {
    const at = now();
    attempt = store.tryAcquireLock(
      { key, owner, pid, hostname: os.hostname(), at: at.toISOString(), ...definedProps({ runId }) },
      (holder) => {
        reason = lockStaleness(holder, {
          staleAfterMs,
          now: at,
          isPidAlive: options.isPidAlive,
        });
        return reason !== undefined;
      },
    );
    if (!attempt.acquired) throw refuse(attempt.holder, at);
  } catch (e) {
    if (owned) store.close();
    throw e;
  }

  const previous = attempt.previous;
  const tookOver: LockTakeover | undefined =
    previous && reason
      ? {
          pid: previous.pid,
          hostname: previous.hostname,
          ...definedProps({ runId: previous.runId }),
          acquiredAt: previous.acquiredAt,
          heartbeatAt: previous.heartbeatAt,
          reason,
        }
      : undefined;

  let lost: StoreError | undefined;
  let released = false;
  let timer: NodeJS.Timeout | undefined;

  const lostError = (): StoreError => {
    let holder: LockRecord | undefined;
    try {
      holder = store.getLock(key);
    } catch {
      /* ignore */
    }
    return new StoreError(
      holder ? `lost the lock ${key}: taken over by pid ${holder.pid} at ${holder.acquiredAt}` : `lost the lock ${key}: it was removed`,
      { hint: 'stop working on it; another process owns it now', context: { key, holder } },
    );
  };

  const stopTimer = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  function heartbeat(): void {
    if (released) throw new StoreError(`the lock ${key} was released`);
    if (lost) throw lost;
    if (!store.heartbeatLock(key, owner, now().toISOString())) {
      lost = lostError();
      stopTimer();
      throw lost;
    }
  }

  function release(): void {
    if (released) return;
    released = true;
    stopTimer();
    heldLocks.delete(release);
    try {
      if (!lost) store.releaseLock(key, owner);
    } catch {
      /* the process is giving the lock up; a leftover row is stale once the pid is gone */
    }
    if (owned) {
      try {
        store.close();
      } catch {
        /* ignore */
      }
    }
  }

  const period = options.heartbeatMs ?? Math.max(1, Math.floor(staleAfterMs / 3));
  if (period > 0) {
    timer = setInterval(() => {
      try {
        heartbeat();
      } catch (e) {
        if (lost) {
          options.onLost?.(lost);
        } else if (e instanceof StoreError && /closed/.test(e.message)) {
          stopTimer();
        }
        // Other errors (a busy database) are retried on the next tick.
      }
    }, period);
    timer.unref();
  }
  trackHeld(release);

  return {
    key,
    owner,
    pid,
    acquiredAt: attempt.lock.acquiredAt,
    tookOver,
    get lost() {
      return lost;
    },
    heartbeat,
    release,
  };
}

/**
 * Locks a run for this process (resume, run, merge). A live holder → StoreError
 * "run X is being resumed by pid N since …"; a stale lock is taken over and
 * described in `tookOver`. `target` is a store, or a state dir whose store the
 * handle opens and closes.
 */
export function acquireRunLock(target: Store | string, runId: string, options: LockOptions = {}): LockHandle {
  return acquire(target, runLockKey(runId), runId, options, (holder, now) => {
    const where = holder.hostname === os.hostname() ? '' : ` on ${holder.hostname}`;
    return new StoreError(
      `run ${runId} is being resumed by pid ${holder.pid}${where} since ${holder.acquiredAt} (last heartbeat ${describeAge(holder.heartbeatAt, now)})`,
      {
        hint: `wait for it to finish or stop pid ${holder.pid}; a lock whose process has died is taken over automatically`,
        context: { runId, pid: holder.pid, hostname: holder.hostname, since: holder.acquiredAt, heartbeatAt: holder.heartbeatAt },
      },
    );
  });
}

/**
 * Locks a base dir for one run, so two runs never work the same base dir at
 * once. Keyed by the absolute, symlink-resolved directory.
 */
export function acquireBaseDirLock(target: Store | string, baseDir: string, options: LockOptions & { runId?: string } = {}): LockHandle {
  const dir = normalizeBaseDir(baseDir);
  return acquire(target, baseDirLockKey(dir), options.runId, options, (holder, now) => baseDirBusyError(dir, holder, now));
}

function baseDirBusyError(dir: string, holder: LockRecord, now: Date): StoreError {
  const by = holder.runId ? `run ${holder.runId} (pid ${holder.pid})` : `pid ${holder.pid}`;
  return new StoreError(
    `base dir ${dir} is in use by ${by} since ${holder.acquiredAt} (last heartbeat ${describeAge(holder.heartbeatAt, now)})`,
    {
      hint: 'wait for that run to finish, or use another base dir',
      context: { baseDir: dir, runId: holder.runId, pid: holder.pid, since: holder.acquiredAt },
    },
  );
}

/**
 * Refuses at once, with the same error acquireBaseDirLock would give, when a
 * live run holds the base dir. Reads only: no lock is taken, a stale one is
 * left for the run to take over, and a state dir without a store is free.
 */
export function assertBaseDirFree(stateDir: string, baseDir: string, options: StalenessOptions = {}): void {
  if (!fs.existsSync(path.join(stateDir, STATE_DB))) return;
  const dir = normalizeBaseDir(baseDir);
  const store = openSqliteStore(stateDir);
  try {
    const holder = store.getLock(baseDirLockKey(dir));
    if (holder && lockStaleness(holder, options) === undefined) throw baseDirBusyError(dir, holder, options.now ?? new Date());
  } finally {
    store.close();
  }
}
