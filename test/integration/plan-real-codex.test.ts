import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import type { ReviewFn } from '../../src/orchestrator/review/types.js';
import { startCodexRig, type CodexRig } from '../helpers/codex-worker-env.js';
import { git } from '../helpers/git-repo.js';
import { lastUserText, resultText, toolOutputs, userText, type Script } from '../helpers/model-server.js';
import { makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';

/**
 * The plan executor with the REAL codex binary (bundled @openai/codex) against
 * the scripted Responses API: each subtask's worker runs `exec_command` to
 * write FILE=<name>, the acceptance command checks it, a review asks for one
 * rework (REWORK-MARKER) which resumes the same codex thread, and the merge
 * queue merges both branches into main.
 */
const script: Script = ({ body }) => {
  const all = userText(body);
  const last = lastUserText(body);
  const file = /FILE=([A-Za-z0-9_.-]+)/.exec(all)?.[1];
  const outputs = toolOutputs(body).length;
  if (last.includes('REWORK-MARKER')) {
    if (outputs < 2) return { toolCalls: [{ name: 'exec_command', arguments: { cmd: `printf 'reviewed\\n' > ${file}.review` } }] };
    return { text: resultText({ goal_met: true, summary: `addressed the review of ${file}` }) };
  }
  if (file && outputs === 0)
    return { toolCalls: [{ name: 'exec_command', arguments: { cmd: `printf 'hello from ${file}\\n' > ${file}` } }] };
  return { text: resultText({ goal_met: true, summary: `created ${file}` }), usage: { input_tokens: 200, output_tokens: 10 } };
};

let codex: CodexRig;
let r: PlanRig;
beforeAll(async () => {
  codex = await startCodexRig(script);
  r = makePlanRig({ realCodex: true, codexArgs: codex.codexArgs, workerEnv: codex.env });
});
afterAll(async () => {
  await codex?.close();
  r?.base.cleanup();
});

describe('executePlan on the real codex binary', () => {
  it('runs two parallel subtasks with acceptance, one review rework on the same thread, and merges both', async () => {
    const reviews: string[] = [];
    const review: ReviewFn = async (input) => {
      reviews.push(`${input.subtask.id}#${input.round}`);
      if (input.subtask.id === 'alpha' && input.round === 1)
        return { verdict: 'rework', comments: 'Add a review note file. REWORK-MARKER', risk: 'low', tokens: { input: 10, output: 5 } };
      return { verdict: 'approve', comments: 'looks good', risk: 'low', tokens: { input: 10, output: 5 } };
    };
    const result = await executePlan(
      plan([
        {
          id: 'alpha',
          title: 'Alpha file',
          prompt: 'Create the alpha file. FILE=alpha.txt',
          files: ['alpha*'],
          acceptance: 'test -f alpha.txt',
        },
        {
          id: 'beta',
          title: 'Beta file',
          prompt: 'Create the beta file. FILE=beta.txt',
          files: ['beta*'],
          acceptance: 'grep -q hello beta.txt',
        },
      ]),
      { ...r.ctx, review, maxParallel: 2 },
    );
    expect(result.left).toEqual([]);
    expect(result.allMerged).toBe(true);
    expect(fs.readFileSync(path.join(r.base.main, 'alpha.txt'), 'utf8')).toBe('hello from alpha.txt\n');
    expect(fs.readFileSync(path.join(r.base.main, 'alpha.txt.review'), 'utf8')).toBe('reviewed\n');
    expect(fs.readFileSync(path.join(r.base.main, 'beta.txt'), 'utf8')).toBe('hello from beta.txt\n');
    expect(reviews.sort()).toEqual(['alpha#1', 'alpha#2', 'beta#1']);
    const alpha = result.workers.filter((w) => w.taskId === 'alpha');
    expect(alpha.map((w) => [w.purpose, w.status])).toEqual([
      ['initial', 'complete'],
      ['review', 'complete'],
    ]);
    expect(alpha[0]!.threadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(alpha[1]!.threadId).toBe(alpha[0]!.threadId);
    // the worker saw its kind's template around the subtask prompt
    const prompt = fs.readFileSync(path.join(alpha[0]!.runDir, 'prompt.md'), 'utf8');
    expect(prompt).toContain('# Implement a new feature: Alpha file');
    expect(prompt).toContain('Create the alpha file. FILE=alpha.txt');
    expect(prompt).toContain('Run `test -f alpha.txt` in this worktree');
    expect(result.tokens.workers.input).toBeGreaterThan(0);
    expect(result.merges.map((m) => m.taskId).sort()).toEqual(['alpha', 'beta']);
    expect(git(r.base.main, 'log', '--merges', '--format=%s').split('\n').sort()).toEqual([
      'Merge task-alpha: Alpha file',
      'Merge task-beta: Beta file',
    ]);
    expect(readDecisions(r.ctx.runDir).filter((d) => d.kind === 'acceptance' && d.action === 'passed')).toHaveLength(3);
    expect(git(r.base.main, 'status', '--porcelain')).toBe('');
  });
});
