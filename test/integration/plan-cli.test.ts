import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/** `codex-orch run --plan <manifest.json> --no-review --json`: no model at all, the plan fake codex as workers. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const bases: TempBase[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) b.cleanup();
});

function setup(manifest: unknown): { base: TempBase; file: string } {
  const base = makeTempBase();
  bases.push(base);
  const file = path.join(base.root, 'plan.json');
  fs.writeFileSync(file, typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
  return { base, file };
}

function cli(base: TempBase, args: string[]) {
  return spawnSync(tsx, [path.join(root, 'src/cli/main.ts'), 'run', ...args], {
    cwd: base.root,
    encoding: 'utf8',
    env: {
      ...process.env,
      ORCHESTRATOR_STATE_DIR: base.stateDir,
      ORCHESTRATOR_BASE_DIR: '',
      CODEX_BIN: PLAN_FAKE_CODEX,
      ORCHESTRATOR_CODEX_ARGS: '[]',
      PLAN_FAKE_STATE: path.join(base.root, 'fake-state'),
      // no model may be called: a key-less config and an unroutable base URL would fail loudly
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const task = (id: string, extra: object) => ({
  id,
  title: `Task ${id}`,
  prompt: fakePrompt(`Do ${id}.`, { write: { [`${id}.txt`]: `${id}\n` } }),
  files: [`${id}.txt`],
  ...extra,
});

// Each case spawns the CLI through tsx (seconds on a loaded machine): a generous per-test limit, not a timing assertion.
describe('codex-orch run --plan', { timeout: 180_000 }, () => {
  it('--no-review --json: runs the manifest, prints the RunReport with the plan section, exits 0 when every subtask merged', () => {
    const { base, file } = setup({
      version: 1,
      task: 'two files',
      phases: [{ name: 'P1', tasks: [task('a', { acceptance: 'test -f a.txt' }), task('b', { dependsOn: ['a'] })] }],
    });
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review', '--json', '--max-parallel', '2']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      status: 'succeeded',
      error: null,
      task: 'two files',
      tokens: { orchestrator: { input: 0, output: 0, requests: 0 } },
    });
    expect(report.plan.result.allMerged).toBe(true);
    expect(report.plan.result.subtasks.map((s: any) => [s.id, s.status])).toEqual([
      ['a', 'merged'],
      ['b', 'merged'],
    ]);
    expect(report.merges.map((m: any) => m.branch)).toEqual(['task-a', 'task-b']);
    expect(report.tokens.workers).toMatchObject({ input: 200, output: 40 });
    // a's acceptance command ran: it is listed under Tests (no smoke test is configured, and the report says so)
    expect(report.tests.map((t: any) => [t.kind, t.worktree, t.command, t.ok])).toEqual([['acceptance', 'task-a', 'test -f a.txt', true]]);
    expect(report.worktreesCreated).toEqual(['task-a', 'task-b']);
    expect(report.worktreesRemoved).toEqual(['task-a', 'task-b']);
    // plan workers are listed although they did not go through the gateway
    expect(report.workers.map((w: any) => [w.via, w.taskId, w.purpose, w.status])).toEqual([
      ['plan', 'a', 'initial', 'complete'],
      ['plan', 'b', 'initial', 'complete'],
    ]);
    for (const f of ['manifest.json', 'decisions.jsonl', 'report.json', 'report.md', 'events.jsonl'])
      expect(fs.existsSync(path.join(report.runDir, f)), f).toBe(true);
    const saved = JSON.parse(fs.readFileSync(path.join(report.runDir, 'manifest.json'), 'utf8'));
    expect(saved.phases[0].tasks.map((t: any) => t.status)).toEqual(['merged', 'merged']);
    expect(fs.readFileSync(path.join(base.main, 'b.txt'), 'utf8')).toBe('b\n');
  });

  it('exits 1 when a subtask is not merged, with the human report naming it', () => {
    const { base, file } = setup({
      version: 1,
      task: 'one fails',
      phases: [{ name: 'P1', tasks: [task('ok', {}), task('bad', { acceptance: 'test -f never.txt' })] }],
    });
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review', '-q']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('## Plan');
    expect(r.stdout).toMatch(/bad: error/);
    expect(r.stdout).toMatch(/ok: merged \(attempts 1, 1 worker run\(s\), merged [0-9a-f]{9}\)/);
    expect(r.stdout).toMatch(/task-bad \(plan acceptance worker, not through the gateway\)/);
    expect(r.stderr).toMatch(/1 of 2 subtask\(s\) not merged: bad \(error\)/);
    expect(git(base.main, 'log', '--merges', '--format=%s')).toBe('Merge task-ok: Task ok');
  });

  it('an invalid manifest is a usage error (exit 2) listing every problem with its path; nothing runs', () => {
    const { base, file } = setup({
      version: 1,
      task: 'bad',
      phases: [
        {
          name: 'P1',
          tasks: [
            { id: 't1', title: 'x', prompt: '', dependsOn: ['t9'] },
            { id: 't2', title: 'y', prompt: 'p', depends_on: [] },
          ],
        },
      ],
    });
    const r = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review', '--json']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/phases\[0\]\.tasks\[0\]\.prompt: empty/);
    expect(r.stderr).toMatch(/phases\[0\]\.tasks\[1\]/);
    expect(fs.existsSync(path.join(base.stateDir, 'runs'))).toBe(false);
  });

  it('a missing or non-JSON manifest is a usage error', () => {
    const { base, file } = setup('{ not json');
    const bad = cli(base, ['--plan', file, '--base-dir', base.baseDir, '--no-review']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not valid JSON/);
    expect(cli(base, ['--plan', path.join(base.root, 'nope.json'), '--base-dir', base.baseDir, '--no-review']).status).toBe(2);
  });

  it('--plan with a task, or a bad --max-parallel, is a usage error', () => {
    const { base, file } = setup({ version: 1, task: 't', phases: [{ name: 'P', tasks: [task('a', {})] }] });
    const both = cli(base, ['some task', '--plan', file, '--no-review']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/either a task or --plan/);
    expect(cli(base, ['--plan', file, '--max-parallel', '0', '--no-review']).status).toBe(2);
  });
});
