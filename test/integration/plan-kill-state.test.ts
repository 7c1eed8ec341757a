import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorktree, removeWorktree } from '../../src/git/index.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import type { Manifest, ManifestTask } from '../../src/scheduler/index.js';
import { git } from '../helpers/git-repo.js';
import { runOrphanedGit } from '../helpers/orphaned-git.js';
import { runCodexWorker } from '../../src/workers/codex/index.js';
import { SMOKE_SCRIPT, fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';

/**
 * The exact states a SIGKILL of the orchestrator leaves, built by hand (real
 * git, the same commands the merge queue runs), then resumed by the executor
 * from the saved manifest: every subtask merged exactly once, main/ left clean.
 * plan-session.test.ts kills real runs at many points; this pins the states
 * that once made its resume flaky.
 */
const rigs: PlanRig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) r.base.cleanup();
});

const mergeSubjects = (main: string) =>
  git(main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s').split('\n').filter(Boolean);

/** The plan-session plan: a, b side by side; c depends on a. */
function threeTasks(): Manifest {
  return plan(
    ['a', 'b', 'c'].map((id) => ({
      id,
      title: `Task ${id}`,
      prompt: fakePrompt(`Do ${id}.`, { append: { [`${id}.txt`]: id } }),
      files: [`${id}.txt`],
      ...(id === 'c' ? { dependsOn: ['a'] } : {}),
    })),
    'three files',
  );
}

/** A subtask's branch as the executor leaves it when it is complete: its worktree with the work committed. */
async function completeBranch(r: PlanRig, m: Manifest, id: string): Promise<string> {
  const wt = await createWorktree(r.base.baseDir, id, { from: 'main' });
  fs.writeFileSync(path.join(wt.path, `${id}.txt`), `${id}\n`);
  git(wt.path, 'add', '-A');
  git(wt.path, 'commit', '-q', '-m', `feature: Task ${id} (${id})`);
  const t = m.phases[0]!.tasks.find((x) => x.id === id) as ManifestTask;
  t.status = 'complete';
  t.branch = wt.branch;
  t.worktree = wt.path;
  return git(r.base.main, 'rev-parse', wt.branch);
}

describe('resume from the state a kill left', { timeout: 120_000 }, () => {
  it('killed while b merged (its git outlived the orchestrator and died of SIGPIPE after the commit), c complete: main/ is cleared and c merged once', async () => {
    const r = makePlanRig({ files: { 'smoke.mjs': SMOKE_SCRIPT }, settings: { smoke: 'node smoke.mjs' } });
    rigs.push(r);
    const main = r.base.main;
    const m = threeTasks();
    for (const id of ['a', 'b', 'c']) await completeBranch(r, m, id);
    // a: merged, recorded, its worktree removed.
    git(main, 'merge', '--no-ff', '--no-edit', '--no-stat', '-m', 'Merge task-a: Task a', 'task-a');
    await removeWorktree(r.base.baseDir, 'a');
    m.phases[0]!.tasks[0]!.status = 'merged';
    // b: the queue's `git merge` when the orchestrator alone was SIGKILLed: committed, its merge state left behind.
    const killed = await runOrphanedGit(main, ['merge', '--no-ff', '--no-edit', '--no-stat', '-m', 'Merge task-b: Task b', 'task-b']);
    expect(killed.signal).toBe('SIGPIPE');
    expect(fs.existsSync(path.join(main, '.git', 'MERGE_HEAD'))).toBe(true);

    const result = await executePlan(m, r.ctx);
    expect(result.left, JSON.stringify(result.left)).toEqual([]);
    expect(result.allMerged).toBe(true);
    expect(mergeSubjects(main)).toEqual(['Merge task-a: Task a', 'Merge task-b: Task b', 'Merge task-c: Task c']);
    expect(result.merges.map((x) => x.taskId).sort()).toEqual(['b', 'c']);
    expect(result.workers).toEqual([]);
    expect(fs.existsSync(path.join(main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(main, 'status', '--porcelain')).toBe('');
    const recovered = readDecisions(r.ctx.runDir).filter((d) => d.action === 'recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.reason).toMatch(/task-b .*although that merge is committed/);
  });

  it('killed while the last merge ran (committed, merge state left): the resume merges nothing again and leaves main/ clean', async () => {
    const r = makePlanRig({ files: { 'smoke.mjs': SMOKE_SCRIPT }, settings: { smoke: 'node smoke.mjs' } });
    rigs.push(r);
    const main = r.base.main;
    const m = threeTasks();
    for (const id of ['a', 'b', 'c']) await completeBranch(r, m, id);
    for (const id of ['a', 'b']) {
      git(main, 'merge', '--no-ff', '--no-edit', '--no-stat', '-m', `Merge task-${id}: Task ${id}`, `task-${id}`);
      await removeWorktree(r.base.baseDir, id);
      m.phases[0]!.tasks.find((t) => t.id === id)!.status = 'merged';
    }
    const killed = await runOrphanedGit(main, ['merge', '--no-ff', '--no-edit', '--no-stat', '-m', 'Merge task-c: Task c', 'task-c']);
    expect(killed.signal).toBe('SIGPIPE');
    const head = git(main, 'rev-parse', 'HEAD');

    const result = await executePlan(m, r.ctx);
    expect(result.allMerged).toBe(true);
    expect(result.merges.map((x) => x.taskId)).toEqual(['c']);
    expect(git(main, 'rev-parse', 'HEAD')).toBe(head);
    expect(fs.existsSync(path.join(main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(main, 'status', '--porcelain')).toBe('');
  });

  for (const left of ['running', 'pending'] as const) {
    it(`killed after b's worker finished, before the run recorded it (b still ${left}): its result is used, no worker runs again, b's work is there once`, async () => {
      const r = makePlanRig();
      rigs.push(r);
      const m = threeTasks();
      m.phases[0]!.tasks = m.phases[0]!.tasks.filter((t) => t.id === 'b');
      const b = m.phases[0]!.tasks[0]!;
      const wt = await createWorktree(r.base.baseDir, 'b', { from: 'main' });
      // The worker the earlier process launched (b-1), run to its end by the worker layer: meta.json says complete.
      const done = await runCodexWorker({
        prompt: b.prompt,
        cwd: wt.path,
        config: r.config,
        runId: r.ctx.runId,
        workerId: 'b-1',
        ...(r.ctx.workerEnv ? { env: r.ctx.workerEnv } : {}),
      });
      expect(done.status).toBe('complete');
      // Then the process died: b stays `running` (killed), or `pending` (a stop such as a full disk requeued it).
      b.status = left;
      b.worktree = wt.path;
      b.branch = wt.branch;
      const calls = () => fs.readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).length;
      expect(calls()).toBe(1);

      const result = await executePlan(m, r.ctx);
      expect(result.allMerged, JSON.stringify(result.left)).toBe(true);
      expect(result.workers).toEqual([]);
      expect(calls()).toBe(1);
      expect(fs.readFileSync(path.join(r.base.main, 'b.txt'), 'utf8')).toBe('b\n');
      const recovered = readDecisions(r.ctx.runDir).find((d) => d.kind === 'worker' && d.action === 'recovered');
      expect(recovered).toMatchObject({ taskId: 'b', data: { workerId: 'b-1', threadId: done.threadId } });
      expect(result.manifest.phases[0]!.tasks[0]!.threadId).toBe(done.threadId);
    });
  }
});
