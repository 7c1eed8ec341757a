import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitAll, createWorktree, listWorktrees, setAsideAttempt } from '../../src/git/index.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

/** Setting a failed attempt aside for a retry: nothing is lost, task-<slug> is free for a fresh start from main. */
describe('setAsideAttempt', () => {
  it('commits uncommitted files on the branch, removes the worktree, renames the branch to the first free attempt-<n>', async () => {
    const b = setup();
    await createWorktree(b.baseDir, 'x');
    const wt = path.join(b.baseDir, 'task-x');
    fs.writeFileSync(path.join(wt, 'done.txt'), 'committed\n');
    const first = await commitAll(wt, 'first attempt');
    fs.writeFileSync(path.join(wt, 'half.txt'), 'not committed\n');

    const aside = await setAsideAttempt(b.baseDir, 'x');
    expect(aside.branch).toBe('task-x-attempt-1');
    expect(aside.savedUncommitted).toBe(aside.head);
    expect(git(b.main, 'rev-parse', 'task-x-attempt-1^')).toBe(first);
    expect(git(b.main, 'show', 'task-x-attempt-1:half.txt')).toBe('not committed');
    expect(fs.existsSync(wt)).toBe(false);
    expect((await listWorktrees(b.main)).map((w) => w.branch)).toEqual(['main']);
    expect(git(b.main, 'branch', '--list', 'task-x')).toBe('');

    // The next start is new, from main; a second retry keeps both earlier attempts.
    const again = await createWorktree(b.baseDir, 'x');
    expect(again.state).toBe('new');
    expect(again.head).toBe(git(b.main, 'rev-parse', 'HEAD'));
    const clean = await setAsideAttempt(b.baseDir, 'x');
    expect(clean).toEqual({ branch: 'task-x-attempt-2', head: again.head, savedUncommitted: null });
    expect(git(b.main, 'branch', '--list', 'task-x*', '--format=%(refname:short)').split('\n')).toEqual([
      'task-x-attempt-1',
      'task-x-attempt-2',
    ]);
  });

  it('a subtask that never got a worktree or branch: nothing to set aside', async () => {
    const b = setup();
    expect(await setAsideAttempt(b.baseDir, 'never')).toEqual({ branch: null, head: null, savedUncommitted: null });
  });
});
