import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/** Preflight before any worker, the budget flags, and relative paths, through the real CLI (`run --plan`, the plan fake codex). */
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const bases: TempBase[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) b.cleanup();
});

const task = (id: string, extra: object = {}) => ({
  id,
  title: `Task ${id}`,
  prompt: fakePrompt(`Do ${id}.`, { write: { [`${id}.txt`]: `${id}\n` } }),
  files: [`${id}.txt`],
  ...extra,
});

function setup(tasks: object[]): { base: TempBase; file: string } {
  const base = makeTempBase();
  bases.push(base);
  const file = path.join(base.root, 'plan.json');
  fs.writeFileSync(file, JSON.stringify({ version: 1, task: 'files', phases: [{ name: 'P1', tasks }] }, null, 2));
  return { base, file };
}

function cli(base: TempBase, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(tsx, [path.join(root, 'src/cli/main.ts'), 'run', ...args], {
    cwd: base.root,
    encoding: 'utf8',
    env: {
      ...process.env,
      NO_COLOR: '1',
      ORCHESTRATOR_STATE_DIR: base.stateDir,
      ORCHESTRATOR_BASE_DIR: '',
      CODEX_BIN: PLAN_FAKE_CODEX,
      ORCHESTRATOR_CODEX_ARGS: '[]',
      PLAN_FAKE_STATE: path.join(base.root, 'fake-state'),
      OPENAI_API_KEY: 'sk-test-key-123456',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const workerDirs = (base: TempBase) => {
  const runs = path.join(base.stateDir, 'runs');
  if (!fs.existsSync(runs)) return [];
  return fs
    .readdirSync(runs)
    .flatMap((r) => (fs.existsSync(path.join(runs, r, 'workers')) ? fs.readdirSync(path.join(runs, r, 'workers')) : []));
};

describe('run --plan: preflight, budgets, paths', { timeout: 180_000 }, () => {
  it('an unreachable review model stops the run before any worker starts (exit 4, one line)', () => {
    const { base, file } = setup([task('a')]);
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(
      /cannot reach the model API \(endpoint http:\/\/127\.0\.0\.1:9\/v1\) for the review model .*nothing was started/,
    );
    expect(workerDirs(base)).toEqual([]);
  });

  it('a missing git identity is named before any worker starts', () => {
    const { base, file } = setup([task('a')]);
    const g = (...a: string[]) => spawnSync('git', ['-C', base.main, ...a], { encoding: 'utf8' });
    g('config', '--unset', 'user.name');
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review'], {
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/git identity: git has no user\.name/);
    expect(workerDirs(base)).toEqual([]);
  });

  it('--max-workers stops launches; relative --plan and --base-dir resolve against the working directory; the report says what is left', () => {
    const { base } = setup([task('a'), task('b', { dependsOn: ['a'] })]);
    const r = cli(base, [
      '--plan',
      'plan.json',
      '--base-dir',
      path.relative(base.root, base.baseDir) || '.',
      '--no-review',
      '--max-workers',
      '1',
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.plan.result.stoppedBy).toMatch(/worker budget of 1/);
    expect(report.plan.result.subtasks.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['a', 'merged'],
      ['b', 'pending'],
    ]);
    expect(report.usage.total.tokens).toBe(report.tokens.total);
    expect(workerDirs(base)).toHaveLength(1);
  });

  it('--max-cost stops the plan once the priced worker tokens reach it', () => {
    const { base } = setup([task('a'), task('b'), task('c')]);
    const prices = path.join(base.root, 'prices.json');
    // The fake codex reports 100 input + 20 output tokens a worker: at $5,000 per million input, $0.50 plus $0.10.
    fs.writeFileSync(prices, JSON.stringify({ models: { 'fake-model': { input: 5000, output: 5000 } } }));
    const env = { ORCHESTRATOR_CODEX_ARGS: '["-m","fake-model"]', ORCHESTRATOR_PRICES: prices };
    const r = cli(
      base,
      ['--plan', 'plan.json', '--base-dir', base.baseDir, '--no-review', '--max-parallel', '1', '--max-cost', '1', '--json'],
      env,
    );
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.plan.result.stoppedBy).toMatch(/cost budget of \$1 used up/);
    expect(report.usage.workers.model).toBe('fake-model');
    expect(report.usage.total.costUsd).toBeGreaterThanOrEqual(1);
    const statuses = report.plan.result.subtasks.map((s: { status: string }) => s.status);
    expect(statuses.filter((s: string) => s === 'pending').length).toBeGreaterThanOrEqual(1);
  });

  it('a bad budget value is one line naming it (exit 2)', () => {
    const { base, file } = setup([task('a')]);
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review', '--max-wall', 'soon']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ORCHESTRATOR_MAX_WALL: expected a duration/);
  });
});
