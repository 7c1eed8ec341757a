/**
 * In-process FIFO locks keyed by repository. Git fails rather than waits when
 * two commands race for the same lock file (`index.lock`, a ref lock, the
 * worktree admin dir), so the program's own writes to one repository take turns.
 */

const tails = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier holder of `key` has finished (FIFO, no starvation). */
export async function withGitLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(key, tail);
  await previous.catch(() => undefined);
  try {
    return await fn();
  } finally {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  }
}
