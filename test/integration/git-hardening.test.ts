import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { branchDiff, commitAll, createWorktree, diffAgainst, runGit } from '../../src/git/index.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const { setup } = useTempBase();

/** A program that records that it ran (and fails, as a refusing signer would). */
function evilProgram(root: string): { program: string; marker: string } {
  const marker = path.join(root, 'evil-ran');
  const program = path.join(root, 'evil.sh');
  fs.writeFileSync(program, `#!/bin/sh\necho "$0 $*" >> '${marker}'\nexit 1\n`, { mode: 0o755 });
  return { program, marker };
}

/** A task worktree `task-<slug>` whose branch has one commit writing `file`; its path. */
async function branchWithCommit(baseDir: string, slug: string, file: string, content: string): Promise<string> {
  await createWorktree(baseDir, slug);
  const wt = path.join(baseDir, `task-${slug}`);
  fs.writeFileSync(path.join(wt, file), content);
  await commitAll(wt, `change ${file}`);
  return wt;
}

/** Plain git (not the program's): proves the planted entry really runs the program. */
function plainGitRuns(cwd: string, args: string[]): void {
  try {
    execFileSync('git', args, { cwd, stdio: 'ignore' });
  } catch {
    /* the evil program fails on purpose */
  }
}

describe("the program's hardened git runs no program a repository's .git/config names", () => {
  it('commit.gpgSign with gpg.program (openpgp, x509 and ssh formats): the commit is made unsigned, nothing runs', async () => {
    const b = setup();
    const { program, marker } = evilProgram(b.root);
    for (const [format, key] of [
      ['openpgp', 'gpg.program'],
      ['x509', 'gpg.x509.program'],
      ['ssh', 'gpg.ssh.program'],
    ] as const) {
      git(b.main, 'config', 'commit.gpgsign', 'true');
      git(b.main, 'config', 'gpg.format', format);
      git(b.main, 'config', key, program);
      git(b.main, 'config', 'user.signingkey', 'key-id');
      if (format === 'openpgp') git(b.main, 'config', 'gpg.openpgp.program', program);

      // The control: git without the hardening obeys the entry and runs the program.
      fs.writeFileSync(path.join(b.main, `control-${format}.txt`), 'x\n');
      git(b.main, 'add', '-A');
      plainGitRuns(b.main, ['commit', '-q', '-m', 'control']);
      expect(fs.existsSync(marker), `plain git ran ${key}`).toBe(true);
      fs.rmSync(marker);

      const sha = await commitAll(b.main, `signed? ${format}`);
      expect(sha).toMatch(/^[0-9a-f]{40}$/);
      expect(fs.existsSync(marker), `the program's commit ran ${key}`).toBe(false);
      expect(git(b.main, 'cat-file', '-p', 'HEAD')).not.toContain('gpgsig');
    }
  });

  it('gpg.ssh.defaultKeyCommand, tag.gpgSign, merge.verifySignatures and log.showSignature start nothing', async () => {
    const b = setup();
    const { program, marker } = evilProgram(b.root);
    await branchWithCommit(b.baseDir, 'alpha', 'a.txt', 'a\n');
    for (const [k, v] of [
      ['gpg.format', 'ssh'],
      ['gpg.ssh.defaultKeyCommand', program],
      ['gpg.ssh.program', program],
      ['gpg.program', program],
      ['tag.gpgSign', 'true'],
      ['merge.verifySignatures', 'true'],
      ['log.showSignature', 'true'],
    ] as const)
      git(b.main, 'config', k, v);
    plainGitRuns(b.main, ['tag', '-a', '-m', 'control', 'control']);
    expect(fs.existsSync(marker), 'plain git tag ran the signing key command').toBe(true);
    fs.rmSync(marker);

    await runGit(b.main, ['log', '-1', 'task-alpha']);
    await runGit(b.main, ['merge', '--no-ff', '-m', 'Merge task-alpha', 'task-alpha']);
    await runGit(b.main, ['tag', '-a', '-m', 'a tag', 'v1']);
    expect(fs.existsSync(marker)).toBe(false);
    expect(git(b.main, 'cat-file', '-p', 'v1')).not.toContain('SIGNATURE');
  });

  it('diff.external, a diff driver command/textconv, core.editor, sequence.editor and core.pager start nothing', async () => {
    const b = setup({ 'README.md': '# sample\n', '.gitattributes': '* diff=evil\n' });
    const { program, marker } = evilProgram(b.root);
    const wt = await branchWithCommit(b.baseDir, 'beta', 'README.md', '# sample\nchanged\n');
    for (const [k, v] of [
      ['diff.external', program],
      ['diff.evil.command', program],
      ['diff.evil.textconv', program],
      ['core.editor', program],
      ['sequence.editor', program],
      ['core.pager', program],
    ] as const)
      git(b.main, 'config', k, v);
    plainGitRuns(b.main, ['diff', 'main', 'task-beta']);
    expect(fs.existsSync(marker), 'plain git diff ran the external diff').toBe(true);
    fs.rmSync(marker);

    const review = await diffAgainst(wt, 'main');
    expect(review.diff).toContain('+changed');
    const diff = await branchDiff(b.main, 'main', 'task-beta');
    expect(diff.files.map((f) => f.path)).toEqual(['README.md']);
    await runGit(b.main, ['commit', '--allow-empty', '-q', '-m', 'no editor']);
    await runGit(b.main, ['merge', '--no-ff', '--no-edit', 'task-beta']);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("filter and merge drivers the repository's config (or a file it includes) names for committed .gitattributes start nothing", async () => {
    const b = setup({ 'README.md': '# sample\n', 'a.txt': 'one\n', '.gitattributes': '*.txt filter=evil merge=Evil.Driver\n' });
    const { program, marker } = evilProgram(b.root);
    const included = path.join(b.root, 'included.gitconfig');
    fs.writeFileSync(included, `[merge "Evil.Driver"]\n\tdriver = ${program} %O %A %B\n`);
    fs.appendFileSync(
      path.join(b.main, '.git', 'config'),
      `[filter "evil"]\n\tclean = ${program}\n\tsmudge = ${program}\n\trequired = true\n[includeIf "gitdir:/"]\n\tpath = ${included}\n`,
    );
    fs.writeFileSync(path.join(b.main, 'control.txt'), 'x\n');
    plainGitRuns(b.main, ['add', 'control.txt']);
    expect(fs.existsSync(marker), 'plain git add ran the clean filter').toBe(true);
    fs.rmSync(marker);
    fs.rmSync(path.join(b.main, 'control.txt'));

    await createWorktree(b.baseDir, 'gamma'); // a checkout: smudge
    const wt = path.join(b.baseDir, 'task-gamma');
    fs.writeFileSync(path.join(wt, 'a.txt'), 'one\ngamma\n');
    await commitAll(wt, 'gamma'); // git add: clean
    fs.writeFileSync(path.join(b.main, 'a.txt'), 'one\nmain\n');
    await commitAll(b.main, 'main');
    const merge = await runGit(b.main, ['merge', '--no-ff', '--no-edit', 'task-gamma'], { allowFail: true }); // a content merge: the driver
    // The emptied driver is no program: git says it cannot run it and stops before touching main/.
    expect(merge.exitCode).not.toBe(0);
    expect(merge.stderr).toContain('cannot run');
    expect((await runGit(b.main, ['status', '--porcelain'])).stdout).toBe('');
    expect(fs.existsSync(marker)).toBe(false);
  });
});
