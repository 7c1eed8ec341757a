import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { subtaskDiffs } from '../../src/orchestrator/subtask-diffs.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { approveMerge, pendingApprovals, rejectMerge } from '../../src/orchestrator/approval.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { manifestSchema } from '../../src/scheduler/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { git } from '../helpers/git-repo.js';
import { fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';

/**
 * The approval gate end to end: the plan executor on real git with the plan
 * fake codex stops before the merge; a person's decision in the store lets it
 * merge, or sends the note back to the worker on its thread.
 */
const rigs: PlanRig[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const r of rigs.splice(0)) r.base.cleanup();
});

function setup(settings?: object): { r: PlanRig; store: Store } {
  const r = makePlanRig(settings ? { settings } : {});
  rigs.push(r);
  const store = openStore({ stateDir: r.base.stateDir });
  stores.push(store);
  store.createRun({ id: r.ctx.runId, task: 'the whole plan', baseDir: r.base.baseDir, status: 'running' });
  return { r, store };
}

async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

const greet = () =>
  plan([
    {
      id: 'greet',
      title: 'Greeting',
      prompt: fakePrompt('Write.', { write: { 'hello.txt': 'helo\n' }, onResume: { 'hello.txt': 'hello\n' } }),
      acceptance: 'test -f hello.txt',
    },
  ]);

describe('approval before merge', () => {
  it('waits before the merge; the diff shows the branch; a rejection goes to the worker on its thread; approval merges', async () => {
    const { r, store } = setup();
    const events: RunEvent[] = [];
    const running = executePlan(greet(), { ...r.ctx, store, approve: true, approvalPollMs: 25, onEvent: (e) => events.push(e) });
    await until(() => pendingApprovals(store).length === 1, 'the first approval request');
    const mainHead = git(r.base.main, 'rev-parse', 'HEAD');
    expect(git(r.base.main, 'log', '--oneline').split('\n')).toHaveLength(1);
    expect(store.getSubtask(r.ctx.runId, 'greet')?.status).toBe('awaiting_approval');

    const [diff] = await subtaskDiffs(store, store.requireRun(r.ctx.runId), 'greet');
    expect(diff!.merged).toBe(false);
    expect(diff!.base).toBe(mainHead);
    expect(diff!.files.map((f) => [f.path, f.status, f.additions, f.deletions])).toEqual([['hello.txt', 'added', 1, 0]]);
    expect(diff!.files[0]!.hunks[0]!.lines).toEqual([{ kind: 'add', text: 'helo' }]);

    const rejected = await rejectMerge(store, r.ctx.runId, 'greet', 'APPROVAL-NOTE: spell it hello');
    expect(rejected.decision).toBe('rejected');
    // The worker gets the note on its thread, then the gate asks again about the new head.
    await until(
      () => pendingApprovals(store).length === 1 && pendingApprovals(store)[0]!.head !== diff!.head,
      'the second approval request',
    );
    const calls = fs
      .readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { resume: boolean; prompt: string });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.resume).toBe(true);
    expect(calls[1]!.prompt).toContain('APPROVAL-NOTE: spell it hello');
    expect(git(r.base.main, 'rev-parse', 'HEAD')).toBe(mainHead);

    await approveMerge(store, r.ctx.runId, 'greet');
    const result = await running;
    expect(result.allMerged).toBe(true);
    expect(result.workers.map((w) => w.purpose)).toEqual(['initial', 'approval']);
    expect(fs.readFileSync(path.join(r.base.main, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(store.getSubtask(r.ctx.runId, 'greet')?.status).toBe('merged');
    const ds = readDecisions(r.ctx.runDir)
      .filter((d) => d.kind === 'merge')
      .map((d) => d.action);
    expect(ds.slice(0, 4)).toEqual(['awaiting-approval', 'rejected', 'awaiting-approval', 'approved']);
    expect(events.filter((e) => e.type === 'approval.requested')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'approval.decided').map((e) => e.type === 'approval.decided' && e.decision)).toEqual([
      'rejected',
      'approved',
    ]);

    // Once merged, the diff is the merge commit's.
    const [after] = await subtaskDiffs(store, store.requireRun(r.ctx.runId), 'greet');
    expect(after!.merged).toBe(true);
    expect(after!.files[0]!.hunks[0]!.lines).toEqual([{ kind: 'add', text: 'hello' }]);
  });

  it('the wait survives a restart: approved while no process ran, the resumed run (no flag, settings off) merges without asking again', async () => {
    const { r, store } = setup();
    const ac = new AbortController();
    const first = executePlan(greet(), { ...r.ctx, store, approve: true, approvalPollMs: 25, signal: ac.signal });
    await until(() => pendingApprovals(store).length === 1, 'the approval request');
    ac.abort();
    const stopped = await first;
    expect(stopped.allMerged).toBe(false);
    expect(stopped.left).toEqual([{ id: 'greet', status: 'complete', reason: expect.stringContaining('waits for the merge queue') }]);
    // Still waiting, in the store, with nobody running.
    expect(pendingApprovals(store)).toMatchObject([{ taskId: 'greet', live: false }]);
    const approved = await approveMerge(store, r.ctx.runId, 'greet');
    expect(approved.next).toContain('codex-orch resume');

    const manifest = manifestSchema.parse(JSON.parse(fs.readFileSync(stopped.manifestFile, 'utf8')));
    const events: RunEvent[] = [];
    const second = await executePlan(manifest, { ...r.ctx, store, approvalPollMs: 25, onEvent: (e) => events.push(e) });
    expect(second.allMerged).toBe(true);
    expect(second.workers).toEqual([]);
    expect(events.some((e) => e.type === 'approval.requested')).toBe(false);
    expect(fs.readFileSync(path.join(r.base.main, 'hello.txt'), 'utf8')).toBe('helo\n');
  });

  it('"approve": true in the repository settings turns the gate on', async () => {
    const { r, store } = setup({ approve: true });
    const running = executePlan(greet(), { ...r.ctx, store, approvalPollMs: 25 });
    await until(() => pendingApprovals(store, r.ctx.runId).length === 1, 'the approval request');
    await approveMerge(store, r.ctx.runId, 'task-greet');
    expect((await running).allMerged).toBe(true);
  });

  it('the gate without a run store refuses to start, saying why', async () => {
    const r = makePlanRig();
    rigs.push(r);
    await expect(executePlan(greet(), { ...r.ctx, approve: true })).rejects.toThrow('approval before merge needs the run store');
    expect(git(r.base.main, 'log', '--oneline').split('\n')).toHaveLength(1);
  });
});
