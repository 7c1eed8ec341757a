/**
 * `yarn bench sandbox`: per-command overhead of each sandbox backend against
 * the same command unconfined (the `off` backend: same process-group runner,
 * same clean environment), for `true`, `git status`, `node -e 0` and `npm test`
 * on a small project, in a task worktree with the edit profile. Backends and
 * the baseline are interleaved per iteration so neither gets a warmer cache.
 * Figures: median and p90 ms, ratio of medians, ms added (median − baseline).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Sandbox,
  bundledBwrap,
  bwrapBackend,
  codexSandboxBackend,
  offBackend,
  unshareBackend,
  which,
  type SandboxBackend,
} from '../src/sandbox/index.js';
import { sandboxProfile } from '../src/tools/run-repo-command/sandbox-profile.js';
import { bundledLauncher, nativeBehindLauncher } from '../src/workers/codex/binary.js';
import { percentile, writeResult } from './write-result.js';

const ITER = Number(process.env.BENCH_SANDBOX_ITER ?? 15);
const COMMANDS = ['true', 'git status --short', 'node -e 0', 'npm test --silent'];

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, stdio: 'ignore' });
}

export async function run(): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sandbox-')));
  const baseDir = path.join(root, 'base');
  const main = path.join(baseDir, 'main');
  fs.mkdirSync(main, { recursive: true });
  git(main, 'init', '-q', '-b', 'main');
  git(main, 'config', 'user.name', 'Bench');
  git(main, 'config', 'user.email', 'bench@example.invalid');
  fs.writeFileSync(
    path.join(main, 'package.json'),
    JSON.stringify({ name: 'small', version: '1.0.0', private: true, scripts: { test: 'node test.js' } }),
  );
  fs.writeFileSync(path.join(main, 'test.js'), "const assert = require('node:assert');\nassert.strictEqual(1 + 1, 2);\n");
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(main, `f${i}.txt`), `${i}\n`);
  git(main, 'add', '-A');
  git(main, 'commit', '-q', '-m', 'init');
  git(main, 'worktree', 'add', '-q', '../task-a', '-b', 'task-a');
  const wt = path.join(baseDir, 'task-a');

  const backends: SandboxBackend[] = [offBackend()];
  const bw = bundledBwrap(undefined);
  if (bw) backends.push(bwrapBackend(bw, 'bundled'));
  const launcher = bundledLauncher();
  const codex = launcher ? nativeBehindLauncher(launcher) : undefined;
  if (codex) backends.push(codexSandboxBackend(codex));
  const un = which('unshare');
  if (un) backends.push(unshareBackend(un));
  const profile = sandboxProfile('edit', { baseDir, worktree: 'task-a', cwd: wt });
  const opts = { cwd: wt, timeoutMs: 60_000, outputCapBytes: 1 << 20 };

  const times: Record<string, Record<string, number[]>> = {};
  for (const b of backends) times[b.name] = Object.fromEntries(COMMANDS.map((c) => [c, [] as number[]]));
  for (const cmd of COMMANDS) {
    for (let i = 0; i < ITER + 2; i++) {
      for (const b of backends) {
        const sb = new Sandbox(b);
        const t0 = performance.now();
        const r = await sb.run(cmd, profile, opts);
        const ms = performance.now() - t0;
        if (r.exitCode !== 0) throw new Error(`${b.name}: \`${cmd}\` exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
        if (i >= 2) (times[b.name] as Record<string, number[]>)[cmd]!.push(ms); // two warm-up rounds
      }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });

  const med = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const p90 = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      90,
    );
  const results: Record<string, Record<string, { medianMs: number; p90Ms: number; ratio: number; addedMs: number }>> = {};
  for (const b of backends) {
    results[b.name] = {};
    for (const cmd of COMMANDS) {
      const base = med(times.off![cmd]!);
      const m = med(times[b.name]![cmd]!);
      results[b.name]![cmd] = {
        medianMs: +m.toFixed(1),
        p90Ms: +p90(times[b.name]![cmd]!).toFixed(1),
        ratio: +(m / base).toFixed(2),
        addedMs: +(m - base).toFixed(1),
      };
    }
  }
  const file = writeResult('sandbox', {
    iterations: ITER,
    baseline: 'off (unconfined: same runner, same clean environment)',
    backends: Object.fromEntries(backends.map((b) => [b.name, b.description])),
    results,
    target: 'bwrap adds <= 30 ms per command',
  });
  for (const [name, per] of Object.entries(results)) {
    for (const [cmd, r] of Object.entries(per))
      console.log(`${name.padEnd(8)} ${cmd.padEnd(20)} median ${String(r.medianMs).padStart(7)} ms  x${r.ratio}  +${r.addedMs} ms`);
  }
  console.log(`→ ${file}`);
}
