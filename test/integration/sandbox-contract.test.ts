/**
 * The sandbox contract, run against every backend this machine has (real
 * processes, real git). Each backend claims a set of guarantees; each claimed
 * guarantee is attacked, and what a backend does not claim must be listed in
 * its `gaps` (so doctor and the reports say it aloud).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import {
  Sandbox,
  bundledBwrap,
  bwrapBackend,
  codexSandboxBackend,
  noneBackend,
  offBackend,
  unshareBackend,
  type SandboxBackend,
} from '../../src/sandbox/index.js';
import { runRepoCommand } from '../../src/tools/run-repo-command/gateway.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import { sandboxProfile } from '../../src/tools/run-repo-command/sandbox-profile.js';
import { bundledLauncher, nativeBehindLauncher } from '../../src/workers/codex/binary.js';
import { git, type TempBase } from '../helpers/git-repo.js';
import { useTempBase } from '../helpers/temp-base-suite.js';

type Guarantee = 'writes' | 'reads' | 'network' | 'children' | 'env';

const backends: { backend: SandboxBackend; claims: Guarantee[] }[] = [];
const bwrap = bundledBwrap(undefined);
if (bwrap)
  backends.push({ backend: bwrapBackend(bwrap, 'bundled with @openai/codex'), claims: ['writes', 'reads', 'network', 'children', 'env'] });
const launcher = bundledLauncher();
const codexNative = launcher ? nativeBehindLauncher(launcher) : undefined;
if (codexNative) backends.push({ backend: codexSandboxBackend(codexNative), claims: ['writes', 'network', 'children', 'env'] });
if (fs.existsSync('/usr/bin/unshare'))
  backends.push({ backend: unshareBackend('/usr/bin/unshare'), claims: ['network', 'children', 'env'] });
backends.push({ backend: offBackend(), claims: ['env'] });

const TIMEOUT = 60_000;

it('the bundled bwrap is present (the sandbox this package relies on)', () => {
  expect(bwrap).toMatch(/codex-resources\/bwrap$/);
});

for (const { backend, claims } of backends) {
  describe(`sandbox contract: ${backend.name}`, () => {
    const { setup } = useTempBase();
    let t: TempBase;
    let wt: string;
    let home: string;
    let secret: string;
    const savedHome = process.env.HOME;
    const savedKey = process.env.OPENAI_API_KEY;
    const sandbox = new Sandbox(backend);

    beforeEach(() => {
      t = setup();
      git(t.main, 'branch', 'other');
      git(t.main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
      wt = path.join(t.baseDir, 'task-a');
      // A fake HOME inside the (re-exposed) base dir: hidden only because it is $HOME.
      home = path.join(t.baseDir, 'home');
      fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
      fs.writeFileSync(path.join(home, '.ssh', 'id_rsa'), 'PRIVATE-KEY-7f3a\n');
      secret = path.join(t.baseDir, 'secrets', 'token.txt');
      fs.mkdirSync(path.dirname(secret));
      fs.writeFileSync(secret, 'LISTED-SECRET-91c2\n');
      process.env.HOME = home;
      process.env.OPENAI_API_KEY = 'sk-test-should-not-leak';
    });
    afterEach(() => {
      if (savedHome === undefined) delete process.env.HOME;
      else process.env.HOME = savedHome;
      if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = savedKey;
    });

    const run = (command: string) =>
      sandbox.run(
        command,
        sandboxProfile('edit', { baseDir: t.baseDir, worktree: 'task-a', cwd: wt, stateDir: t.stateDir, secretPaths: [secret] }),
        {
          cwd: wt,
          timeoutMs: 30_000,
          outputCapBytes: 1 << 20,
        },
      );

    it(
      'runs a command in the worktree and lets it write there',
      async () => {
        const r = await run('echo built > out.txt && cat out.txt');
        expect(r.exitCode).toBe(0);
        expect(fs.readFileSync(path.join(wt, 'out.txt'), 'utf8')).toBe('built\n');
      },
      TIMEOUT,
    );

    it(`lists what it does not guarantee (${['writes', 'reads', 'network', 'children'].filter((g) => !claims.includes(g as Guarantee)).join(', ') || 'nothing'})`, () => {
      const missing = (['writes', 'reads', 'network'] as const).filter((g) => !claims.includes(g));
      for (const g of missing) expect(backend.gaps.join(' '), g).toMatch(new RegExp(g === 'network' ? 'network' : g, 'i'));
      if (claims.length === 5) expect(backend.gaps).toEqual([]);
    });

    if (claims.includes('writes')) {
      it(
        'cannot write ../main/x, ~/.ssh/x, .git/config, .git/hooks/x or another branch ref',
        async () => {
          const configBefore = fs.readFileSync(path.join(t.main, '.git', 'config'), 'utf8');
          const otherBefore = git(t.main, 'rev-parse', 'refs/heads/other');
          const r = await run(
            [
              `umount ${t.main}/.git/config; umount ${t.main}/.git/hooks; umount /; mount -o remount,rw ${t.main}`,
              'echo x > ../main/x',
              `echo x > ${home}/.ssh/x`,
              `echo '[core]' >> ${t.main}/.git/config`,
              `echo 'touch /tmp/pwned' > ${t.main}/.git/hooks/post-checkout`,
              `echo 0000000000000000000000000000000000000000 > ${t.main}/.git/refs/heads/other`,
              `git update-ref refs/heads/other HEAD~0 2>&1 || true`,
              'echo done',
            ].join('; '),
          );
          expect(r.stdout).toContain('done');
          expect(fs.existsSync(path.join(t.main, 'x'))).toBe(false);
          expect(fs.existsSync(path.join(home, '.ssh', 'x'))).toBe(false);
          expect(fs.readFileSync(path.join(t.main, '.git', 'config'), 'utf8')).toBe(configBefore);
          expect(fs.existsSync(path.join(t.main, '.git', 'hooks', 'post-checkout'))).toBe(false);
          expect(git(t.main, 'rev-parse', 'refs/heads/other')).toBe(otherBefore);
        },
        TIMEOUT,
      );
    }

    if (claims.includes('reads')) {
      it(
        'cannot read ~/.ssh/id_rsa or a listed secret, not even by unmounting what hides them',
        async () => {
          const r = await run(
            `umount ${home}; umount ${secret}; umount /tmp; cat ${home}/.ssh/id_rsa; cat ~/.ssh/id_rsa; cat ${secret}; ls -a ~; echo done`,
          );
          expect(r.stdout).toContain('done');
          expect(`${r.stdout}${r.stderr}`).not.toContain('PRIVATE-KEY-7f3a');
          expect(`${r.stdout}${r.stderr}`).not.toContain('LISTED-SECRET-91c2');
        },
        TIMEOUT,
      );
    }

    if (claims.includes('network')) {
      it(
        'cannot open a TCP connection to a local listener',
        async () => {
          let connections = 0;
          const server = net.createServer((s) => {
            connections++;
            s.end('hello\n');
          });
          await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
          const port = (server.address() as net.AddressInfo).port;
          try {
            const r = await run(
              `(exec 3<>/dev/tcp/127.0.0.1/${port} && echo CONNECTED) 2>&1; curl -sS --max-time 5 http://127.0.0.1:${port}/ 2>&1; echo done`,
            );
            expect(r.stdout).toContain('done');
            expect(r.stdout).not.toContain('CONNECTED');
            expect(r.stdout).not.toContain('hello');
            expect(connections).toBe(0);
          } finally {
            server.close();
          }
        },
        TIMEOUT,
      );
    }

    if (claims.includes('children')) {
      it(
        'a detached child is gone when the command returns',
        async () => {
          const r = await run(`(setsid bash -c 'sleep 1.5; echo alive > ${wt}/marker.txt' > /dev/null 2>&1 &); echo started`);
          expect(r.stdout).toContain('started');
          await new Promise((res) => setTimeout(res, 3000));
          expect(fs.existsSync(path.join(wt, 'marker.txt'))).toBe(false);
        },
        TIMEOUT,
      );
    }

    it(
      'has no OPENAI_API_KEY, token or SSH agent in its environment',
      async () => {
        process.env.SSH_AUTH_SOCK = '/tmp/agent.sock';
        process.env.GITHUB_TOKEN = 'ghp_should_not_leak';
        try {
          const r = await run('echo "K=$OPENAI_API_KEY S=$SSH_AUTH_SOCK G=$GITHUB_TOKEN"; export -p');
          expect(r.stdout).toContain('K= S= G=');
          expect(r.stdout).not.toContain('sk-test-should-not-leak');
          expect(r.stdout).not.toContain('ghp_should_not_leak');
        } finally {
          delete process.env.SSH_AUTH_SOCK;
          delete process.env.GITHUB_TOKEN;
        }
      },
      TIMEOUT,
    );
  });
}

describe('no sandbox available', () => {
  const { setup } = useTempBase();
  it('refuses lines that run repository code and says how to install bubblewrap; git-only lines still run', async () => {
    const t = setup();
    const sandbox = new Sandbox(noneBackend());
    const profile = sandboxProfile('edit', { baseDir: t.baseDir, worktree: 'main', cwd: t.main });
    const r = await sandbox.run('echo ran > ran.txt', profile, { cwd: t.main, timeoutMs: 10_000, outputCapBytes: 4096 });
    expect(r.refused).toMatch(/bubblewrap/);
    expect(fs.existsSync(path.join(t.main, 'ran.txt'))).toBe(false);
    const inspect = await sandbox.run(
      'git log --oneline',
      sandboxProfile('inspect', { baseDir: t.baseDir, worktree: 'main', cwd: t.main }),
      { cwd: t.main, timeoutMs: 10_000, outputCapBytes: 4096 },
    );
    expect(inspect.exitCode).toBe(0);
    expect(inspect.stdout).toContain('initial commit');
  });
});

describe("main/ is the user's on every backend", () => {
  const { setup } = useTempBase();
  for (const { backend } of backends.filter((b) => b.backend.name !== 'off')) {
    it(
      `${backend.name}: a test in main/ runs on a throwaway copy; main/ and its worktree list are unchanged`,
      async () => {
        const t = setup({
          'README.md': '# sample\n',
          Makefile: 'smoke:\n\t@echo from-smoke > written.txt && cat written.txt && echo x >> README.md\n',
        });
        const config = loadConfig({
          env: {},
          dotenvDir: null,
          overrides: { ORCHESTRATOR_BASE_DIR: t.baseDir, ORCHESTRATOR_STATE_DIR: t.stateDir },
        });
        const r = await runRepoCommand(
          { worktree: 'main', command: 'make smoke' },
          { config, baseDir: t.baseDir, policy: loadPolicy(config.policyFile), commandLog: null, sandbox: new Sandbox(backend) },
        );
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toContain('from-smoke');
        expect(fs.existsSync(path.join(t.main, 'written.txt'))).toBe(false);
        expect(fs.readFileSync(path.join(t.main, 'README.md'), 'utf8')).toBe('# sample\n');
        expect(git(t.main, 'status', '--porcelain')).toBe('');
        expect(
          git(t.main, 'worktree', 'list', '--porcelain')
            .split('\n')
            .filter((l) => l.startsWith('worktree ')).length,
        ).toBe(1);
      },
      TIMEOUT,
    );
  }
});
