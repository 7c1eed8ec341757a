import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWorktreePointer } from '../../src/git/git-hardening.js';
import { bwrapArgs, refusedEnvNames, sandboxEnv } from '../../src/sandbox/index.js';
import { effectiveClass, sandboxProfile } from '../../src/tools/run-repo-command/sandbox-profile.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

describe('effectiveClass', () => {
  it("keeps the guard's class; without one, git-only lines get the git profile they need and the rest edit", () => {
    expect(effectiveClass('install', [['npm', 'ci']])).toBe('install');
    expect(effectiveClass(undefined, [['npm', 'test']])).toBe('edit');
    expect(
      effectiveClass(undefined, [
        ['git', 'status'],
        ['git', 'log', '-3'],
      ]),
    ).toBe('inspect');
    expect(effectiveClass(undefined, [['git', '-C', 'x', 'diff']])).toBe('inspect');
    expect(effectiveClass(undefined, [['git', 'worktree', 'add', '../t', '-b', 't']])).toBe('git-write');
    // repository code beside a git write never gets writable objects and refs, whatever the class says
    expect(
      effectiveClass(undefined, [
        ['git', 'add', '-A'],
        ['git', 'commit', '-m', 'x'],
        ['npm', 'test'],
      ]),
    ).toBe('edit');
    expect(
      effectiveClass('git-write', [
        ['git', 'commit', '-m', 'x'],
        ['node', 't.js'],
      ]),
    ).toBe('edit');
    expect(effectiveClass('merge', [['git', 'merge', '--no-ff', 't'], ['make']])).toBe('edit');
    expect(
      effectiveClass('git-write', [
        ['git', 'commit', '-m', 'x'],
        ['git', 'log', '-1'],
        ['head', '-1'],
      ]),
    ).toBe('git-write');
    expect(
      effectiveClass('git-write', [
        ['git', 'commit', '-m', 'x'],
        ['sed', '-n', 's/[/]*/rm -rf x;/e', 'f'],
      ]),
    ).toBe('edit');
    // in main/ the git profile is for git alone
    expect(
      effectiveClass(
        undefined,
        [
          ['git', 'add', '-A'],
          ['git', 'commit', '-m', 'x'],
          ['npm', 'test'],
        ],
        true,
      ),
    ).toBe('edit');
    expect(effectiveClass(undefined, [['git', 'worktree', 'add', '../t', '-b', 't']], true)).toBe('git-write');
    expect(effectiveClass(undefined, [['git', 'merge', '--no-ff', 't']])).toBe('merge');
    expect(
      effectiveClass(undefined, [
        ['git', 'merge', 't'],
        ['npm', 'test'],
      ]),
    ).toBe('edit');
    expect(effectiveClass(undefined, [['git', 'stash']])).toBe('edit');
    expect(effectiveClass(undefined, [])).toBe('edit');
  });
});

describe('sandboxEnv', () => {
  it('passes only the allowlist and listed names, never keys, tokens, the agent or loader variables', () => {
    const base = {
      PATH: '/bin',
      LANG: 'C.UTF-8',
      OPENAI_API_KEY: 'sk',
      GITHUB_TOKEN: 't',
      SSH_AUTH_SOCK: '/s',
      LD_PRELOAD: '/x.so',
      NODE_ENV: 'test',
      DATABASE_URL: 'pg://',
      HTTPS_PROXY: 'http://p',
    };
    const env = sandboxEnv({ network: false, extra: ['NODE_ENV', 'OPENAI_API_KEY', 'MY_SECRET'], base });
    expect(env.PATH).toBe('/bin');
    expect(env.NODE_ENV).toBe('test');
    for (const k of ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'SSH_AUTH_SOCK', 'LD_PRELOAD', 'DATABASE_URL', 'HTTPS_PROXY', 'MY_SECRET', 'HOME'])
      expect(env[k], k).toBeUndefined();
    expect(env.GIT_CONFIG_NOSYSTEM).toBe('1');
    expect(sandboxEnv({ network: true, extra: [], base }).HTTPS_PROXY).toBe('http://p');
    expect(refusedEnvNames(['NODE_ENV', 'OPENAI_API_KEY', 'NPM_TOKEN'])).toEqual(['OPENAI_API_KEY', 'NPM_TOKEN']);
  });
});

describe('profiles and bwrap arguments', () => {
  const { setup } = useTempBase();

  it('git-write in main/ makes the base dir writable for the new worktree, but hides the state dir again and keeps main/ and config read-only', () => {
    const t = setup();
    const stateDir = path.join(t.baseDir, '.codex-orchestrator');
    fs.mkdirSync(stateDir, { recursive: true });
    const p = sandboxProfile('git-write', { baseDir: t.baseDir, worktree: 'main', cwd: t.main, stateDir });
    const a = bwrapArgs(p, t.main);
    const idx = (flag: string, target: string) => a.findIndex((x, i) => x === flag && a[i + (flag === '--tmpfs' ? 1 : 2)] === target);
    const rwBase = idx('--bind', t.baseDir);
    expect(rwBase).toBeGreaterThan(0);
    const hides = a.map((x, i) => (x === '--tmpfs' && a[i + 1] === stateDir ? i : -1)).filter((i) => i >= 0);
    expect(hides.some((i) => i > rwBase)).toBe(true);
    expect(idx('--ro-bind', t.main)).toBeGreaterThan(rwBase);
    expect(idx('--bind', path.join(t.main, '.git'))).toBeGreaterThan(idx('--ro-bind', t.main));
    expect(idx('--ro-bind', path.join(t.main, '.git', 'config'))).toBeGreaterThan(idx('--bind', path.join(t.main, '.git')));
    expect(a).toContain('--unshare-all');
    expect(a).not.toContain('--share-net');
  });

  it("a git write is pinned to the worktree's own repository (a planted sub/.git is never used); other classes are not", () => {
    const t = setup();
    git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
    const wt = path.join(t.baseDir, 'task-a');
    const gw = sandboxProfile('git-write', { baseDir: t.baseDir, worktree: 'task-a', cwd: wt });
    expect(gw.env.GIT_DIR).toBe(fs.realpathSync(path.join(t.main, '.git', 'worktrees', 'task-a')));
    expect(gw.env.GIT_WORK_TREE).toBe(fs.realpathSync(wt));
    expect(sandboxProfile('merge', { baseDir: t.baseDir, worktree: 'main', cwd: t.main }).env.GIT_DIR).toBe(
      fs.realpathSync(path.join(t.main, '.git')),
    );
    expect(sandboxProfile('edit', { baseDir: t.baseDir, worktree: 'task-a', cwd: wt }).env.GIT_DIR).toBeUndefined();
  });

  it('edit in main/ is a throwaway overlay; install has the network', () => {
    const t = setup();
    expect(sandboxProfile('edit', { baseDir: t.baseDir, worktree: 'main', cwd: t.main }).overlay).toEqual([t.main]);
    const inst = sandboxProfile('install', { baseDir: t.baseDir, worktree: 'main', cwd: t.main });
    expect(inst.network).toBe(true);
    expect(bwrapArgs(inst, t.main)).toContain('--share-net');
  });
});

describe('checkWorktreePointer', () => {
  const { setup } = useTempBase();
  it('accepts a real linked worktree and refuses a rewritten .git pointer or commondir', () => {
    const t = setup();
    git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
    const wt = path.join(t.baseDir, 'task-a');
    expect(() => checkWorktreePointer(wt)).not.toThrow();
    expect(() => checkWorktreePointer(t.main)).not.toThrow();
    const pointer = fs.readFileSync(path.join(wt, '.git'), 'utf8');
    fs.mkdirSync(path.join(wt, 'evil', 'worktrees', 'x'), { recursive: true });
    fs.writeFileSync(path.join(wt, '.git'), 'gitdir: evil/worktrees/x\n');
    expect(() => checkWorktreePointer(wt)).toThrow(/inside the worktree/);
    fs.writeFileSync(path.join(wt, '.git'), pointer);
    const meta = path.join(t.main, '.git', 'worktrees', 'task-a');
    fs.writeFileSync(path.join(meta, 'commondir'), '../../../../task-a/evil\n');
    expect(() => checkWorktreePointer(wt)).toThrow(/commondir points at/);
    fs.writeFileSync(path.join(meta, 'commondir'), '../..\n');
    expect(() => checkWorktreePointer(wt)).not.toThrow();
  });
});
