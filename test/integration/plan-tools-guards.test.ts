import fs from 'node:fs';
import path from 'node:path';
import { RunContext } from '@openai/agents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { PlanRunContext, PlanRunResult } from '../../src/orchestrator/plan/execute-plan.js';
import {
  createPlanTools,
  planReportSection,
  renderPlanResultForModel,
  type ExecutePlanFn,
} from '../../src/orchestrator/agent/plan-tools.js';
import type { Plan } from '../../src/scheduler/index.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import type { GatewayContext } from '../../src/tools/run-repo-command/gateway.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

/**
 * The plan tools' own rules, with the executor replaced: ordering (run_plan
 * needs an accepted plan), one plan per run, dry run, executor failures as
 * tool results, the strict schema the model sees.
 */

const validArgs = {
  task: 'Two helpers',
  phases: [
    {
      name: 'P1',
      tasks: [
        { id: 'a', title: 'A', kind: 'feature', prompt: 'Do A.', files: ['src/a.js'], dependsOn: [], acceptance: null },
        { id: 'b', title: 'B', kind: 'tests', prompt: 'Do B.', files: ['src/b.js'], dependsOn: ['a'], acceptance: '' },
      ],
    },
  ],
};

function fakeResult(plan: Plan, overrides: Partial<PlanRunResult> = {}): PlanRunResult {
  const ids = plan.phases.flatMap((p) => p.tasks.map((t) => t.id));
  return {
    manifest: { version: 1, task: plan.task, phases: [] } as unknown as PlanRunResult['manifest'],
    manifestFile: '/x/manifest.json',
    testRuns: [],
    smoke: { command: null, suggested: null },
    worktreesCreated: [],
    decisionsFile: '/x/decisions.jsonl',
    subtasks: ids.map((id, i) => ({
      id,
      title: id.toUpperCase(),
      status: i === 0 ? 'merged' : 'error',
      attempts: 1,
      reason: i === 0 ? null : 'acceptance failed twice:\n  npm test exit 1',
      branch: `task-${id}`,
      worktree: null,
      workers: i === 0 ? 1 : 3,
      reviews: i === 0 ? [{ round: 1, verdict: 'approve', risk: 'low', comments: 'fine' }] : [],
      merge: { sha: i === 0 ? 'abc' : null, attempts: i === 0 ? 1 : 0, conflicts: 0, smokeFailures: 0, outcome: i === 0 ? 'merged' : null },
      summary: 'x'.repeat(1000),
    })),
    merges: [{ taskId: ids[0]!, branch: `task-${ids[0]}`, sha: 'abc', at: '2026-01-01T00:00:00.000Z', attempt: 1 }],
    workers: [],
    tokens: { workers: { input: 1000, cachedInput: 0, output: 200 }, review: { input: 300, output: 30 }, total: 1530 },
    decisions: 7,
    allMerged: false,
    stoppedBy: null,
    aborted: false,
    left: [{ id: ids[1]!, status: 'error', reason: 'acceptance failed twice' }],
    wallTimeMs: 1234,
    ...overrides,
  };
}

describe('plan tools (executor replaced)', () => {
  let t: TempBase;
  let runDir: string;
  beforeEach(() => {
    t = makeTempBase();
    runDir = path.join(t.stateDir, 'runs', 'r1');
    fs.mkdirSync(runDir, { recursive: true });
  });
  afterEach(() => t.cleanup());

  function setup(options: { dryRun?: boolean; execute?: ExecutePlanFn } = {}) {
    const config: Config = loadConfig({
      env: {
        ORCHESTRATOR_BASE_DIR: t.baseDir,
        ORCHESTRATOR_STATE_DIR: t.stateDir,
        ...(options.dryRun ? { ORCHESTRATOR_DRY_RUN: '1' } : {}),
      },
      dotenvDir: null,
    });
    const gateway: GatewayContext = { config, baseDir: t.baseDir, policy: loadPolicy(config.policyFile), commandLog: null };
    const calls: { plan: Plan; ctx: PlanRunContext }[] = [];
    const execute: ExecutePlanFn =
      options.execute ??
      (async (plan, ctx) => {
        calls.push({ plan, ctx });
        return fakeResult(plan);
      });
    const planTools = createPlanTools({ config, baseDir: t.baseDir, runId: 'r1', runDir, gateway, maxParallel: 2, executePlan: execute });
    const [submit, run] = planTools.tools;
    const ctx = new RunContext();
    return {
      state: planTools.state,
      calls,
      submit: (args: unknown) => submit.invoke(ctx, JSON.stringify(args)) as Promise<string>,
      run: () => run.invoke(ctx, '{}') as Promise<string>,
      tools: planTools.tools,
    };
  }

  it('the model sees strict schemas: submit_plan with every field required and a nullable acceptance, run_plan with no arguments', () => {
    const { tools } = setup();
    const [submit, run] = tools;
    expect(submit.strict).toBe(true);
    expect(run.strict).toBe(true);
    const task = (submit.parameters as any).properties.phases.items.properties.tasks.items;
    expect(task.required).toEqual(['id', 'title', 'kind', 'prompt', 'files', 'dependsOn', 'acceptance']);
    expect(task.additionalProperties).toBe(false);
    expect(run.parameters).toMatchObject({ type: 'object', properties: {}, additionalProperties: false });
  });

  it('run_plan before an accepted plan is an error result, not a throw', async () => {
    const s = setup();
    expect(await s.run()).toBe('ERROR: no accepted plan. Call submit_plan first and wait for ACCEPTED.');
    await s.submit({ ...validArgs, phases: [] });
    expect(await s.run()).toMatch(/^ERROR: no accepted plan/);
    expect(s.calls).toHaveLength(0);
  });

  it('a rejected plan saves nothing; an accepted plan is saved as manifest.json and run with the context', async () => {
    const s = setup();
    const rejected = await s.submit({
      ...validArgs,
      phases: [{ name: 'P1', tasks: [{ ...validArgs.phases[0]!.tasks[0]!, files: ['../outside/**'] }] }],
    });
    expect(rejected).toMatch(/^REJECTED: the plan has 1 problem/);
    expect(rejected).toContain('phases[0].tasks[0].files[0]:');
    expect(fs.existsSync(path.join(runDir, 'manifest.json'))).toBe(false);

    fs.mkdirSync(path.join(t.baseDir, 'task-a'));
    const accepted = await s.submit(validArgs);
    expect(accepted).toContain('ACCEPTED: 2 subtask(s) in 1 phase(s)');
    expect(accepted).toContain('P1: a, b (after a)');
    expect(accepted).toContain('Note: task-a already exist(s)');
    const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8'));
    expect(saved.phases[0].tasks.map((x: any) => [x.id, x.status, x.acceptance])).toEqual([
      ['a', 'pending', undefined],
      ['b', 'pending', undefined],
    ]);

    const answer = await s.run();
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0]!.plan.phases[0]!.tasks.map((x) => x.id)).toEqual(['a', 'b']);
    expect(s.calls[0]!.ctx).toMatchObject({ baseDir: t.baseDir, runId: 'r1', runDir, maxParallel: 2 });
    expect(answer).toContain('PLAN INCOMPLETE: 1/2 subtask(s) merged.');
    expect(answer).toContain('- a merged, review approve (risk low, 1 round) — ');
    expect(answer).toContain('- b error, 3 worker runs — reason: acceptance failed twice: npm test exit 1');
    expect(answer).toContain('Tokens: workers 1200, review 330.');
    expect(answer.length).toBeLessThan(1200);

    // One plan per run; run_plan again returns the same result without running again.
    expect(await s.submit(validArgs)).toMatch(/^REJECTED: a plan has already been run/);
    expect(await s.run()).toMatch(/^The plan has already run; its result:\nPLAN INCOMPLETE/);
    expect(s.calls).toHaveLength(1);

    const section = planReportSection(s.state)!;
    expect(section).toMatchObject({ submissions: 3, status: 'finished', manifestFile: path.join(runDir, 'manifest.json'), error: null });
    expect(section.rejections).toHaveLength(1);
    expect(section.result).not.toHaveProperty('manifest');
    expect(section.result?.allMerged).toBe(false);
  });

  it('a dry run checks and saves the plan but never executes it', async () => {
    const s = setup({ dryRun: true });
    expect(await s.submit(validArgs)).toMatch(/^ACCEPTED/);
    expect(await s.run()).toMatch(/^DRY RUN: the plan was checked and saved/);
    expect(s.calls).toHaveLength(0);
    expect(planReportSection(s.state)?.status).toBe('accepted');
  });

  it('an executor that throws becomes an ERROR result and the report says why', async () => {
    const s = setup({
      execute: async () => {
        throw new Error('main/ has a detached HEAD\nstack…');
      },
    });
    await s.submit(validArgs);
    expect(await s.run()).toBe('ERROR: the plan run failed: main/ has a detached HEAD');
    expect(await s.run()).toBe('ERROR: the plan run already failed: main/ has a detached HEAD');
    expect(planReportSection(s.state)).toMatchObject({ status: 'failed', error: 'main/ has a detached HEAD', result: null });
  });

  it('no submission, no report section; rejected only → status rejected', async () => {
    const s = setup();
    expect(planReportSection(s.state)).toBeUndefined();
    await s.submit({ ...validArgs, task: '' });
    expect(planReportSection(s.state)).toMatchObject({ status: 'rejected', submissions: 1, manifestFile: null });
  });

  it('the compact answer says DONE when everything merged', () => {
    const plan: Plan = {
      version: 1,
      task: 'x',
      phases: [{ name: 'p', tasks: [{ id: 'a', title: 'A', kind: 'feature', prompt: 'p', files: ['**'], dependsOn: [] }] }],
    };
    const r = fakeResult(plan, { allMerged: true, left: [] });
    expect(renderPlanResultForModel(r)).toMatch(/^PLAN DONE: 1\/1 subtask\(s\) merged\./);
    expect(renderPlanResultForModel(r)).not.toContain('Subtasks not merged');
  });
});
