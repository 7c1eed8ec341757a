import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { codexScript, DEMO_EDITS } from '../../src/demo/demo-scripts.js';
import { SAMPLE_FILES } from '../../src/demo/sample-repo.js';
import {
  inputText,
  startScriptedModelServer,
  toolOutputs,
  type Script,
  type ScriptedModelServer,
  type ScriptedRequest,
  type ScriptedTurn,
} from '../../src/demo/scripted-model-server.js';
import { runOrchestrator } from '../../src/orchestrator/run.js';
import { manifestSchema } from '../../src/scheduler/index.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { scriptedRunConfig } from '../helpers/scripted-run.js';

/**
 * The plan road end to end: the real Agents SDK run loop with a scripted
 * orchestrator model calling submit_plan / run_plan, the real plan executor,
 * the real review agent (scripted reviewer answers on the same endpoint), the
 * real codex binary driven by a second scripted server, real git.
 */

const REVIEWER = 'You are the Reviewer';
const isReviewer = (r: ScriptedRequest) => (r.body.instructions ?? '').includes(REVIEWER);

function task(id: string, slug: string, dependsOn: string[] = [], prompt?: string) {
  const title = DEMO_EDITS.find((e) => e.slug === slug)?.title ?? slug;
  return {
    id,
    title: `Add ${title}`,
    kind: 'feature',
    prompt: prompt ?? `Add ${title} in src/${slug}.js with a test in test/${slug}.test.js; run npm test. DEMO_EDIT:${slug}`,
    files: [`src/${slug}.js`, `test/${slug}.test.js`],
    dependsOn,
    acceptance: 'npm test',
  };
}

/** Orchestrator turns by the number of tool outputs so far; reviewer requests answered by `review`. */
function script(turns: ScriptedTurn[], review: (r: ScriptedRequest, n: number) => ScriptedTurn): Script {
  let reviews = 0;
  return (r) => {
    if (isReviewer(r)) return review(r, reviews++);
    const done = toolOutputs(r.body).size;
    return turns[done] ?? { text: 'Done; see the report.' };
  };
}

const approve = { text: JSON.stringify({ verdict: 'approve', comments: 'Matches the instructions; the test passes.', risk: 'low' }) };

describe('plan tools end to end (scripted models, real SDK, executor, reviewer, codex, git)', () => {
  let t: TempBase;
  let orch: ScriptedModelServer | undefined;
  let codex: ScriptedModelServer;

  beforeEach(async () => {
    t = makeTempBase(SAMPLE_FILES);
    codex = await startScriptedModelServer(codexScript());
    const codexHome = path.join(t.root, 'codex-home');
    fs.mkdirSync(codexHome);
    process.env.CODEX_HOME = codexHome;
    process.env.OPENAI_API_KEY = 'test-key';
  });
  afterEach(async () => {
    await orch?.close();
    orch = undefined;
    await codex.close();
    t.cleanup();
  });

  const configFor = (server: ScriptedModelServer, extra: Record<string, string> = {}): Config =>
    scriptedRunConfig(t, server.url, codex.url, extra);

  it('an invalid plan (cycle, unknown id) is rejected with precise errors, corrected on the second try, run, reviewed and merged', async () => {
    const invalid = {
      task: 'Add capitalize and truncate',
      phases: [{ name: 'Helpers', tasks: [task('t1', 'capitalize', ['t2']), task('t2', 'truncate', ['t1', 't9'])] }],
    };
    const valid = {
      task: 'Add capitalize and truncate',
      phases: [{ name: 'Helpers', tasks: [task('t1', 'capitalize'), task('t2', 'truncate', ['t1'])] }],
    };
    orch = await startScriptedModelServer(
      script(
        [
          { toolCalls: [{ name: 'submit_plan', arguments: invalid }] },
          { toolCalls: [{ name: 'submit_plan', arguments: valid }] },
          { toolCalls: [{ name: 'run_plan', arguments: {} }] },
        ],
        () => approve,
      ),
    );
    const report = await runOrchestrator({ task: 'Add capitalize and truncate helpers', config: configFor(orch) });
    expect(report.error).toBeNull();
    expect(report.status).toBe('succeeded');

    // The model had the three tools, strict.
    const first = orch.requests.find((r) => !isReviewer(r))!;
    expect(first.body.tools?.map((x) => x.name)).toEqual(['run_repo_command', 'submit_plan', 'run_plan']);

    // What the model received back after the invalid plan: every problem, with its path.
    const orchestratorRequests = orch.requests.filter((r) => !isReviewer(r));
    const afterFirst = [...toolOutputs(orchestratorRequests[1]!.body).values()];
    expect(afterFirst).toHaveLength(1);
    const rejected = afterFirst[0]!;
    expect(rejected).toMatch(/^REJECTED: the plan has 2 problem\(s\)/);
    expect(rejected).toContain('- phases[0].tasks[1].dependsOn[1]: unknown task id "t9"');
    expect(rejected).toContain('- dependsOn cycle: t1 → t2 → t1');
    // The second submission was accepted and saved.
    const accepted = [...toolOutputs(orchestratorRequests[2]!.body).values()][1]!;
    expect(accepted).toMatch(/^ACCEPTED: 2 subtask\(s\) in 1 phase\(s\)/);
    expect(accepted).toContain('t2 (after t1)');
    // run_plan's compact answer.
    const planAnswer = [...toolOutputs(orchestratorRequests[3]!.body).values()][2]!;
    expect(planAnswer).toMatch(/^PLAN DONE: 2\/2 subtask\(s\) merged/);
    expect(planAnswer).toContain('- t1 merged');
    expect(planAnswer).toContain('review approve (risk low, 1 round)');
    expect(planAnswer).toContain('Merged into main in this order: task-t1, task-t2.');
    expect(planAnswer.length).toBeLessThan(2000);

    // The manifest in the run directory is the corrected plan, now merged.
    const manifest = manifestSchema.parse(JSON.parse(fs.readFileSync(path.join(report.runDir, 'manifest.json'), 'utf8')));
    expect(manifest.phases[0]!.tasks.map((x) => [x.id, x.status, x.dependsOn])).toEqual([
      ['t1', 'merged', []],
      ['t2', 'merged', ['t1']],
    ]);

    // The report has the plan section, the merges and the review tokens.
    expect(report.plan?.submissions).toBe(2);
    expect(report.plan?.rejections).toHaveLength(1);
    expect(report.plan?.rejections[0]?.join('\n')).toContain('dependsOn cycle: t1 → t2 → t1 (each task depends on the next)');
    expect(report.plan?.status).toBe('finished');
    expect(report.plan?.result?.allMerged).toBe(true);
    expect(report.plan?.result?.subtasks.map((s) => s.reviews.map((r) => r.verdict))).toEqual([['approve'], ['approve']]);
    expect(report.merges.map((m) => m.branch)).toEqual(['task-t1', 'task-t2']);
    expect(orch.requests.filter(isReviewer)).toHaveLength(2);
    expect(report.plan!.result!.tokens.review.input).toBeGreaterThan(0);
    expect(report.tokens.workers.input).toBeGreaterThan(0);
    expect(report.tokens.total).toBeGreaterThan(
      report.tokens.orchestrator.input + report.tokens.orchestrator.output + report.tokens.workers.input + report.tokens.workers.output,
    );
    expect(fs.readFileSync(path.join(report.runDir, 'report.md'), 'utf8')).toContain('## Plan (finished; 2 submissions, 1 rejected)');
    expect(fs.readFileSync(path.join(t.main, 'src/capitalize.js'), 'utf8')).toContain('toUpperCase');
    expect(fs.readFileSync(path.join(t.main, 'src/truncate.js'), 'utf8')).toContain('"..."');
    expect(git(t.main, 'status', '--porcelain')).toBe('');
  });

  it('review rework round: the reviewer asks for rework first, the worker thread is resumed with the comments, then approved', async () => {
    const comments = 'Also handle the empty string in capitalize (REVIEW-MARK-7f3).';
    orch = await startScriptedModelServer(
      script(
        [
          {
            toolCalls: [
              { name: 'submit_plan', arguments: { task: 'Add capitalize', phases: [{ name: 'One', tasks: [task('cap', 'capitalize')] }] } },
            ],
          },
          { toolCalls: [{ name: 'run_plan', arguments: {} }] },
        ],
        (_r, n) => (n === 0 ? { text: JSON.stringify({ verdict: 'rework', comments, risk: 'medium' }) } : approve),
      ),
    );
    const report = await runOrchestrator({ task: 'Add capitalize', config: configFor(orch) });
    expect(report.status).toBe('succeeded');
    const result = report.plan!.result!;
    expect(result.allMerged).toBe(true);
    expect(result.subtasks[0]!.reviews.map((r) => [r.round, r.verdict])).toEqual([
      [1, 'rework'],
      [2, 'approve'],
    ]);
    // Two worker runs on the same codex thread: the initial one and the review rework.
    const workers = result.workers.filter((w) => w.taskId === 'cap');
    expect(workers.map((w) => w.purpose)).toEqual(['initial', 'review']);
    expect(workers[0]!.threadId).toBeTruthy();
    expect(workers[1]!.threadId).toBe(workers[0]!.threadId);
    // The codex model saw the reviewer's comments in the resumed thread (which still holds the original task).
    const resumed = codex.requests.filter((r) => inputText(r.body).includes('REVIEW-MARK-7f3'));
    expect(resumed.length).toBeGreaterThan(0);
    expect(inputText(resumed[0]!.body)).toContain('DEMO_EDIT:capitalize');
    expect(inputText(resumed[0]!.body)).toContain('asks for rework');
    // The second review saw round 2.
    const reviews = orch.requests.filter(isReviewer);
    expect(reviews).toHaveLength(2);
    expect(inputText(reviews[1]!.body)).toContain('# Review round 2');
    const planAnswer = [...toolOutputs(orch.requests.filter((r) => !isReviewer(r))[2]!.body).values()][1]!;
    expect(planAnswer).toContain('review approve (risk low, 2 rounds)');
    expect(report.merges.map((m) => m.branch)).toEqual(['task-cap']);
  });

  it('an invalid reviewer answer is retried once inside the plan run, and the subtask still merges', async () => {
    orch = await startScriptedModelServer(
      script(
        [
          {
            toolCalls: [
              { name: 'submit_plan', arguments: { task: 'Add truncate', phases: [{ name: 'One', tasks: [task('trunc', 'truncate')] }] } },
            ],
          },
          { toolCalls: [{ name: 'run_plan', arguments: {} }] },
        ],
        (_r, n) => (n === 0 ? { text: 'Looks good to me!' } : approve),
      ),
    );
    const report = await runOrchestrator({ task: 'Add truncate', config: configFor(orch) });
    expect(report.status).toBe('succeeded');
    const reviews = orch.requests.filter(isReviewer);
    expect(reviews).toHaveLength(2);
    expect(inputText(reviews[1]!.body)).toContain('Your previous answer to this review was rejected');
    expect(report.plan!.result!.subtasks[0]!.reviews.map((r) => r.verdict)).toEqual(['approve']);
    expect(report.merges.map((m) => m.branch)).toEqual(['task-trunc']);
  });
});
