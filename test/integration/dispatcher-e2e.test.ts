import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startScriptedModelServer, toolOutputs, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { dispatch, listTaskSource } from '../../src/dispatcher/index.js';
import { makeRunTask } from '../../src/orchestrator/run-task.js';
import type { RunReport } from '../../src/orchestrator/report/report.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

const root = path.resolve(__dirname, '..', '..');

/** Every run's report in a base dir's state dir. */
function reports(baseDir: string): RunReport[] {
  const runs = path.join(baseDir, '.codex-orchestrator', 'runs');
  return fs
    .readdirSync(runs)
    .map((id) => path.join(runs, id, 'report.json'))
    .filter((f) => fs.existsSync(f))
    .map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as RunReport);
}

/**
 * The Task Dispatcher over real orchestrator runs (real SDK loop, scripted
 * model, real git): three tasks over two base dirs with concurrency 2.
 */
describe('dispatcher end to end', () => {
  let a: TempBase;
  let b: TempBase;
  let orch: ScriptedModelServer;

  beforeEach(async () => {
    a = makeTempBase();
    b = makeTempBase();
    // Each run: look at the repo, then finish. Slow enough for runs to overlap.
    orch = await startScriptedModelServer(({ body }) =>
      toolOutputs(body).size === 0
        ? { toolCalls: [{ name: 'run_repo_command', arguments: { worktree: 'main', command: 'git status --short' } }], delayMs: 400 }
        : { text: 'looked; nothing to change', delayMs: 400 },
    );
  });
  afterEach(async () => {
    await orch.close();
    a.cleanup();
    b.cleanup();
  });

  it('runs two repositories in parallel but never two tasks of one repository at once', async () => {
    const config = loadConfig({
      env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: orch.url, ORCHESTRATOR_MODEL: 'scripted', OPENAI_AGENTS_DISABLE_TRACING: '1' },
      dotenvDir: null,
    });
    const source = listTaskSource('test', [
      { id: 'a1', task: 'first task in A', baseDir: a.baseDir },
      { id: 'a2', task: 'second task in A', baseDir: a.baseDir },
      { id: 'b1', task: 'only task in B', baseDir: b.baseDir },
    ]);
    const summary = await dispatch(source, makeRunTask(config), { concurrency: 2 });
    expect(summary.status).toBe('succeeded');
    expect(summary.rows.map((r) => [r.id, r.status])).toEqual([
      ['a1', 'succeeded'],
      ['a2', 'succeeded'],
      ['b1', 'succeeded'],
    ]);
    expect(summary.rows.every((r) => r.runId && r.tokens > 0)).toBe(true);
    const span = (r: RunReport) => [Date.parse(r.startedAt), Date.parse(r.finishedAt)] as const;
    const ra = reports(a.baseDir).sort((x, y) => x.startedAt.localeCompare(y.startedAt));
    const [rb] = reports(b.baseDir);
    expect(ra.map((r) => r.task)).toEqual(['first task in A', 'second task in A']);
    const [a1, a2] = ra.map(span) as [readonly [number, number], readonly [number, number]];
    // The two tasks of A never overlap; B overlaps the first task of A.
    expect(a1[1] <= a2[0]).toBe(true);
    const b1 = span(rb!);
    expect(b1[0] < a1[1] && a1[0] < b1[1]).toBe(true);
  });

  it('yarn dispatcher refuses malformed DISPATCH_TASKS with the position, exit 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'dispatch'], {
      cwd: root,
      env: { ...process.env, DISPATCH_TASKS: '["ok", {"id": "x"}]', ORCHESTRATOR_BASE_DIR: a.baseDir, OPENAI_API_KEY: 'k', NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/DISPATCH_TASKS\[1\]/);
  });
});
