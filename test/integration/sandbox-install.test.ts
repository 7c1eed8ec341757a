/**
 * `npm ci` as a setup step, in a worktree of a small real project: a registry
 * dependency (is-number, from the npm registry) and a local `file:` dependency
 * whose postinstall tries the network and writing outside the worktree. The
 * install succeeds, the project's tests pass in the worktree, the postinstall
 * ran — offline, and wrote nothing outside.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox, bundledBwrap, bwrapBackend } from '../../src/sandbox/index.js';
import { runInstall } from '../../src/tools/run-repo-command/install.js';
import { sandboxProfile } from '../../src/tools/run-repo-command/sandbox-profile.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { git } from '../helpers/git-repo.js';
import { fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

const bwrap = bundledBwrap(undefined) as string;
let server: net.Server;
let connections = 0;
let port = 0;
beforeEach(async () => {
  connections = 0;
  server = net.createServer((s) => {
    connections++;
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterEach(() => server.close());

describe('package installs in the sandbox (bwrap)', () => {
  const { setup } = useTempBase();

  it('npm ci: registry dependency fetched with the network, a dependency postinstall runs offline and cannot write outside', async () => {
    const outside = path.join(path.dirname(fs.realpathSync(process.cwd())), `sandbox-install-outside-${process.pid}.txt`);
    const post = `
const fs = require('node:fs');
const net = require('node:net');
const out = { ran: true, outsideWrites: [], net: {} };
for (const p of [${JSON.stringify(outside)}, '../../../main/pwned.txt', process.env.HOME_REAL + '/pwned.txt']) {
  try { fs.writeFileSync(p, 'x'); out.outsideWrites.push(p); } catch (e) { /* denied */ }
}
function tryConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 4000 }, () => { s.destroy(); resolve('connected'); });
    s.on('error', (e) => resolve(e.code || String(e)));
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
  });
}
(async () => {
  out.net.local = await tryConnect('127.0.0.1', ${port});
  out.net.registry = await tryConnect('registry.npmjs.org', 443);
  // One entry per run: the install must run it once, in the offline step only.
  let runs = [];
  try { runs = JSON.parse(fs.readFileSync('postinstall-result.json', 'utf8')); } catch {}
  runs.push(out);
  fs.writeFileSync('postinstall-result.json', JSON.stringify(runs));
})();
`;
    const t = setup({
      'package.json': `${JSON.stringify({ name: 'small', version: '1.0.0', private: true, dependencies: { 'is-number': '7.0.0', 'evil-dep': 'file:./evil-dep' }, scripts: { test: 'node test.js' } }, null, 2)}\n`,
      'test.js':
        "const isNumber = require('is-number');\nif (!isNumber(5) || isNumber('x')) { console.error('is-number broken'); process.exit(1); }\nconsole.log('tests pass');\n",
      'evil-dep/package.json': `${JSON.stringify({ name: 'evil-dep', version: '1.0.0', scripts: { postinstall: 'node post.js' } }, null, 2)}\n`,
      'evil-dep/post.js': post,
      '.gitignore': 'node_modules/\n',
    });
    // The lock file, made on the host as a developer would, committed.
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: t.main,
      stdio: 'ignore',
      timeout: 120_000,
    });
    git(t.main, 'add', 'package-lock.json');
    git(t.main, 'commit', '-q', '-m', 'lock');
    git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
    const wt = path.join(t.baseDir, 'task-a');
    const sandbox = new Sandbox(bwrapBackend(bwrap, 'bundled'));
    const at = { baseDir: t.baseDir, worktree: 'task-a', cwd: wt, stateDir: t.stateDir };
    const opts = { cwd: wt, timeoutMs: 240_000, outputCapBytes: 1 << 20 };
    try {
      const install = await runInstall(sandbox, 'npm ci --no-audit --no-fund', at, opts);
      expect(install.exitCode, `${install.stdout}\n${install.stderr}`).toBe(0);
      expect(fs.existsSync(path.join(wt, 'node_modules', 'is-number', 'package.json'))).toBe(true);
      const runs = JSON.parse(fs.readFileSync(path.join(wt, 'evil-dep', 'postinstall-result.json'), 'utf8')) as {
        ran: boolean;
        outsideWrites: string[];
        net: Record<string, string>;
      }[];
      expect(runs).toHaveLength(1);
      const result = runs[0]!;
      expect(result.ran).toBe(true);
      // Inside the sandbox /tmp is a private tmpfs: a write there (the clone itself may live under /tmp) lands on it
      // and is gone afterwards; every other write must have been refused. The host is checked below either way.
      const tmp = fs.realpathSync(os.tmpdir());
      expect(result.outsideWrites.filter((w) => !path.resolve(w).startsWith(`${tmp}${path.sep}`))).toEqual([]);
      expect(result.net.local).not.toBe('connected');
      expect(result.net.registry).not.toBe('connected');
      expect(connections).toBe(0);
      expect(fs.existsSync(outside)).toBe(false);
      expect(fs.existsSync(path.join(t.main, 'pwned.txt'))).toBe(false);
      const tests = await sandbox.run('npm test', sandboxProfile('edit', at), opts);
      expect(tests.exitCode, tests.stderr).toBe(0);
      expect(tests.stdout).toContain('tests pass');
    } finally {
      fs.rmSync(outside, { force: true });
    }
  }, 300_000);
});

describe('install settings that would run project code with the network', () => {
  const { setup } = useTempBase();
  it('refuses an install whose project .yarnrc or .npmrc points yarn/git/node at a file of the project; nothing runs', async () => {
    const t = setup();
    const sandbox = new Sandbox(bwrapBackend(bwrap, 'bundled'));
    const at = { baseDir: t.baseDir, worktree: 'main', cwd: t.main };
    const opts = { cwd: t.main, timeoutMs: 60_000, outputCapBytes: 1 << 16 };
    for (const [file, text] of [
      ['.yarnrc', 'yarn-path "./evil.js"\n'],
      ['.yarnrc.yml', 'yarnPath: ./evil.cjs\n'],
      ['.npmrc', 'git=./evil.sh\n'],
      ['.npmrc', 'node-options=--require ./evil.js\n'],
    ] as const) {
      fs.writeFileSync(path.join(t.main, file), text);
      const r = await runInstall(sandbox, 'yarn install --frozen-lockfile', at, opts);
      expect(r.refused, file).toMatch(/would run project code with the network on/);
      expect(r.exitCode).toBeNull();
      fs.rmSync(path.join(t.main, file));
    }
    fs.writeFileSync(path.join(t.main, '.npmrc'), 'fund=false\naudit=false\n');
    expect((await runInstall(sandbox, 'npm --version', at, opts)).refused).toBeUndefined();
  }, 120_000);
});

describe('setup `npm ci` through the plan road', () => {
  const rigs: PlanRig[] = [];
  afterEach(() => {
    for (const r of rigs.splice(0)) r.base.cleanup();
  });

  it('each new worktree installs its registry dependency in the sandbox and its acceptance `npm test` passes', async () => {
    const r = makePlanRig({
      files: {
        'package.json': `${JSON.stringify({ name: 'small', version: '1.0.0', private: true, dependencies: { 'is-number': '7.0.0' }, scripts: { test: 'node test.js' } }, null, 2)}\n`,
        'test.js':
          "const isNumber = require('is-number');\nif (!isNumber(5)) process.exit(1);\nrequire('node:fs').accessSync('feature.txt');\nconsole.log('tests pass');\n",
        '.gitignore': 'node_modules/\n',
      },
      settings: { setup: ['npm ci --no-audit --no-fund'] },
    });
    rigs.push(r);
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: r.base.main,
      stdio: 'ignore',
      timeout: 120_000,
    });
    git(r.base.main, 'add', 'package-lock.json');
    git(r.base.main, 'commit', '-q', '-m', 'lock');
    const result = await executePlan(
      plan([
        {
          id: 'feat',
          title: 'Feature',
          prompt: fakePrompt('Write feature.txt.', { write: { 'feature.txt': 'f\n' } }),
          files: ['feature.txt'],
          acceptance: 'npm test',
        },
      ]),
      r.ctx,
    );
    const ds = readDecisions(r.ctx.runDir);
    expect(
      ds.find((d) => d.action === 'setup' || d.action === 'setup-failed')?.action,
      JSON.stringify(ds.filter((d) => d.taskId === 'feat').map((d) => d.reason)),
    ).toBe('setup');
    expect(ds.some((d) => d.kind === 'acceptance' && d.action === 'passed')).toBe(true);
    expect(result.allMerged).toBe(true);
    // node_modules stayed in the (ignored) worktree: nothing of it reached main/.
    expect(fs.existsSync(path.join(r.base.main, 'node_modules'))).toBe(false);
  }, 300_000);
});
