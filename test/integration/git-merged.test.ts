import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { branchMergedInto } from '../../src/git/merged.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

/** main/ with task-x (one commit of its own) merged into main with --no-ff, as the merge queue does. */
function merged() {
  const b = setup();
  git(b.main, 'checkout', '-q', '-b', 'task-x');
  fs.writeFileSync(path.join(b.main, 'x.txt'), 'x\n');
  git(b.main, 'add', '-A');
  git(b.main, 'commit', '-q', '-m', 'x');
  git(b.main, 'checkout', '-q', 'main');
  git(b.main, 'merge', '--no-ff', '-q', '-m', 'Merge task-x: X', 'task-x');
  return { b, merge: git(b.main, 'rev-parse', 'HEAD') };
}

describe('branchMergedInto (git is the last word on what is in main)', () => {
  it('names the merge that brought a branch in; a fresh branch with nothing of its own is not merged', async () => {
    const { b, merge } = merged();
    expect(await branchMergedInto(b.main, 'task-x')).toBe(merge);
    git(b.main, 'branch', 'task-fresh');
    expect(await branchMergedInto(b.main, 'task-fresh')).toBeNull();
    expect(await branchMergedInto(b.main, 'task-none')).toBeNull();
  });

  it('a merge reverted after a failed smoke test is not "merged" (its work is not in main); a revert of that revert brings it back', async () => {
    const { b, merge } = merged();
    git(b.main, 'revert', '-m', '1', '--no-edit', merge);
    const revert = git(b.main, 'rev-parse', 'HEAD');
    // Later work on top does not change that.
    fs.writeFileSync(path.join(b.main, 'later.txt'), 'later\n');
    git(b.main, 'add', '-A');
    git(b.main, 'commit', '-q', '-m', 'later');
    expect(await branchMergedInto(b.main, 'task-x')).toBeNull();
    git(b.main, 'revert', '--no-edit', revert);
    expect(await branchMergedInto(b.main, 'task-x')).toBe(merge);
  });

  it('a branch reworked after the revert and merged again is merged by its new merge', async () => {
    const { b, merge } = merged();
    git(b.main, 'revert', '-m', '1', '--no-edit', merge);
    git(b.main, 'checkout', '-q', 'task-x');
    git(b.main, 'merge', '-q', '--no-ff', '-m', 'Merge main into task-x', 'main');
    git(b.main, 'revert', '--no-edit', 'main');
    git(b.main, 'checkout', '-q', 'main');
    git(b.main, 'merge', '--no-ff', '-q', '-m', 'Merge task-x: X again', 'task-x');
    const again = git(b.main, 'rev-parse', 'HEAD');
    expect(await branchMergedInto(b.main, 'task-x')).toBe(again);
  });
});
