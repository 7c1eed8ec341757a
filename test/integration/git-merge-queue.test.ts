import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MergeQueue,
  commitAll,
  createWorktree,
  filesWithConflictMarkers,
  finishConflictRework,
  prepareConflictRework,
  prepareSmokeRework,
  removeWorktree,
  type MergeDecision,
  type MergeOutcome,
} from '../../src/git/index.js';
import { git, type TempBase } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

/** A task branch with one commit writing the given files. */
async function task(b: TempBase, slug: string, files: Record<string, string>): Promise<string> {
  const wt = await createWorktree(b.baseDir, slug);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(wt.path, name)), { recursive: true });
    fs.writeFileSync(path.join(wt.path, name), content);
  }
  await commitAll(wt.path, `work on ${slug}`);
  return wt.branch;
}

function firstParentSubjects(dir: string): string[] {
  return git(dir, 'log', '--first-parent', '--format=%s').split('\n');
}

function expectMainClean(b: TempBase): void {
  expect(git(b.main, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(false);
}

describe('MergeQueue', () => {
  it('merges concurrently enqueued branches one at a time, in enqueue order, as --no-ff merge commits', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n' });
    const decisions: MergeDecision[] = [];
    const q = new MergeQueue({ baseDir: b.baseDir, onDecision: (d) => decisions.push(d) });
    const start = git(b.main, 'rev-parse', 'HEAD');
    const [r1, r2] = await Promise.all([q.enqueue(one, { title: 'first task', taskId: 't1' }), q.enqueue(two, { title: 'second task' })]);
    expect(r1).toMatchObject({ status: 'merged', branch: 'task-one', mainSha: start, alreadyMerged: false });
    expect(r2).toMatchObject({ status: 'merged', branch: 'task-two', mainSha: (r1 as { sha: string }).sha });
    expect(firstParentSubjects(b.main)).toEqual(['Merge task-two: second task', 'Merge task-one: first task', 'initial commit']);
    for (const rev of ['HEAD', 'HEAD~1']) expect(git(b.main, 'rev-list', '--parents', '-n', '1', rev).split(' ')).toHaveLength(3);
    expect(fs.readFileSync(path.join(b.main, 'one.txt'), 'utf8')).toBe('1\n');
    expect(fs.readFileSync(path.join(b.main, 'two.txt'), 'utf8')).toBe('2\n');
    expectMainClean(b);

    const order = decisions.filter((d) => d.action === 'merging' || d.action === 'merged').map((d) => `${d.action}:${d.branch}`);
    expect(order).toEqual(['merging:task-one', 'merged:task-one', 'merging:task-two', 'merged:task-two']);
    expect(decisions.find((d) => d.branch === 'task-one' && d.action === 'merged')?.taskId).toBe('t1');

    // merged worktrees are removed, their branches kept
    await removeWorktree(b.baseDir, 'one');
    expect(git(b.main, 'branch', '--list', 'task-one')).toContain('task-one');

    // enqueueing an already merged branch changes nothing
    expect(await q.enqueue(one, { title: 'again' })).toMatchObject({
      status: 'merged',
      alreadyMerged: true,
      sha: (r2 as { sha: string }).sha,
    });
    expect(q.pending).toBe(0);
  });

  it('merges into whatever branch main/ has checked out', async () => {
    const b = setup();
    git(b.main, 'checkout', '-q', '-b', 'develop');
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const r = await new MergeQueue({ baseDir: b.baseDir }).enqueue(one, { title: 'x' });
    expect(r.status).toBe('merged');
    expect(git(b.main, 'log', '-1', '--format=%s', 'develop')).toBe('Merge task-one: x');
    expect(git(b.main, 'log', '-1', '--format=%s', 'main')).toBe('initial commit');
  });

  it('aborts a conflicting merge leaving main untouched, and keeps merging the other branches', async () => {
    const b = setup({ 'README.md': '# sample\n', 'shared.txt': 'base\n' });
    const a = await task(b, 'a', { 'shared.txt': 'from a\n' });
    const c = await task(b, 'c', { 'shared.txt': 'from c\n', 'c-only.txt': 'c\n' });
    const d = await task(b, 'd', { 'd.txt': 'd\n' });
    const q = new MergeQueue({ baseDir: b.baseDir });
    const results = await Promise.all([q.enqueue(a, { title: 'a' }), q.enqueue(c, { title: 'c' }), q.enqueue(d, { title: 'd' })]);
    const [ra, rc, rd] = results as [MergeOutcome, MergeOutcome, MergeOutcome];
    expect(ra.status).toBe('merged');
    expect(rc).toEqual({
      status: 'conflict',
      branch: 'task-c',
      files: ['shared.txt'],
      mainSha: (ra as { sha: string }).sha,
      branchSha: git(b.main, 'rev-parse', 'task-c'),
    });
    // the conflict left HEAD where a's merge put it: d merged on top of it
    expect(rd).toMatchObject({ status: 'merged', mainSha: (ra as { sha: string }).sha });
    expect(fs.readFileSync(path.join(b.main, 'shared.txt'), 'utf8')).toBe('from a\n');
    expect(fs.existsSync(path.join(b.main, 'c-only.txt'))).toBe(false);
    expect(firstParentSubjects(b.main)).toEqual(['Merge task-d: d', 'Merge task-a: a', 'initial commit']);
    expectMainClean(b);
  });

  it('sends a conflict back: prepare in the worktree, resolve, finish, re-enqueue, merged', async () => {
    const b = setup({ 'README.md': '# sample\n', 'shared.txt': 'base\n' });
    const a = await task(b, 'a', { 'shared.txt': 'from a\n' });
    const c = await task(b, 'c', { 'shared.txt': 'from c\n' });
    const q = new MergeQueue({ baseDir: b.baseDir });
    expect((await q.enqueue(a, { title: 'Add a' })).status).toBe('merged');
    expect((await q.enqueue(c, { title: 'Add c' })).status).toBe('conflict');

    const rework = await prepareConflictRework(b.baseDir, 'c');
    expect(rework.status).toBe('conflict');
    if (rework.status !== 'conflict') return;
    expect(rework.files).toEqual(['shared.txt']);
    expect(rework.mainBranch).toBe('main');
    expect(rework.mainCommits.map((x) => x.subject)).toEqual(['Merge task-a: Add a']);
    expect(rework.taskCommits.map((x) => x.subject)).toEqual(['work on c']);
    const conflicted = fs.readFileSync(path.join(rework.worktree, 'shared.txt'), 'utf8');
    expect(conflicted).toMatch(/^<<<<<<< /m);
    expect(await filesWithConflictMarkers(rework.worktree)).toEqual(['shared.txt']);
    // asking again does not merge twice
    expect(await prepareConflictRework(b.baseDir, 'c')).toMatchObject({ status: 'conflict', files: ['shared.txt'] });

    await expect(finishConflictRework(b.baseDir, 'c')).rejects.toThrow(/conflict markers remain in 1 file\(s\): shared\.txt/);
    fs.writeFileSync(path.join(rework.worktree, 'shared.txt'), 'from a\nfrom c\n');
    const done = await finishConflictRework(b.baseDir, 'c');
    expect(done.committed).toBe(true);
    expect(git(rework.worktree, 'log', '-1', '--format=%s')).toBe('Merge main into task-c (conflict rework)');

    const again = await q.enqueue(c, { title: 'Add c' });
    expect(again.status).toBe('merged');
    expect(fs.readFileSync(path.join(b.main, 'shared.txt'), 'utf8')).toBe('from a\nfrom c\n');
    expectMainClean(b);
  });

  it('reverts a merge whose smoke test fails (history only grows), and the reworked branch merges later', async () => {
    const b = setup();
    const good = await task(b, 'good', { 'good.txt': 'ok\n' });
    const bad = await task(b, 'bad', { 'bad.txt': 'broken\n', 'feature.txt': 'feature\n' });
    const smokeRuns: string[] = [];
    const q = new MergeQueue({
      baseDir: b.baseDir,
      smoke: async (mainDir) => {
        const broken = fs.existsSync(path.join(mainDir, 'bad.txt'));
        smokeRuns.push(broken ? 'fail' : 'pass');
        return { ok: !broken, log: broken ? 'bad.txt present: FAIL' : 'PASS' };
      },
    });
    expect(await q.enqueue(good, { title: 'good' })).toMatchObject({ status: 'merged', smokeLog: 'PASS' });
    const before = git(b.main, 'rev-parse', 'HEAD');
    const r = await q.enqueue(bad, { title: 'bad' });
    expect(r.status).toBe('smoke-failed');
    if (r.status !== 'smoke-failed') return;
    expect(r.log).toBe('bad.txt present: FAIL');
    const after = git(b.main, 'rev-parse', 'HEAD');
    expect(after).toBe(r.revertSha);
    expect(git(b.main, 'rev-parse', `${r.revertSha}^`)).toBe(r.mergeSha);
    expect(git(b.main, 'rev-parse', `${r.mergeSha}^1`)).toBe(before);
    expect(() => git(b.main, 'merge-base', '--is-ancestor', before, after)).not.toThrow();
    expect(git(b.main, 'log', '-1', '--format=%s')).toBe('Revert "Merge task-bad: bad"');
    expect(fs.existsSync(path.join(b.main, 'bad.txt'))).toBe(false);
    expect(fs.existsSync(path.join(b.main, 'feature.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(b.main, 'good.txt'), 'utf8')).toBe('ok\n');
    expectMainClean(b);

    // Re-merging without restoring the reverted change would bring only the fix: the queue refuses.
    const wt = path.join(b.baseDir, 'task-bad');
    const refused = await q.enqueue(bad, { title: 'bad' });
    expect(refused.status).toBe('error');
    expect(refused.status === 'error' && refused.message).toMatch(/reverted after a failed smoke test/);

    const prep = await prepareSmokeRework(b.baseDir, 'bad', { revertSha: r.revertSha });
    expect(prep).toMatchObject({ status: 'ready', alreadyPrepared: false });
    expect(fs.readFileSync(path.join(wt, 'feature.txt'), 'utf8')).toBe('feature\n');
    expect(await prepareSmokeRework(b.baseDir, 'bad', { revertSha: r.revertSha })).toMatchObject({
      status: 'ready',
      alreadyPrepared: true,
    });
    fs.rmSync(path.join(wt, 'bad.txt'));
    await commitAll(wt, 'fix: drop bad.txt');

    const fixed = await q.enqueue(bad, { title: 'bad, fixed' });
    expect(fixed.status).toBe('merged');
    expect(fs.readFileSync(path.join(b.main, 'feature.txt'), 'utf8')).toBe('feature\n');
    expect(fs.existsSync(path.join(b.main, 'bad.txt'))).toBe(false);
    expect(smokeRuns).toEqual(['pass', 'fail', 'pass']);
    expect(() => git(b.main, 'merge-base', '--is-ancestor', after, 'HEAD')).not.toThrow();
    expectMainClean(b);
  });

  it('treats a smoke function that throws as a failed smoke test', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const q = new MergeQueue({
      baseDir: b.baseDir,
      smoke: async () => {
        throw new Error('gateway down');
      },
    });
    const r = await q.enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'smoke-failed' });
    expect(r.status === 'smoke-failed' && r.log).toMatch(/gateway down/);
    expect(fs.existsSync(path.join(b.main, 'one.txt'))).toBe(false);
  });

  it('never merges over uncommitted work in main/, which stays byte-identical', async () => {
    const b = setup({ 'README.md': '# sample\n', 'notes.txt': 'tracked\n' });
    const one = await task(b, 'one', { 'one.txt': '1\n', 'notes.txt': 'branch edit\n' });
    const userEdit = Buffer.from('my unsaved edit \u00e9\r\n\x00bin');
    fs.writeFileSync(path.join(b.main, 'notes.txt'), userEdit);
    fs.writeFileSync(path.join(b.main, 'scratch.md'), 'untracked idea\n');
    const head = git(b.main, 'rev-parse', 'HEAD');
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 });
    const r = await q.enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'uncommitted-changes', files: ['notes.txt', 'scratch.md'] });
    expect(fs.readFileSync(path.join(b.main, 'notes.txt')).equals(userEdit)).toBe(true);
    expect(fs.readFileSync(path.join(b.main, 'scratch.md'), 'utf8')).toBe('untracked idea\n');
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(b.main, 'stash', 'list')).toBe('');

    // only untracked: still refused
    git(b.main, 'checkout', '--', 'notes.txt');
    const r2 = await q.enqueue(one, { title: 'one' });
    expect(r2).toMatchObject({ status: 'main-dirty', files: ['scratch.md'] });
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('waits (and says so) until the user cleans main/, then merges', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    fs.writeFileSync(path.join(b.main, 'wip.txt'), 'wip\n');
    const decisions: MergeDecision[] = [];
    const q = new MergeQueue({
      baseDir: b.baseDir,
      dirtyWaitMs: 60_000,
      dirtyPollMs: 20,
      onDecision: (d) => {
        decisions.push(d);
        if (d.action === 'waiting') {
          // the user commits their work
          git(b.main, 'add', 'wip.txt');
          git(b.main, 'commit', '-q', '-m', 'user work');
        }
      },
    });
    const r = await q.enqueue(one, { title: 'one' });
    expect(r.status).toBe('merged');
    expect(decisions.find((d) => d.action === 'waiting')?.reason).toMatch(/uncommitted changes in 1 file\(s\): wip\.txt/);
    expect(firstParentSubjects(b.main)).toEqual(['Merge task-one: one', 'user work', 'initial commit']);
  });

  it('stops waiting when aborted', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    fs.writeFileSync(path.join(b.main, 'wip.txt'), 'wip\n');
    const ac = new AbortController();
    const q = new MergeQueue({
      baseDir: b.baseDir,
      dirtyWaitMs: 600_000,
      dirtyPollMs: 50,
      signal: ac.signal,
      onDecision: (d) => d.action === 'waiting' && ac.abort(),
    });
    expect(await q.enqueue(one, { title: 'one' })).toMatchObject({ status: 'main-dirty' });
  });

  it('refuses a merge that would overwrite an ignored file in main/', async () => {
    const b = setup({ 'README.md': '# sample\n', '.gitignore': '*.local\n' });
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const wt = path.join(b.baseDir, 'task-one');
    fs.writeFileSync(path.join(wt, 'settings.local'), 'from branch\n');
    git(wt, 'add', '-f', 'settings.local');
    git(wt, 'commit', '-q', '-m', 'force-add an ignored file');
    fs.writeFileSync(path.join(b.main, 'settings.local'), 'user secret\n');
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'ignored-files-in-the-way', files: ['settings.local'] });
    expect(fs.readFileSync(path.join(b.main, 'settings.local'), 'utf8')).toBe('user secret\n');
  });

  it('sees what the user drops into or edits in main/ between two merges of one queue (no cached clean state)', async () => {
    const b = setup({ 'README.md': '# sample\n', 'notes.txt': 'tracked\n' });
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n' });
    const three = await task(b, 'three', { 'three.txt': '3\n' });
    let step = 0;
    const q = new MergeQueue({
      baseDir: b.baseDir,
      dirtyWaitMs: 0,
      // runs in main/ after each merge, while the queue holds main/: the user acts right then
      smoke: async (mainDir) => {
        step++;
        if (step === 1) fs.writeFileSync(path.join(mainDir, 'dropped.txt'), 'user file\n');
        if (step === 2) fs.writeFileSync(path.join(mainDir, 'notes.txt'), 'tracked, edited by the user\n');
        return { ok: true, log: '' };
      },
    });
    const [r1, r2] = await Promise.all([q.enqueue(one, { title: 'one' }), q.enqueue(two, { title: 'two' })]);
    expect(r1.status).toBe('merged');
    expect(r2).toMatchObject({ status: 'main-dirty', reason: 'uncommitted-changes', files: ['dropped.txt'] });
    expect(fs.readFileSync(path.join(b.main, 'dropped.txt'), 'utf8')).toBe('user file\n');
    const head = git(b.main, 'rev-parse', 'HEAD');
    expect(head).toBe((r1 as { sha: string }).sha);

    fs.rmSync(path.join(b.main, 'dropped.txt'));
    const [r3, r4] = await Promise.all([q.enqueue(two, { title: 'two' }), q.enqueue(three, { title: 'three' })]);
    expect(r3.status).toBe('merged');
    // a tracked file edited between merges (same size class, same directory: no new entry, index untouched)
    expect(r4).toMatchObject({ status: 'main-dirty', reason: 'uncommitted-changes', files: ['notes.txt'] });
    expect(fs.readFileSync(path.join(b.main, 'notes.txt'), 'utf8')).toBe('tracked, edited by the user\n');
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe((r3 as { sha: string }).sha);
  });

  it('refuses an ignored file the user drops into main/ between two merges, though the added paths were computed ahead', async () => {
    const b = setup({ 'README.md': '# sample\n', '.gitignore': '*.local\n' });
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n' });
    const wt = path.join(b.baseDir, 'task-two');
    fs.writeFileSync(path.join(wt, 'settings.local'), 'from branch\n');
    git(wt, 'add', '-f', 'settings.local');
    git(wt, 'commit', '-q', '-m', 'force-add an ignored file');
    const q = new MergeQueue({
      baseDir: b.baseDir,
      dirtyWaitMs: 0,
      smoke: async (mainDir) => {
        if (!fs.existsSync(path.join(mainDir, 'settings.local'))) fs.writeFileSync(path.join(mainDir, 'settings.local'), 'user secret\n');
        return { ok: true, log: '' };
      },
    });
    const [r1, r2] = await Promise.all([q.enqueue(one, { title: 'one' }), q.enqueue(two, { title: 'two' })]);
    expect(r1.status).toBe('merged');
    expect(r2).toMatchObject({ status: 'main-dirty', reason: 'ignored-files-in-the-way', files: ['settings.local'] });
    expect(fs.readFileSync(path.join(b.main, 'settings.local'), 'utf8')).toBe('user secret\n');
  });

  it('computes the added paths again when main/ moved after they were computed ahead', async () => {
    const b = setup({ 'README.md': '# sample\n', '.gitignore': '*.local\n' });
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n', 'shared.txt': 'same\n' });
    const q = new MergeQueue({
      baseDir: b.baseDir,
      dirtyWaitMs: 0,
      smoke: async (mainDir) => {
        // the user commits, on main, the same file the next branch adds: it is no longer "added"
        if (!fs.existsSync(path.join(mainDir, 'shared.txt'))) {
          fs.writeFileSync(path.join(mainDir, 'shared.txt'), 'same\n');
          git(mainDir, 'add', 'shared.txt');
          git(mainDir, 'commit', '-q', '-m', 'user adds shared.txt');
        }
        return { ok: true, log: '' };
      },
    });
    const [r1, r2] = await Promise.all([q.enqueue(one, { title: 'one' }), q.enqueue(two, { title: 'two' })]);
    expect(r1.status).toBe('merged');
    expect(r2).toMatchObject({ status: 'merged', alreadyMerged: false });
    expect(firstParentSubjects(b.main)).toEqual(['Merge task-two: two', 'user adds shared.txt', 'Merge task-one: one', 'initial commit']);
    expectMainClean(b);
  });

  it('refuses while the user has a merge of their own in progress in main/', async () => {
    const b = setup({ 'README.md': '# sample\n', 'x.txt': 'x\n' });
    git(b.main, 'checkout', '-q', '-b', 'side');
    fs.writeFileSync(path.join(b.main, 'x.txt'), 'side\n');
    git(b.main, 'commit', '-q', '-am', 'side');
    git(b.main, 'checkout', '-q', 'main');
    fs.writeFileSync(path.join(b.main, 'x.txt'), 'main\n');
    git(b.main, 'commit', '-q', '-am', 'main');
    expect(() => git(b.main, 'merge', 'side')).toThrow();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'operation-in-progress' });
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(true);
    expect(fs.readFileSync(path.join(b.main, 'x.txt'), 'utf8')).toMatch(/^<<<<<<< /m);
  });

  it('answers error for a branch that does not exist, and goes on', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const q = new MergeQueue({ baseDir: b.baseDir });
    const [missing, ok] = await Promise.all([q.enqueue('task-nope', { title: 'nope' }), q.enqueue(one, { title: 'one' })]);
    expect(missing).toMatchObject({ status: 'error' });
    expect(missing.status === 'error' && missing.error.kind).toBe('git');
    expect(ok.status).toBe('merged');
  });
});
