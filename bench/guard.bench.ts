/**
 * `yarn bench guard`: decisions per second and p50/p99 latency of checkCommand over
 * ≥10,000 mixed commands (allowed and denied), in a temporary base dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCommand } from '../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy } from '../src/tools/run-repo-command/policy-file.js';
import { percentile, writeResult } from './write-result.js';

const LINES = [
  'git status',
  'git log --oneline | head -5',
  'git diff HEAD~1 -- src',
  'git add -A && git commit -m "feat: x"',
  'git -c user.name=x commit -m m',
  'git worktree add ../task-b -b task-b',
  'npm test',
  'yarn build',
  'FOO=1 npm test',
  'cat src/a.ts',
  'grep -rn TODO src',
  'find . -name "*.ts"',
  'ls > /dev/null',
  'echo "$(git rev-parse HEAD)"',
  'codex exec --full-auto "implement the search endpoint"',
  'python3 -m pytest -q',
  'git status && git -c x.y=1 push origin main',
  'echo "$(git push)"',
  '$(echo git) push',
  'sh -c "git push"',
  'GIT_DIR=x git status',
  'git branch -D x',
  'npm i lodash',
  'node -e 1',
  'cat ../../etc/passwd',
  'find . -name x -exec rm {} \\;',
  'git status &',
  'cat src/*.ts',
  'codex exec --sandbox danger-full-access "x"',
  'if true; then git push; fi',
];

export async function run(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-bench-'));
  try {
    fs.mkdirSync(path.join(base, 'main', 'src'), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(base, 'main', 'src', `f${i}.ts`), '');
    const policy = loadPolicy(defaultPolicyPath());
    const n = Math.max(10_000, LINES.length * 400);
    // Warm up.
    for (let i = 0; i < 2000; i++) checkCommand({ worktree: 'main', command: LINES[i % LINES.length]! }, { baseDir: base, policy });
    const lat: number[] = new Array(n);
    let allowed = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const s = process.hrtime.bigint();
      const d = checkCommand({ worktree: 'main', command: LINES[i % LINES.length]! }, { baseDir: base, policy });
      lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
      if (d.allowed) allowed++;
    }
    const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
    lat.sort((a, b) => a - b);
    const result = {
      commands: n,
      distinctLines: LINES.length,
      allowed,
      denied: n - allowed,
      decisionsPerSecond: Math.round((n / totalMs) * 1000),
      p50Ms: Number(percentile(lat, 50).toFixed(4)),
      p99Ms: Number(percentile(lat, 99).toFixed(4)),
      maxMs: Number(lat[lat.length - 1]!.toFixed(4)),
      targetP99Ms: 1,
      meetsTarget: percentile(lat, 99) <= 1,
    };
    const file = writeResult('guard', result);
    console.log(
      `guard: ${n} decisions (${allowed} allowed, ${n - allowed} denied), ${result.decisionsPerSecond}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (target ≤ 1 ms: ${result.meetsTarget ? 'met' : 'MISSED'}) → ${file}`,
    );
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
