import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export interface TempBase {
  root: string;
  baseDir: string;
  main: string;
  origin: string;
  stateDir: string;
  cleanup: () => void;
}

/**
 * A temporary base dir with `main/` as a git repository on branch main with one
 * commit, a local identity (CI machines may have none), and a bare `origin`
 * outside the base dir that main has pushed to once — tests assert it stays untouched.
 */
export function makeTempBase(files: Record<string, string> = { 'README.md': '# sample\n' }): TempBase {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'co-test-')));
  const baseDir = path.join(root, 'base');
  const main = path.join(baseDir, 'main');
  const origin = path.join(root, 'origin.git');
  const stateDir = path.join(root, 'state');
  fs.mkdirSync(main, { recursive: true });
  git(root, 'init', '-q', '--bare', '-b', 'main', origin);
  git(main, 'init', '-q', '-b', 'main');
  git(main, 'config', 'user.name', 'Test User');
  git(main, 'config', 'user.email', 'test@example.invalid');
  git(main, 'config', 'commit.gpgsign', 'false');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(main, name)), { recursive: true });
    fs.writeFileSync(path.join(main, name), content);
  }
  git(main, 'add', '-A');
  git(main, 'commit', '-q', '-m', 'initial commit');
  git(main, 'remote', 'add', 'origin', origin);
  git(main, 'push', '-q', 'origin', 'main');
  return { root, baseDir, main, origin, stateDir, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** A fingerprint of every ref in a repository (to prove a remote was not touched). */
export function refsFingerprint(repo: string): string {
  return git(repo, 'for-each-ref', '--format=%(refname) %(objectname)');
}
