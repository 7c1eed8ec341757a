import { withGitLock } from '../../git/lock.js';

/**
 * Git commands that take a repository's locks (index, refs, worktree admin) are
 * queued per repository so that concurrent tool calls of one turn do not fail on
 * `index.lock`; everything else runs concurrently. This is scheduling, not
 * security: the guard has already approved the line.
 */

const MUTATING = new Set([
  'add',
  'am',
  'apply',
  'branch',
  'checkout',
  'cherry-pick',
  'commit',
  'fetch',
  'merge',
  'mv',
  'pull',
  'restore',
  'revert',
  'rm',
  'stash',
  'switch',
  'tag',
  'worktree',
]);
const GLOBAL_WITH_VALUE = new Set(['-C', '-c', '--namespace', '--config-env']);

/** The git subcommand of one simple command's words, or undefined when it is not git. */
export function gitSubcommand(words: readonly string[]): string | undefined {
  if (words[0] !== 'git') return undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string;
    if (GLOBAL_WITH_VALUE.has(w)) {
      i++;
      continue;
    }
    if (w.startsWith('-')) continue;
    return w;
  }
  return undefined;
}

/** The lock key of a line (its simple commands' words), or undefined when it needs none. */
export function repoLockKey(commands: readonly (readonly string[])[], repoKey: string): string | undefined {
  for (const words of commands) {
    const sub = gitSubcommand(words);
    if (sub !== undefined && MUTATING.has(sub)) return `git:${repoKey}`;
  }
  return undefined;
}

/** Runs `fn` after every earlier holder of `key` has finished (the git layer's FIFO lock, shared so the two never race). */
export const withRepoLock = withGitLock;
