/**
 * The repository integrity check behind the sandbox: `.git/config`, hooks/,
 * info/, packed-refs and every ref are snapshotted before a gateway call and
 * compared after; an unexpected change is restored and reported. Shown here
 * with the sandbox off (the case where only this check stands), real git,
 * real processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { restoreRepo, snapshotRepo, unexpectedChanges } from '../../src/git/index.js';
import { Sandbox, offBackend } from '../../src/sandbox/index.js';
import { runRepoCommand } from '../../src/tools/run-repo-command/gateway.js';
import { readCommandLog } from '../../src/tools/run-repo-command/log.js';
import { renderForModel } from '../../src/tools/run-repo-command/render.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import { git } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

describe('repository integrity check', () => {
  const { setup } = useTempBase();

  it('finds and restores a changed config, a planted hook and a moved or added ref; allows its own branch', () => {
    const t = setup();
    git(t.main, 'branch', 'other');
    git(t.main, 'branch', 'mine');
    const common = path.join(t.main, '.git');
    const config = fs.readFileSync(path.join(common, 'config'), 'utf8');
    const other = git(t.main, 'rev-parse', 'other');
    const snap = snapshotRepo(common);
    fs.appendFileSync(path.join(common, 'config'), '[core]\n\tfsmonitor = "touch /tmp/x"\n');
    fs.writeFileSync(path.join(common, 'hooks', 'post-checkout'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(common, 'info', 'attributes'), '* filter=evil\n');
    git(t.main, 'commit', '--allow-empty', '-q', '-m', 'moves main');
    git(t.main, 'update-ref', 'refs/heads/other', 'HEAD');
    git(t.main, 'update-ref', 'refs/heads/mine', 'HEAD');
    git(t.main, 'update-ref', 'refs/tags/v9', 'HEAD');
    const changes = unexpectedChanges(snap, { refs: ['refs/heads/mine'], newBranches: false });
    expect(changes.map((c) => `${c.path} ${c.kind}`).sort()).toEqual([
      'config changed',
      'hooks/post-checkout added',
      'info/attributes added',
      'refs/heads/main changed',
      'refs/heads/other changed',
      'refs/tags/v9 added',
    ]);
    expect(restoreRepo(snap, changes)).toEqual([]);
    expect(fs.readFileSync(path.join(common, 'config'), 'utf8')).toBe(config);
    expect(fs.existsSync(path.join(common, 'hooks', 'post-checkout'))).toBe(false);
    expect(git(t.main, 'rev-parse', 'other')).toBe(other);
    expect(git(t.main, 'tag')).toBe('');
    expect(unexpectedChanges(snap, { refs: ['refs/heads/mine'], newBranches: false })).toEqual([]);
  });

  it('through the gateway: a build that rewrites .git/config and another branch is restored, reported and fails', async () => {
    const t = setup();
    git(t.main, 'branch', 'other');
    git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
    const wt = path.join(t.baseDir, 'task-a');
    const common = path.join(t.main, '.git');
    const config = fs.readFileSync(path.join(common, 'config'), 'utf8');
    const other = git(t.main, 'rev-parse', 'other');
    fs.writeFileSync(
      path.join(wt, 'Makefile'),
      `build:\n\t@printf '[core]\\n\\tfsmonitor = evil\\n' >> ${common}/config\n\t@git commit -q --allow-empty -m evil && git rev-parse HEAD > ${common}/refs/heads/other\n\t@echo built\n`,
    );
    const logFile = path.join(t.root, 'cmd.log');
    const config0 = loadConfig({
      env: {},
      dotenvDir: null,
      overrides: { ORCHESTRATOR_BASE_DIR: t.baseDir, ORCHESTRATOR_STATE_DIR: t.stateDir, ORCHESTRATOR_SANDBOX: 'off' },
    });
    const r = await runRepoCommand(
      { worktree: 'task-a', command: 'make build' },
      {
        config: config0,
        baseDir: t.baseDir,
        policy: loadPolicy(config0.policyFile),
        commandLog: logFile,
        sandbox: new Sandbox(offBackend()),
      },
    );
    expect(r.denied).toBe(false);
    expect(r.stdout).toContain('built');
    expect(r.ok).toBe(false);
    expect(r.securityEvent).toMatch(/config changed/);
    expect(r.securityEvent).toMatch(/refs\/heads\/other changed/);
    expect(r.sandbox?.backend).toBe('off');
    expect(fs.readFileSync(path.join(common, 'config'), 'utf8')).toBe(config);
    expect(git(t.main, 'rev-parse', 'other')).toBe(other);
    const entry = readCommandLog(logFile).at(-1);
    expect(entry?.securityEvent).toMatch(/restored/);
    expect(entry?.sandbox).toBe('off/edit');
    expect(renderForModel(r)).toMatch(/SECURITY: the command changed repository metadata/);
  }, 60_000);

  it('tells the model when the sandbox blocked a write (default backend)', async () => {
    const t = setup();
    git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
    const config0 = loadConfig({
      env: {},
      dotenvDir: null,
      overrides: { ORCHESTRATOR_BASE_DIR: t.baseDir, ORCHESTRATOR_STATE_DIR: t.stateDir },
    });
    // The guard denies `echo x > ../main/x` itself; a build step it cannot see into does the same.
    fs.writeFileSync(path.join(t.baseDir, 'task-a', 'Makefile'), 'w:\n\t@echo x > ../main/x\n');
    const r = await runRepoCommand(
      { worktree: 'task-a', command: 'make w' },
      { config: config0, baseDir: t.baseDir, policy: loadPolicy(config0.policyFile), commandLog: null },
    );
    expect(r.ok).toBe(false);
    expect(fs.existsSync(path.join(t.main, 'x'))).toBe(false);
    expect(r.sandbox?.backend).toBe('bwrap');
    expect(renderForModel(r)).toMatch(/--- sandbox \(edit\): .*blocked here: .*Read-only file system/);
  }, 60_000);
});
