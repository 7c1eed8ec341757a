import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { presentCommits } from '../../src/git/repo.js';
import { acquireSlot } from '../../src/queue/agent-worktrees.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';

let base: TempBase | undefined;
afterEach(() => {
  base?.cleanup();
  base = undefined;
});

/** The clone stands for an agent's: main/ with a second commit; its slots go in a work dir beside it. */
function rig() {
  base = makeTempBase({ 'README.md': '# r\n', '.gitignore': 'build/\n', 'src/a.txt': 'a1\n' });
  const clone = base.main;
  const first = git(clone, 'rev-parse', 'HEAD');
  fs.writeFileSync(path.join(clone, 'src/a.txt'), 'a2\n');
  fs.writeFileSync(path.join(clone, 'src/b.txt'), 'b2\n');
  git(clone, 'add', '-A');
  git(clone, 'commit', '-q', '-m', 'second');
  const second = git(clone, 'rev-parse', 'HEAD');
  return { clone, first, second, workDir: path.join(base.root, 'agent-work') };
}

describe("an agent's reused worktree slots", () => {
  it('a reused slot is pristine at the new start, which may still be on its way when the slot is taken', async () => {
    const { clone, first, second, workDir } = rig();
    const one = await acquireSlot(clone, workDir, first);
    expect(one.name).toBe('task-slot-0');
    expect(git(one.path, 'rev-parse', 'HEAD')).toBe(first);
    // What an attempt leaves behind: a half-done merge, an edit, an untracked file, an ignored build.
    git(one.path, 'merge', '--no-ff', '--no-commit', second);
    fs.writeFileSync(path.join(one.path, 'README.md'), 'edited\n');
    fs.writeFileSync(path.join(one.path, 'stray.txt'), 'x\n');
    fs.mkdirSync(path.join(one.path, 'build'));
    fs.writeFileSync(path.join(one.path, 'build/out.js'), 'x\n');
    one.release();

    let arrive!: (sha: string) => void;
    const later = new Promise<string>((resolve) => (arrive = resolve));
    const taking = acquireSlot(clone, workDir, later);
    setTimeout(() => arrive(second), 100);
    const two = await taking;
    expect(two.path).toBe(one.path);
    expect(git(two.path, 'rev-parse', 'HEAD')).toBe(second);
    expect(git(two.path, 'status', '--porcelain', '--ignored')).toBe('');
    expect(fs.existsSync(path.join(git(two.path, 'rev-parse', '--absolute-git-dir'), 'MERGE_HEAD'))).toBe(false);
    expect(fs.readFileSync(path.join(two.path, 'src/a.txt'), 'utf8')).toBe('a2\n');
    expect(fs.readFileSync(path.join(two.path, 'README.md'), 'utf8')).toBe('# r\n');
    two.release();
  });

  it('two holders get two slots; a start that cannot be had fails the acquisition, frees the slot and keeps its tree', async () => {
    const { clone, first, workDir } = rig();
    const [a, b] = await Promise.all([acquireSlot(clone, workDir, first), acquireSlot(clone, workDir, first)]);
    expect([a.name, b.name].sort()).toEqual(['task-slot-0', 'task-slot-1']);
    a.release();
    b.release();
    const marker = path.join(workDir, 'task-slot-0', 'README.md');
    await expect(acquireSlot(clone, workDir, Promise.reject(new Error('bundle did not apply')))).rejects.toThrow('bundle did not apply');
    expect(fs.existsSync(marker)).toBe(true);
    const again = await acquireSlot(clone, workDir, first);
    expect(again.name).toBe('task-slot-0');
    again.release();
    // A lock left by a process that is gone is taken over.
    fs.writeFileSync(path.join(workDir, '.slots', '0.lock'), '999999999');
    const taken = await acquireSlot(clone, workDir, first);
    expect(taken.name).toBe('task-slot-0');
    taken.release();
  });

  it('presentCommits tells which commits a repository has, in one call', async () => {
    const { clone, first, second } = rig();
    const missing = 'f'.repeat(40);
    const tree = git(clone, 'rev-parse', 'HEAD^{tree}');
    expect(await presentCommits(clone, [first, missing, second, tree, 'not-a-sha', first])).toEqual(new Set([first, second]));
    expect(await presentCommits(clone, [])).toEqual(new Set());
  });
});
