import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitError } from '../../src/errors.js';
import { createBundle, fetchBundleIntoBranch, readBundleHeader } from '../../src/git/bundle.js';
import { createWorktree } from '../../src/git/index.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

/** main/'s repository, a clone of it standing for an agent's, and a commit there on top of main's head. */
function rig() {
  const b = setup();
  const base = git(b.main, 'rev-parse', 'HEAD');
  const other = path.join(b.root, 'other');
  git(b.root, 'clone', '-q', '--no-local', b.main, other);
  git(other, 'config', 'user.name', 'Agent User');
  git(other, 'config', 'user.email', 'agent@example.invalid');
  const commit = (file: string, content: string) => {
    fs.writeFileSync(path.join(other, file), content);
    git(other, 'add', '-A');
    git(other, 'commit', '-q', '-m', `add ${file}`);
    return git(other, 'rev-parse', 'HEAD');
  };
  return { b, base, other, commit };
}

describe('bundles straight into a branch (fetchBundleIntoBranch)', () => {
  it('reads the header, creates the branch, then only moves it forward; SHAs preserved', async () => {
    const { b, base, other, commit } = rig();
    const one = commit('one.txt', '1\n');
    const file1 = path.join(b.root, 'one.bundle');
    const made = await createBundle(other, file1, { tip: one, name: 'task-x', base });
    expect(made).toMatchObject({ ref: 'refs/codex-orch/task-x', sha: one, prerequisites: [base] });
    expect(readBundleHeader(file1)).toEqual({ prerequisites: [base], refs: new Map([['refs/codex-orch/task-x', one]]) });

    await fetchBundleIntoBranch(b.main, file1, { ref: made!.ref, branch: 'task-x', sha: one });
    expect(git(b.main, 'rev-parse', 'task-x')).toBe(one);
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe(base);
    expect(git(b.main, 'status', '--porcelain')).toBe('');

    const two = commit('two.txt', '2\n');
    const file2 = path.join(b.root, 'two.bundle');
    await createBundle(other, file2, { tip: two, name: 'task-x', base: one });
    await fetchBundleIntoBranch(b.main, file2, { ref: 'refs/codex-orch/task-x', branch: 'task-x', sha: two });
    expect(git(b.main, 'rev-parse', 'task-x')).toBe(two);

    // The first bundle again: it would move the branch back, which git refuses; the branch stays.
    const back = await fetchBundleIntoBranch(b.main, file1, { ref: 'refs/codex-orch/task-x', branch: 'task-x', sha: one }).catch(
      (e: unknown) => e,
    );
    expect(back).toBeInstanceOf(GitError);
    expect((back as Error).message).toMatch(/only ever moved forward/);
    expect(git(b.main, 'rev-parse', 'task-x')).toBe(two);
  });

  it('refuses a branch that went elsewhere (not a fast-forward), leaving it as it was', async () => {
    const { b, base, other, commit } = rig();
    const theirs = commit('theirs.txt', 't\n');
    const file = path.join(b.root, 'theirs.bundle');
    await createBundle(other, file, { tip: theirs, name: 'task-y', base });
    // Here, task-y has a commit of its own the bundle knows nothing of.
    const wt = await createWorktree(b.baseDir, 'y');
    fs.writeFileSync(path.join(wt.path, 'mine.txt'), 'm\n');
    git(wt.path, 'add', '-A');
    git(wt.path, 'commit', '-q', '-m', 'mine');
    const mine = git(wt.path, 'rev-parse', 'HEAD');
    git(b.main, 'worktree', 'remove', wt.path);
    const e = await fetchBundleIntoBranch(b.main, file, { ref: 'refs/codex-orch/task-y', branch: 'task-y', sha: theirs }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(GitError);
    expect((e as Error).message).toMatch(/task-y is not an ancestor of .*only ever moved forward/);
    expect(git(b.main, 'rev-parse', 'task-y')).toBe(mine);
  });

  it('refuses before fetching when the header does not name the reported head, or the branch is checked out', async () => {
    const { b, base, other, commit } = rig();
    const one = commit('one.txt', '1\n');
    const file = path.join(b.root, 'one.bundle');
    await createBundle(other, file, { tip: one, name: 'task-z', base });
    await expect(fetchBundleIntoBranch(b.main, file, { ref: 'refs/codex-orch/task-z', branch: 'task-z', sha: base })).rejects.toThrow(
      /task-z is [0-9a-f]{10}, not the reported/,
    );
    await expect(fetchBundleIntoBranch(b.main, file, { ref: 'refs/codex-orch/nope', branch: 'task-z', sha: one })).rejects.toThrow(
      /has no ref refs\/codex-orch\/nope/,
    );
    expect(git(b.main, 'branch', '--list', 'task-z')).toBe('');
    // Checked out in a worktree: git will not move it under that worktree's files.
    await createWorktree(b.baseDir, 'z');
    await expect(fetchBundleIntoBranch(b.main, file, { ref: 'refs/codex-orch/task-z', branch: 'task-z', sha: one })).rejects.toThrow(
      GitError,
    );
    expect(git(b.main, 'rev-parse', 'task-z')).toBe(base);
    // Not a bundle at all.
    fs.writeFileSync(path.join(b.root, 'junk.bundle'), 'hello\n\nworld');
    expect(() => readBundleHeader(path.join(b.root, 'junk.bundle'))).toThrow(/is not a git bundle/);
  });

  it('refuses a bundle whose prerequisite this repository lacks', async () => {
    const { b, other, commit } = rig();
    const one = commit('one.txt', '1\n');
    const two = commit('two.txt', '2\n');
    const file = path.join(b.root, 'two.bundle');
    await createBundle(other, file, { tip: two, name: 'task-w', base: one });
    await expect(fetchBundleIntoBranch(b.main, file, { ref: 'refs/codex-orch/task-w', branch: 'task-w', sha: two })).rejects.toThrow(
      /does not apply/,
    );
    expect(git(b.main, 'branch', '--list', 'task-w')).toBe('');
  });

  it('via: carries the ref that names the tip as it is, and falls back to a private ref when it names something else', async () => {
    const { b, base, other, commit } = rig();
    const one = commit('one.txt', '1\n');
    const file = path.join(b.root, 'via.bundle');
    const made = await createBundle(other, file, { tip: one, name: 'task-v', base, via: 'HEAD' });
    expect(made).toMatchObject({ ref: 'HEAD', sha: one, prerequisites: [base] });
    expect(readBundleHeader(file).refs).toEqual(new Map([['HEAD', one]]));
    await fetchBundleIntoBranch(b.main, file, { ref: 'HEAD', branch: 'task-v', sha: one });
    expect(git(b.main, 'rev-parse', 'task-v')).toBe(one);

    // HEAD has moved on: the bundle of `one` is made under the private ref, which is gone afterwards.
    commit('two.txt', '2\n');
    const again = await createBundle(other, file, { tip: one, name: 'task-v', base, via: 'HEAD' });
    expect(again).toMatchObject({ ref: 'refs/codex-orch/task-v', sha: one });
    expect(readBundleHeader(file).refs).toEqual(new Map([['refs/codex-orch/task-v', one]]));
    expect(git(other, 'for-each-ref', 'refs/codex-orch/')).toBe('');
    // A ref that names the base itself: nothing to bundle either way.
    git(other, 'update-ref', 'refs/heads/at-base', base);
    expect(await createBundle(other, file, { tip: base, name: 'task-v', base, via: 'refs/heads/at-base' })).toBeNull();
  });
});
