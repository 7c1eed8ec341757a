import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { runRepoCommand, type GatewayContext } from '../../src/tools/run-repo-command/gateway.js';
import { readCommandLog } from '../../src/tools/run-repo-command/log.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import { renderForModel } from '../../src/tools/run-repo-command/render.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';

describe('run_repo_command gateway (real git, real processes)', () => {
  let t: TempBase;
  let config: Config;
  let ctx: GatewayContext;
  let logFile: string;

  beforeEach(() => {
    t = makeTempBase();
    logFile = path.join(t.stateDir, 'cmd.log');
    config = loadConfig({
      env: {
        ORCHESTRATOR_BASE_DIR: t.baseDir,
        ORCHESTRATOR_STATE_DIR: t.stateDir,
        ORCHESTRATOR_COMMAND_LOG: logFile,
        ORCHESTRATOR_COMMAND_TIMEOUT_MS: '1500',
      },
      dotenvDir: null,
    });
    ctx = { config, baseDir: t.baseDir, policy: loadPolicy(config.policyFile) };
  });
  afterEach(() => t.cleanup());

  it('runs an allowed command in the worktree and logs it', async () => {
    const r = await runRepoCommand({ worktree: 'main', command: 'git rev-parse --abbrev-ref HEAD && pwd' }, ctx);
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('main\n');
    expect(r.stdout).toContain(t.main);
    const log = readCommandLog(logFile);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ worktree: 'main', allowed: true, rule: null, exitCode: 0, dryRun: false });
    for (const k of ['ts', 'worktree', 'command', 'allowed', 'rule', 'exitCode', 'durationMs', 'dryRun']) expect(log[0]).toHaveProperty(k);
  });

  it('creates a worktree beside main and commits in it', async () => {
    expect((await runRepoCommand({ worktree: 'main', command: 'git worktree add ../task-x -b task-x' }, ctx)).ok).toBe(true);
    expect(fs.existsSync(path.join(t.baseDir, 'task-x', 'README.md'))).toBe(true);
    fs.writeFileSync(path.join(t.baseDir, 'task-x', 'new.txt'), 'x\n');
    const c = await runRepoCommand(
      { worktree: 'task-x', command: 'git add -A && git commit -q -m "add new" && git log --oneline -1' },
      ctx,
    );
    expect(c.ok).toBe(true);
    expect(c.stdout).toContain('add new');
    const m = await runRepoCommand({ worktree: 'main', command: 'git merge --no-ff task-x -m "Merge task-x"' }, ctx);
    expect(m.ok).toBe(true);
    expect(git(t.main, 'log', '-1', '--format=%P').split(' ')).toHaveLength(2);
  });

  it("carries the guard's analysis and class to the result and the log; main/'s working tree stays the user's", async () => {
    const r = await runRepoCommand({ worktree: 'main', command: 'git status --short | head -3' }, ctx);
    expect(r.ok).toBe(true);
    expect(r.analysis?.commands.map((c) => c.words[0])).toEqual(['git', 'head']);
    expect(r.analysis?.commands[0]).toMatchObject({ gitSubcommand: 'status', commandClass: 'inspect' });
    const w = await runRepoCommand({ worktree: 'main', command: 'echo pwned > pwned.txt' }, ctx);
    expect(w).toMatchObject({ ok: false, denied: true, rule: 'main-write' });
    expect(fs.existsSync(path.join(t.main, 'pwned.txt'))).toBe(false);
    const a = await runRepoCommand({ worktree: 'main', command: 'git worktree add ../task-y -b task-y' }, ctx);
    expect(a.ok).toBe(true);
    const e = await runRepoCommand({ worktree: 'task-y', command: 'echo x > ../main/pwned.txt' }, ctx);
    expect(e).toMatchObject({ denied: true, rule: 'redirect' });
    expect(fs.existsSync(path.join(t.main, 'pwned.txt'))).toBe(false);
    const log = readCommandLog(logFile);
    expect(log.map((x) => x.commandClass ?? null)).toEqual(['inspect', null, 'git-write', null]);
  });

  it('root-cause attack lines are denied before anything runs: .git/config, refs, origin and main/ unchanged', async () => {
    fs.writeFileSync(path.join(t.main, 'user-work.txt'), 'uncommitted\n');
    expect((await runRepoCommand({ worktree: 'main', command: 'git worktree add ../task-z -b task-z' }, ctx)).ok).toBe(true);
    const config0 = fs.readFileSync(path.join(t.main, '.git', 'config'), 'utf8');
    const refs0 = refsFingerprint(t.main);
    const origin0 = refsFingerprint(t.origin);
    const attacks: Array<[string, string]> = [
      ['task-z', "git config core.fsmonitor 'touch ../pwned'"],
      ['task-z', 'git config -- core.hooksPath .'],
      ['task-z', 'git -C .git log --output=config -1'],
      ['task-z', 'git checkout -fB main HEAD'],
      ['task-z', 'git fetch -uf . task-z:refs/heads/main'],
      ['task-z', 'git commit -aF/etc/passwd'],
      ['task-z', 'echo x > ../main/user-work.txt'],
      ['task-z', 'git worktree remove --force ../main'],
      ['task-z', 'GCONV_PATH=. git status'],
      ['task-z', "make --ev='$(shell touch ../pwned)'"],
      ['main', 'git checkout -- .'],
      ['main', 'git stash -u'],
      ['main', 'git restore user-work.txt'],
      ['main', 'echo x > user-work.txt'],
      ['main', 'ls ('],
    ];
    for (const [worktree, command] of attacks) {
      const r = await runRepoCommand({ worktree, command }, ctx);
      expect({ command, denied: r.denied, exitCode: r.exitCode }).toEqual({ command, denied: true, exitCode: null });
    }
    expect(fs.readFileSync(path.join(t.main, '.git', 'config'), 'utf8')).toBe(config0);
    expect(refsFingerprint(t.main)).toBe(refs0);
    expect(refsFingerprint(t.origin)).toBe(origin0);
    expect(fs.readFileSync(path.join(t.main, 'user-work.txt'), 'utf8')).toBe('uncommitted\n');
    expect(fs.existsSync(path.join(t.baseDir, 'pwned'))).toBe(false);
  });

  it('denies a push, runs nothing, leaves origin untouched, and logs the denial', async () => {
    const before = refsFingerprint(t.origin);
    fs.writeFileSync(path.join(t.main, 'f.txt'), 'f\n');
    git(t.main, 'add', 'f.txt');
    git(t.main, 'commit', '-q', '-m', 'f');
    for (const command of ['git push origin main', 'git status && git -c x.y=1 push origin main', 'echo "$(git push)"']) {
      const r = await runRepoCommand({ worktree: 'main', command }, ctx);
      expect(r.denied, command).toBe(true);
      expect(r.exitCode).toBeNull();
      expect(renderForModel(r)).toMatch(/^DENIED \(rule /);
    }
    expect(refsFingerprint(t.origin)).toBe(before);
    const log = readCommandLog(logFile);
    expect(log.filter((e) => !e.allowed)).toHaveLength(3);
  });

  it('dry-run checks and logs but executes nothing', async () => {
    const r = await runRepoCommand({ worktree: 'main', command: 'git worktree add ../task-dry -b task-dry' }, { ...ctx, dryRun: true });
    expect(r).toMatchObject({ ok: true, dryRun: true, exitCode: null, denied: false });
    expect(fs.existsSync(path.join(t.baseDir, 'task-dry'))).toBe(false);
    const denied = await runRepoCommand({ worktree: 'main', command: 'git push' }, { ...ctx, dryRun: true });
    expect(denied.denied).toBe(true);
    const log = readCommandLog(logFile);
    expect(log.map((e) => [e.dryRun, e.exitCode, e.allowed])).toEqual([
      [true, null, true],
      [true, null, false],
    ]);
  });

  it('kills the whole process group on timeout: no orphans (the sandbox has its own PID namespace)', async () => {
    git(t.main, 'worktree', 'add', '-q', '../task-spin', '-b', 'task-spin');
    const wt = path.join(t.baseDir, 'task-spin');
    // A detached background child that would write a marker after the command was killed.
    fs.writeFileSync(
      path.join(wt, 'spin.sh'),
      `(setsid bash -c 'sleep 2; echo alive > marker.txt' &)\necho started > started.txt\nsleep 30\n`,
    );
    // `sh` is not on the allowlist: run the script through the allowed `make` instead.
    fs.writeFileSync(path.join(wt, 'Makefile'), 'spin:\n\t@bash ./spin.sh\n');
    const slow = await runRepoCommand({ worktree: 'task-spin', command: 'make spin' }, ctx);
    expect(slow.timedOut).toBe(true);
    expect(slow.ok).toBe(false);
    expect(slow.stderr).toMatch(/timed out/);
    expect(fs.existsSync(path.join(wt, 'started.txt'))).toBe(true);
    await new Promise((r2) => setTimeout(r2, 3000));
    expect(fs.existsSync(path.join(wt, 'marker.txt'))).toBe(false);
  });

  it('aborting kills the running command', async () => {
    fs.writeFileSync(path.join(t.main, 'Makefile'), 'wait:\n\t@sleep 30\n');
    const controller = new AbortController();
    const p = runRepoCommand(
      { worktree: 'main', command: 'make wait' },
      { ...ctx, signal: controller.signal, config: { ...config, commandTimeoutMs: 60_000 } },
    );
    setTimeout(() => controller.abort(), 300);
    const r = await p;
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/aborted/);
  });

  it('caps output, keeping head and tail', async () => {
    const small = { ...ctx, config: { ...config, outputCapBytes: 2000 } };
    fs.writeFileSync(path.join(t.main, 'big.txt'), `${'HEAD\n'}${'x'.repeat(100_000)}\nTAIL\n`);
    const r = await runRepoCommand({ worktree: 'main', command: 'cat big.txt' }, small);
    expect(r.ok).toBe(true);
    expect(r.truncated).toBe(true);
    expect(r.stdout.startsWith('HEAD')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('TAIL')).toBe(true);
    expect(r.stdout).toMatch(/bytes cut from the middle/);
    expect(r.stdout.length).toBeLessThan(3000);
  });

  it('trace prints each call and decision', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    await runRepoCommand({ worktree: 'main', command: 'git status --short' }, { ...ctx, trace: true, traceStream: stream });
    await runRepoCommand({ worktree: 'main', command: 'rm -rf /' }, { ...ctx, trace: true, traceStream: stream });
    expect(text).toContain('main$ git status --short');
    expect(text).toMatch(/→ ALLOW/);
    expect(text).toMatch(/rm -rf \/\n {2}→ DENY/);
  });

  it('refuses worktree escapes and malformed requests as results, never exceptions', async () => {
    for (const worktree of ['../main', '', '/etc', '.', 'nope']) {
      const r = await runRepoCommand({ worktree, command: 'ls' }, ctx);
      expect(r.denied, worktree).toBe(true);
      expect(r.rule).toBe('worktree');
    }
    const bad = await runRepoCommand({ worktree: 1, command: null } as unknown as { worktree: string; command: string }, ctx);
    expect(bad).toMatchObject({ denied: true, rule: 'input' });
  });

  it('runs concurrent calls concurrently, queuing only git writes to one repository', async () => {
    fs.writeFileSync(path.join(t.main, 'Makefile'), 'a:\n\t@sleep 1\nb:\n\t@sleep 1\n');
    const [a, b] = await Promise.all([
      runRepoCommand({ worktree: 'main', command: 'make a' }, ctx),
      runRepoCommand({ worktree: 'main', command: 'make b' }, ctx),
    ]);
    expect(a.ok && b.ok).toBe(true);
    const log = readCommandLog(logFile);
    // Both started before either ended: the two log entries' intervals overlap.
    const spans = log.map((e) => [Date.parse(e.ts) - e.durationMs, Date.parse(e.ts)] as const);
    expect(spans[0]![0] < spans[1]![1] && spans[1]![0] < spans[0]![1]).toBe(true);
    const adds = await Promise.all(
      ['p', 'q', 'r'].map((s) => runRepoCommand({ worktree: 'main', command: `git worktree add ../task-${s} -b task-${s}` }, ctx)),
    );
    expect(adds.every((x) => x.ok)).toBe(true);
  });
});
