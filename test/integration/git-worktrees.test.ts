import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitError } from '../../src/errors.js';
import {
  changedFiles,
  commitAll,
  createTaskBranch,
  createWorktree,
  currentBranch,
  deleteMergedTaskBranch,
  diffAgainst,
  headSha,
  isDirty,
  listBranches,
  listWorktrees,
  removeWorktree,
  statusSnapshot,
} from '../../src/git/index.js';
import { commonGitDir } from '../../src/git/repo.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

describe('repo helpers', () => {
  it('reports branch, HEAD, dirtiness (untracked included), worktrees and branches', async () => {
    const b = setup();
    expect(await currentBranch(b.main)).toBe('main');
    expect(await headSha(b.main)).toBe(git(b.main, 'rev-parse', 'HEAD'));
    expect(await isDirty(b.main)).toBe(false);
    fs.writeFileSync(path.join(b.main, 'new file.txt'), 'x');
    expect(await isDirty(b.main)).toBe(true);
    expect((await statusSnapshot(b.main)).dirty).toEqual(['new file.txt']);
    fs.rmSync(path.join(b.main, 'new file.txt'));
    fs.appendFileSync(path.join(b.main, 'README.md'), 'more\n');
    expect((await statusSnapshot(b.main)).dirty).toEqual(['README.md']);
    git(b.main, 'checkout', '--', 'README.md');

    await createWorktree(b.baseDir, 'alpha');
    const wts = await listWorktrees(b.main);
    expect(wts.map((w) => w.branch)).toEqual(['main', 'task-alpha']);
    expect(wts[1]?.path).toBe(path.join(b.baseDir, 'task-alpha'));
    expect(await listBranches(b.main)).toEqual(['main', 'task-alpha']);
  });

  it('reads the common git dir without git as git itself does: main/, a linked worktree, a symlinked path, a subdirectory', async () => {
    const b = setup({ 'README.md': '# sample\n', 'src/a.txt': 'a\n' });
    const asGit = (dir: string) => git(dir, 'rev-parse', '--path-format=absolute', '--git-common-dir');
    const wt = await createWorktree(b.baseDir, 'common');
    const link = path.join(b.root, 'link-to-main');
    fs.symlinkSync(b.main, link);
    for (const dir of [b.main, wt.path, link, path.join(b.main, 'src'), path.join(wt.path, 'src')]) {
      expect(await commonGitDir(dir), dir).toBe(asGit(dir));
    }
    expect(await commonGitDir(wt.path)).toBe(path.join(b.main, '.git'));
    // A worktree whose git dir lost its commondir file is refused, as every git run of the program there is.
    const admin = git(wt.path, 'rev-parse', '--path-format=absolute', '--git-dir');
    fs.rmSync(path.join(admin, 'commondir'));
    await expect(commonGitDir(wt.path)).rejects.toThrow(/commondir is missing\); refusing to run git there/);
  });

  it('reads the branch main/ has checked out, whatever its name', async () => {
    const b = setup();
    git(b.main, 'checkout', '-q', '-b', 'trunk');
    expect(await currentBranch(b.main)).toBe('trunk');
    git(b.main, 'checkout', '-q', '--detach');
    expect(await currentBranch(b.main)).toBeNull();
  });
});

describe('createTaskBranch', () => {
  it('makes the branch alone (no checkout), keeps an existing one, and a later createWorktree checks it out', async () => {
    const b = setup();
    const mainHead = git(b.main, 'rev-parse', 'HEAD');
    const made = await createTaskBranch(b.baseDir, 'beta');
    expect(made).toEqual({ path: path.join(b.baseDir, 'task-beta'), branch: 'task-beta', head: mainHead, state: 'new' });
    expect(fs.existsSync(made.path)).toBe(false);
    expect((await listWorktrees(b.main)).map((w) => w.branch)).toEqual(['main']);
    expect(git(b.main, 'rev-parse', 'task-beta')).toBe(mainHead);
    // The branch moves on (a bundle from an agent); asking again keeps its commits and does not reset it to main.
    const wt = await createWorktree(b.baseDir, 'scratch');
    fs.writeFileSync(path.join(wt.path, 'x.txt'), 'x\n');
    const sha = await commitAll(wt.path, 'x');
    git(b.main, 'update-ref', 'refs/heads/task-beta', sha!);
    expect(await createTaskBranch(b.baseDir, 'beta')).toMatchObject({ head: sha, state: 'reused-branch' });
    const later = await createWorktree(b.baseDir, 'beta');
    expect(later).toMatchObject({ state: 'reused-branch', head: sha });
    expect(fs.readFileSync(path.join(later.path, 'x.txt'), 'utf8')).toBe('x\n');
    expect(await createTaskBranch(b.baseDir, 'beta')).toMatchObject({ head: sha, state: 'reused-worktree' });
  });

  it('says which commit is missing when `from` names none', async () => {
    const b = setup();
    await expect(createTaskBranch(b.baseDir, 'gamma', { from: 'no-such-ref' })).rejects.toThrow(/no-such-ref names no commit/);
  });
});

describe('createWorktree / removeWorktree', () => {
  it('a commit after a killed run: the stale index.lock is cleared; one a live git holds is not', async () => {
    const b = setup();
    const wt = await createWorktree(b.baseDir, 'locked');
    const lock = path.join(git(wt.path, 'rev-parse', '--absolute-git-dir'), 'index.lock');
    fs.writeFileSync(path.join(wt.path, 'x.txt'), 'x\n');
    fs.writeFileSync(lock, '');
    const sha = await commitAll(wt.path, 'after a kill');
    expect(sha).toBe(git(wt.path, 'rev-parse', 'HEAD'));
    expect(git(wt.path, 'show', '--name-only', '--format=', 'HEAD')).toBe('x.txt');
    expect(fs.existsSync(lock)).toBe(false);

    // A git process at work in the worktree (another process's: not a child of this one) holds it: left alone, and the
    // commit fails saying so.
    const { spawn } = await import('node:child_process');
    const holder = spawn('sh', ['-c', 'git cat-file --batch; true'], {
      cwd: wt.path,
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      fs.writeFileSync(lock, '');
      fs.writeFileSync(path.join(wt.path, 'y.txt'), 'y\n');
      await expect(commitAll(wt.path, 'while git works')).rejects.toThrow(/index\.lock/);
      expect(fs.existsSync(lock)).toBe(true);
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
    // main/'s lock is the merge queue's to report, never cleared by a commit elsewhere.
    const mainLock = path.join(b.main, '.git', 'index.lock');
    fs.writeFileSync(mainLock, '');
    fs.writeFileSync(path.join(wt.path, 'z.txt'), 'z\n');
    fs.rmSync(lock, { force: true });
    await commitAll(wt.path, 'main locked');
    expect(fs.existsSync(mainLock)).toBe(true);
    fs.rmSync(mainLock);
  });

  it('a worktree whose `git worktree add` was killed before its checkout finished is made again, not reused', async () => {
    const b = setup();
    fs.writeFileSync(path.join(b.main, 'smoke.mjs'), 'ok\n');
    git(b.main, 'add', '-A');
    git(b.main, 'commit', '-q', '-m', 'more files');
    git(b.main, 'branch', 'task-half');
    const target = path.join(b.baseDir, 'task-half');
    // What a SIGKILL in the middle of `git worktree add` leaves: the admin dir still marked "initializing", files
    // not (all) written, no index. Reused as it is, `git add -A` would commit every missing file as deleted.
    git(b.main, 'worktree', 'add', '--quiet', '--no-checkout', target, 'task-half');
    const admin = git(target, 'rev-parse', '--absolute-git-dir');
    fs.writeFileSync(path.join(admin, 'locked'), 'initializing\n');
    expect(fs.existsSync(path.join(target, 'smoke.mjs'))).toBe(false);

    const made = await createWorktree(b.baseDir, 'half');
    expect(made.state).toBe('reused-branch');
    expect(fs.readFileSync(path.join(target, 'smoke.mjs'), 'utf8')).toBe('ok\n');
    expect(git(target, 'status', '--porcelain')).toBe('');
    expect(fs.existsSync(path.join(git(target, 'rev-parse', '--absolute-git-dir'), 'locked'))).toBe(false);

    // Killed even before git wrote the worktree's .git file.
    git(b.main, 'branch', 'task-early');
    const early = path.join(b.baseDir, 'task-early');
    git(b.main, 'worktree', 'add', '--quiet', '--no-checkout', early, 'task-early');
    fs.writeFileSync(path.join(git(early, 'rev-parse', '--absolute-git-dir'), 'locked'), 'initializing\n');
    fs.rmSync(path.join(early, '.git'));
    expect((await createWorktree(b.baseDir, 'early')).state).toBe('reused-branch');
    expect(git(early, 'status', '--porcelain')).toBe('');
    expect(fs.existsSync(path.join(early, 'smoke.mjs'))).toBe(true);

    // Locked for another reason (someone's own `git worktree lock`), with work in it: reused, nothing removed.
    fs.writeFileSync(path.join(target, 'work.txt'), 'mine\n');
    git(b.main, 'worktree', 'lock', '--reason', 'keep this', target);
    expect((await createWorktree(b.baseDir, 'half')).state).toBe('reused-worktree');
    expect(fs.readFileSync(path.join(target, 'work.txt'), 'utf8')).toBe('mine\n');
  });

  it('creates task-<slug> from main HEAD, reuses it on a retry, removes it keeping the branch', async () => {
    const b = setup();
    const mainHead = git(b.main, 'rev-parse', 'HEAD');
    const first = await createWorktree(b.baseDir, 'alpha');
    expect(first).toEqual({ path: path.join(b.baseDir, 'task-alpha'), branch: 'task-alpha', head: mainHead, state: 'new' });
    expect(git(first.path, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('task-alpha');
    expect(fs.readFileSync(path.join(first.path, 'README.md'), 'utf8')).toBe('# sample\n');

    const again = await createWorktree(b.baseDir, 'alpha');
    expect(again.state).toBe('reused-worktree');
    expect(again.path).toBe(first.path);

    fs.writeFileSync(path.join(first.path, 'a.txt'), 'a\n');
    const sha = await commitAll(first.path, 'add a');
    expect(sha).toBe(git(first.path, 'rev-parse', 'HEAD'));

    const removed = await removeWorktree(b.baseDir, 'alpha', { keepBranch: true });
    expect(removed).toEqual({ path: first.path, branch: 'task-alpha', removed: true });
    expect(fs.existsSync(first.path)).toBe(false);
    expect(git(b.main, 'rev-parse', 'task-alpha')).toBe(sha);
    expect((await removeWorktree(b.baseDir, 'alpha')).removed).toBe(false);

    const back = await createWorktree(b.baseDir, 'alpha');
    expect(back.state).toBe('reused-branch');
    expect(back.head).toBe(sha);
    expect(fs.readFileSync(path.join(back.path, 'a.txt'), 'utf8')).toBe('a\n');
  });

  it('creates from a given ref', async () => {
    const b = setup();
    const first = git(b.main, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(b.main, 'later.txt'), 'later\n');
    git(b.main, 'add', 'later.txt');
    git(b.main, 'commit', '-q', '-m', 'later');
    const wt = await createWorktree(b.baseDir, 'old', { from: first });
    expect(wt.head).toBe(first);
    expect(fs.existsSync(path.join(wt.path, 'later.txt'))).toBe(false);
  });

  it('recovers when an earlier attempt left a worktree record whose directory was deleted', async () => {
    const b = setup();
    const wt = await createWorktree(b.baseDir, 'gone');
    fs.rmSync(wt.path, { recursive: true, force: true });
    const again = await createWorktree(b.baseDir, 'gone');
    expect(again.state).toBe('reused-branch');
    expect(fs.existsSync(path.join(again.path, 'README.md'))).toBe(true);
  });

  it('refuses slugs that would leave the base dir, and paths it did not create', async () => {
    const b = setup();
    for (const slug of ['../escape', 'a/b', '..', '-x', '', 'x.lock']) {
      await expect(createWorktree(b.baseDir, slug)).rejects.toBeInstanceOf(GitError);
    }
    fs.mkdirSync(path.join(b.baseDir, 'task-taken'));
    fs.writeFileSync(path.join(b.baseDir, 'task-taken', 'mine.txt'), 'user data');
    await expect(createWorktree(b.baseDir, 'taken')).rejects.toThrow(/already exists and is not a worktree/);
    expect(fs.readFileSync(path.join(b.baseDir, 'task-taken', 'mine.txt'), 'utf8')).toBe('user data');
    expect(fs.readdirSync(path.dirname(b.baseDir)).sort()).toEqual(['base', 'origin.git']);
  });

  it('never removes a worktree with uncommitted or untracked work', async () => {
    const b = setup();
    const wt = await createWorktree(b.baseDir, 'busy');
    fs.writeFileSync(path.join(wt.path, 'draft.txt'), 'precious');
    const err = await removeWorktree(b.baseDir, 'busy').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as GitError).message).toMatch(/uncommitted changes.*draft\.txt/);
    expect(fs.readFileSync(path.join(wt.path, 'draft.txt'), 'utf8')).toBe('precious');

    fs.rmSync(path.join(wt.path, 'draft.txt'));
    fs.appendFileSync(path.join(wt.path, 'README.md'), 'edit\n');
    await expect(removeWorktree(b.baseDir, 'busy')).rejects.toThrow(/README\.md/);
    expect(fs.readFileSync(path.join(wt.path, 'README.md'), 'utf8')).toBe('# sample\nedit\n');
  });
});

describe('deleteMergedTaskBranch', () => {
  it("deletes a merged task branch with branch -d, keeps an unmerged one with git's reason, and says when there is none", async () => {
    const b = setup();
    const merged = await createWorktree(b.baseDir, 'done');
    fs.writeFileSync(path.join(merged.path, 'done.txt'), 'done\n');
    await commitAll(merged.path, 'done');
    git(b.main, 'merge', '-q', '--no-ff', '-m', 'merge done', 'task-done');
    await removeWorktree(b.baseDir, 'done');
    expect(await deleteMergedTaskBranch(b.baseDir, 'done')).toEqual({ branch: 'task-done', outcome: 'deleted' });
    expect(await listBranches(b.main)).toEqual(['main']);

    const open = await createWorktree(b.baseDir, 'open');
    fs.writeFileSync(path.join(open.path, 'open.txt'), 'open\n');
    const sha = await commitAll(open.path, 'open');
    await removeWorktree(b.baseDir, 'open');
    const kept = await deleteMergedTaskBranch(b.baseDir, 'open');
    expect(kept.outcome).toBe('refused');
    expect(kept.reason).toMatch(/not fully merged/);
    expect(git(b.main, 'rev-parse', 'task-open')).toBe(sha);

    expect(await deleteMergedTaskBranch(b.baseDir, 'never')).toEqual({ branch: 'task-never', outcome: 'absent' });
    await expect(deleteMergedTaskBranch(b.baseDir, '-D')).rejects.toBeInstanceOf(GitError);
  });
});

describe('commitAll', () => {
  it('commits everything with the repository identity, and returns null when there is nothing', async () => {
    const b = setup();
    const wt = await createWorktree(b.baseDir, 'c');
    expect(await commitAll(wt.path, 'nothing')).toBeNull();
    fs.mkdirSync(path.join(wt.path, 'src'));
    fs.writeFileSync(path.join(wt.path, 'src', 'x.ts'), 'export {};\n');
    fs.writeFileSync(path.join(wt.path, '.gitignore'), 'out/\n');
    fs.mkdirSync(path.join(wt.path, 'out'));
    fs.writeFileSync(path.join(wt.path, 'out', 'build.js'), 'ignored');
    const sha = await commitAll(wt.path, 'add x');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(git(wt.path, 'log', '-1', '--format=%an <%ae>|%s')).toBe('Test User <test@example.invalid>|add x');
    expect(git(wt.path, 'show', '--name-only', '--format=', 'HEAD').split('\n').sort()).toEqual(['.gitignore', 'src/x.ts']);
    expect(await isDirty(wt.path)).toBe(false);
  });

  it('fails with a clear GitError when no identity is configured anywhere', async () => {
    const b = setup();
    const repo = path.join(b.root, 'noident');
    fs.mkdirSync(repo);
    const saved = { ...process.env };
    try {
      process.env.GIT_CONFIG_GLOBAL = path.join(b.root, 'empty-gitconfig');
      process.env.GIT_CONFIG_NOSYSTEM = '1';
      for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'EMAIL']) delete process.env[k];
      git(repo, 'init', '-q', '-b', 'main');
      fs.writeFileSync(path.join(repo, 'f.txt'), 'f');
      const err = await commitAll(repo, 'first').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitError);
      expect((err as GitError).message).toMatch(/no commit identity \(user\.name and user\.email not set\)/);
      expect((err as GitError).hint).toMatch(/git config --global user\.name/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('changedFiles / diffAgainst', () => {
  it('lists the branch changes since it forked and bounds the diff', async () => {
    const b = setup({ 'README.md': '# sample\n', 'old.txt': 'old\n'.repeat(50), 'gone.txt': 'bye\n' });
    const wt = await createWorktree(b.baseDir, 'd');
    fs.writeFileSync(path.join(wt.path, 'big.txt'), Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n'));
    fs.renameSync(path.join(wt.path, 'old.txt'), path.join(wt.path, 'new.txt'));
    fs.rmSync(path.join(wt.path, 'gone.txt'));
    fs.appendFileSync(path.join(wt.path, 'README.md'), 'more\n');
    await commitAll(wt.path, 'changes');
    // main moves on meanwhile; the branch's diff must not include main's own change
    fs.writeFileSync(path.join(b.main, 'main-only.txt'), 'm\n');
    git(b.main, 'add', '.');
    git(b.main, 'commit', '-q', '-m', 'main moves');

    const files = await changedFiles(wt.path, 'main');
    expect(files).toEqual([
      { status: 'M', path: 'README.md' },
      { status: 'A', path: 'big.txt' },
      { status: 'D', path: 'gone.txt' },
      { status: 'R', path: 'new.txt', from: 'old.txt' },
    ]);

    const full = await diffAgainst(wt.path, 'main', { maxBytes: 1_000_000 });
    expect(full.truncated).toBe(false);
    expect(full.diff).toContain('+line 4999');
    expect(full.files.find((f) => f.path === 'big.txt')).toMatchObject({ additions: 5000, deletions: 0 });
    expect(full.files.find((f) => f.path === 'README.md')).toMatchObject({ additions: 1, deletions: 0 });
    expect(full.diff).not.toContain('main-only');

    const small = await diffAgainst(wt.path, 'main', { maxBytes: 4096 });
    expect(small.truncated).toBe(true);
    expect(small.files).toHaveLength(4);
    expect(small.diff).toMatch(/\[diff truncated at 4096 bytes; 4 file\(s\) changed in total/);
    const body = small.diff.slice(0, small.diff.indexOf('\n[diff truncated'));
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(4096);
    expect(body.endsWith('\n')).toBe(true);
  });
});
