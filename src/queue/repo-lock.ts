/**
 * A Redis lock per repository, so the `tasks` queue runs one task per
 * repository at a time across every dispatcher machine. BullMQ's per-group
 * concurrency is a paid feature; a lock of our own is small: `SET NX PX`
 * with a random token, renewed while the task runs, released (only by its
 * holder) in `finally`. A dead holder's lock expires after `ttlMs`.
 */
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** False once a renewal found the lock gone (expired and taken): the holder should stop. */
  readonly held: boolean;
  release(): Promise<void>;
}

export function repoLockKey(prefix: string, repoId: string): string {
  return `${prefix}:repo-lock:${repoId}`;
}

/** Takes the lock or returns null when another holder has it. Renews every ttl/3 until released. */
export async function tryRepoLock(redis: Redis, key: string, ttlMs: number): Promise<HeldLock | null> {
  const token = crypto.randomBytes(12).toString('hex');
  const ok = await redis.set(key, token, 'PX', ttlMs, 'NX');
  if (ok !== 'OK') return null;
  let held = true;
  const timer = setInterval(
    () => {
      redis.eval(RENEW, 1, key, token, String(ttlMs)).then(
        (r) => {
          if (Number(r) !== 1) held = false;
        },
        () => undefined, // Redis away for a moment: the next renewal tries again; the ttl covers the gap.
      );
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    key,
    token,
    get held() {
      return held;
    },
    release: async () => {
      clearInterval(timer);
      held = false;
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    },
  };
}
