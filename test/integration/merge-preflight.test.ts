import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorktree } from '../../src/git/index.js';
import { MergeQueue, type MergeDecision } from '../../src/git/merge-queue.js';
import { firstLines } from '../../src/git/repo.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { runOrphanedGit } from '../helpers/orphaned-git.js';

/**
 * The merge queue's preflight on real repositories: with an index.lock, a
 * half-done merge or a detached HEAD in main/, it runs no git write, main/
 * stays byte-identical (work tree and .git), and the answer says exactly what
 * is wrong and what to run.
 */

const bases: TempBase[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) b.cleanup();
});

function setup(): TempBase {
  const b = makeTempBase({ 'README.md': '# sample\n', 'x.txt': 'x\n' });
  bases.push(b);
  return b;
}

async function task(b: TempBase, slug: string, files: Record<string, string>): Promise<string> {
  const wt = await createWorktree(b.baseDir, slug);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(wt.path, name), content);
  git(wt.path, 'add', '-A');
  git(wt.path, 'commit', '-q', '-m', `work on ${slug}`);
  return wt.branch;
}

/** A hash of every file under main/ (its .git included) with its mode and mtime: any write changes it. */
function fingerprint(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.lstatSync(p);
        h.update(`${path.relative(dir, p)}\0${st.mode}\0${st.mtimeMs}\0`);
        h.update(fs.readFileSync(p));
      }
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('merge preflight', { timeout: 120_000 }, () => {
  it('index.lock in main/: no git write, main/ byte-identical, the message says who holds it', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const lock = path.join(b.main, '.git', 'index.lock');
    fs.writeFileSync(lock, '');
    const before = fingerprint(b.main);
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'index-locked' });
    expect(r.status === 'main-dirty' && r.message).toContain(lock);
    expect(r.status === 'main-dirty' && r.message).toMatch(/another git command may be working/);
    expect(fingerprint(b.main)).toBe(before);
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(false);
  });

  it('a stale index.lock (old, no git process): says so and how to remove it, without waiting', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const lock = path.join(b.main, '.git', 'index.lock');
    fs.writeFileSync(lock, '');
    const old = new Date(Date.now() - 60 * 60_000);
    fs.utimesSync(lock, old, old);
    const before = fingerprint(b.main);
    const decisions: MergeDecision[] = [];
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 600_000, onDecision: (d) => decisions.push(d) }).enqueue(one, {
      title: 'one',
    });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'stale-lock' });
    expect(r.status === 'main-dirty' && r.message).toBe(
      `stale lock: ${lock} is 60 min old and no git process is working in ${b.main}; remove it with: rm ${lock}`,
    );
    expect(decisions.some((d) => d.action === 'waiting')).toBe(false);
    expect(fingerprint(b.main)).toBe(before);
  });

  it('MERGE_HEAD planted in main/: no git write, main/ byte-identical, the command that undoes it', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    fs.writeFileSync(path.join(b.main, '.git', 'MERGE_HEAD'), `${git(b.main, 'rev-parse', one)}\n`);
    const before = fingerprint(b.main);
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'operation-in-progress' });
    expect(r.status === 'main-dirty' && r.message).toMatch(
      /in the middle of a merge \(not started by this run\); finish it, or undo it with: git merge --abort$/,
    );
    expect(fingerprint(b.main)).toBe(before);
  });

  it('REBASE_HEAD and CHERRY_PICK_HEAD are refused the same way', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    for (const [marker, undo] of [
      ['REBASE_HEAD', 'git rebase --abort'],
      ['CHERRY_PICK_HEAD', 'git cherry-pick --abort'],
    ] as const) {
      const file = path.join(b.main, '.git', marker);
      fs.writeFileSync(file, `${git(b.main, 'rev-parse', 'HEAD')}\n`);
      const before = fingerprint(b.main);
      const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
      expect(r).toMatchObject({ status: 'main-dirty', reason: 'operation-in-progress' });
      expect(r.status === 'main-dirty' && r.message).toContain(undo);
      expect(fingerprint(b.main)).toBe(before);
      fs.rmSync(file);
    }
  });

  it('a detached HEAD in main/: no git write, main/ byte-identical, says which branch to check out', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const head = git(b.main, 'rev-parse', 'HEAD');
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0, targetBranch: 'main' });
    git(b.main, 'checkout', '-q', '--detach');
    const before = fingerprint(b.main);
    const r = await q.enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'detached-head' });
    expect(r.status === 'main-dirty' && r.message).toBe(
      `${b.main} has a detached HEAD at ${head.slice(0, 10)}; the queue merges into main and never checks out branches: git -C ${b.main} checkout main`,
    );
    expect(fingerprint(b.main)).toBe(before);
  });

  it('a merge that fails mid-way (git stops after writing MERGE_HEAD) leaves no MERGE_HEAD, main unchanged; repository hooks do not run', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    // The program's git runs no repository hooks (git-hardening), so a refusing hook cannot stop the merge.
    // Plant one anyway and check it never ran.
    const ran = path.join(b.baseDir, 'hook-ran');
    const hook = path.join(b.main, '.git', 'hooks', 'pre-merge-commit');
    fs.mkdirSync(path.dirname(hook), { recursive: true });
    fs.writeFileSync(hook, `#!/bin/sh\ntouch '${ran}'\necho "policy: no merges today" >&2\nexit 1\n`, { mode: 0o755 });
    // What stops it instead runs no code: with comments stripped and "M" as the comment character, the message
    // "Merge one: one" cleans up to nothing, so git has merged index and worktree, written MERGE_HEAD, and then
    // refuses to commit ("Empty commit message.").
    git(b.main, 'config', 'commit.cleanup', 'strip');
    git(b.main, 'config', 'core.commentChar', 'M');
    const head = git(b.main, 'rev-parse', 'HEAD');
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 });
    const r = await q.enqueue(one, { title: 'one' });
    expect(r.status).toBe('error');
    expect(r.status === 'error' && r.message).toMatch(/Empty commit message/);
    expect(fs.existsSync(ran)).toBe(false);
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(b.main, 'status', '--porcelain')).toBe('');
    expect(fs.existsSync(path.join(b.main, 'one.txt'))).toBe(false);
    expect(q.halted).toBeUndefined();
  });

  it('its own merge of the branch cut off after MERGE_HEAD (a killed process): undone with merge --abort, then merged once', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const head = git(b.main, 'rev-parse', 'HEAD');
    const tip = git(b.main, 'rev-parse', one);
    // What git leaves when it is killed between writing MERGE_HEAD (index and work tree merged) and the commit.
    git(b.main, 'merge', '--no-ff', '--no-commit', '-m', `Merge ${one}: one`, tip);
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(true);
    const decisions: MergeDecision[] = [];
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0, onDecision: (d) => decisions.push(d) });
    const r = await q.enqueue(one, { title: 'one' });
    expect(r.status, JSON.stringify(r)).toBe('merged');
    expect(decisions.find((d) => d.action === 'recovered')).toMatchObject({ branch: one, sha: tip });
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(b.main, 'log', '--first-parent', '--merges', '--format=%s', `${head}..HEAD`)).toBe(`Merge ${one}: one`);
    expect(git(b.main, 'rev-parse', 'HEAD^1')).toBe(head);
    expect(git(b.main, 'status', '--porcelain')).toBe('');
  });

  it('its own merge of another branch, committed by a git that outlived its killed orchestrator (SIGPIPE before git cleared its merge state): cleared, HEAD kept, the next branch merged', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n' });
    const tip = git(b.main, 'rev-parse', one);
    const gitDir = path.join(b.main, '.git');
    // What the queue's `git merge` of `one` leaves when the orchestrator alone was SIGKILLed while it ran.
    const killed = await runOrphanedGit(b.main, ['merge', '--no-ff', '--no-edit', '--no-stat', '-m', `Merge ${one}: one`, tip]);
    expect(killed.signal).toBe('SIGPIPE');
    const merged = git(b.main, 'rev-parse', 'HEAD');
    expect(git(b.main, 'rev-parse', 'HEAD^2')).toBe(tip);
    expect(fs.existsSync(path.join(gitDir, 'MERGE_HEAD'))).toBe(true);
    const decisions: MergeDecision[] = [];
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0, onDecision: (d) => decisions.push(d) });
    const r = await q.enqueue(two, { title: 'two' });
    expect(r.status, JSON.stringify(r)).toBe('merged');
    expect(decisions.find((d) => d.action === 'recovered')).toMatchObject({ branch: one, sha: tip, seq: 0 });
    for (const f of ['MERGE_HEAD', 'MERGE_MSG', 'MERGE_MODE']) expect(fs.existsSync(path.join(gitDir, f))).toBe(false);
    expect(git(b.main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s')).toBe(`Merge ${one}: one\nMerge ${two}: two`);
    expect(git(b.main, 'rev-parse', 'HEAD^1')).toBe(merged);
    expect(git(b.main, 'status', '--porcelain')).toBe('');
  });

  it('recover() before anything is enqueued: the last merge, committed but with its merge state left, is cleared; nothing is merged again', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const killed = await runOrphanedGit(b.main, ['merge', '--no-ff', '--no-edit', '--no-stat', '-m', `Merge ${one}: one`, one]);
    expect(killed.signal).toBe('SIGPIPE');
    const head = git(b.main, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(b.main, 'README.md'), '# edited by a person since\n');
    const decisions: MergeDecision[] = [];
    await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0, onDecision: (d) => decisions.push(d) }).recover();
    expect(decisions.map((d) => [d.action, d.branch])).toEqual([['recovered', one]]);
    expect(fs.existsSync(path.join(b.main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(b.main, 'rev-parse', 'HEAD')).toBe(head);
    // The person's uncommitted edit is kept (in the work tree, not staged).
    expect(git(b.main, 'diff', '--name-only')).toBe('README.md');
    expect(git(b.main, 'diff', '--cached', '--name-only')).toBe('');
    expect(fs.readFileSync(path.join(b.main, 'README.md'), 'utf8')).toBe('# edited by a person since\n');
  });

  it('its own merge of another branch cut off before the commit: undone, then both branches merged once (in their turn)', async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    const two = await task(b, 'two', { 'two.txt': '2\n' });
    const head = git(b.main, 'rev-parse', 'HEAD');
    git(b.main, 'merge', '--no-ff', '--no-commit', '-m', `Merge ${one}: one`, git(b.main, 'rev-parse', one));
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 });
    expect((await q.enqueue(two, { title: 'two' })).status).toBe('merged');
    expect((await q.enqueue(one, { title: 'one' })).status).toBe('merged');
    expect(git(b.main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s', `${head}..HEAD`)).toBe(
      `Merge ${two}: two\nMerge ${one}: one`,
    );
    expect(git(b.main, 'status', '--porcelain')).toBe('');
  });

  it("a person's merge of the same branch (their own message) is not undone: refused, main/ byte-identical", async () => {
    const b = setup();
    const one = await task(b, 'one', { 'one.txt': '1\n' });
    git(b.main, 'merge', '--no-ff', '--no-commit', '-m', 'my own merge', git(b.main, 'rev-parse', one));
    const before = fingerprint(b.main);
    const r = await new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 0 }).enqueue(one, { title: 'one' });
    expect(r).toMatchObject({ status: 'main-dirty', reason: 'operation-in-progress' });
    expect(fingerprint(b.main)).toBe(before);
  });

  it('one wait for the whole queue: the second dirty merge is answered at once, with one waiting message', async () => {
    const b = setup();
    const branches = [
      await task(b, 'one', { 'one.txt': '1\n' }),
      await task(b, 'two', { 'two.txt': '2\n' }),
      await task(b, 'three', { 'three.txt': '3\n' }),
    ];
    fs.writeFileSync(path.join(b.main, 'wip.txt'), 'mine\n');
    const decisions: MergeDecision[] = [];
    const q = new MergeQueue({ baseDir: b.baseDir, dirtyWaitMs: 1_000, dirtyPollMs: 20, onDecision: (d) => decisions.push(d) });
    const outcomes = await Promise.all(branches.map((br) => q.enqueue(br, { title: br })));
    expect(outcomes.map((o) => o.status)).toEqual(['main-dirty', 'main-dirty', 'main-dirty']);
    expect(decisions.filter((d) => d.action === 'waiting')).toHaveLength(1);
    expect(outcomes.slice(1).every((o) => o.status === 'main-dirty' && o.waitedMs < 1_000)).toBe(true);
    expect(fs.readFileSync(path.join(b.main, 'wip.txt'), 'utf8')).toBe('mine\n');
  });
});

describe('firstLines', () => {
  it('keeps whole sentences of a wrapped git message', () => {
    const text = `fatal: Unable to create '/r/.git/index.lock': File exists.

Another git process seems to be running in this repository, e.g.
an editor opened by 'git commit'. Please make sure all processes
are terminated then try again. If it still fails, a git process
may have crashed in this repository earlier:
remove the file manually to continue.`;
    const line = firstLines(text);
    expect(line).toContain('Please make sure all processes are terminated then try again.');
    expect(line.endsWith('remove the file manually to continue.')).toBe(true);
  });
});
