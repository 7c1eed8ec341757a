import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import type { ReviewFn } from '../../src/orchestrator/review/types.js';
import { manifestSchema } from '../../src/scheduler/index.js';
import { git } from '../helpers/git-repo.js';
import { SMOKE_SCRIPT, fakePrompt, makePlanRig, plan, readDecisions, seqOf, type PlanRig } from '../helpers/plan-env.js';

/**
 * The plan executor on real git with the plan fake codex (test/fixtures/bin/plan-fake-codex):
 * what each "worker" writes is scripted in its prompt, so the scheduling, the
 * merge queue, conflict and smoke rework, self-heal and budgets are exercised
 * end to end. The real codex binary runs in plan-real-codex.test.ts.
 */
const rigs: PlanRig[] = [];
function rig(options: Parameters<typeof makePlanRig>[0] = {}): PlanRig {
  const r = makePlanRig(options);
  rigs.push(r);
  return r;
}
afterEach(() => {
  for (const r of rigs.splice(0)) r.base.cleanup();
});

const readManifest = (file: string) => manifestSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
const mergeSubjects = (main: string) =>
  git(main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s').split('\n').filter(Boolean);

describe('executePlan', () => {
  it('runs a 3-subtask plan: dependency and overlapping files respected, merge order deterministic, main has everything', async () => {
    const r = rig({
      files: { 'smoke.mjs': SMOKE_SCRIPT },
      settings: { setup: ['true'], smoke: 'node smoke.mjs', archive: 'git status --short' },
    });
    const events: RunEvent[] = [];
    const result = await executePlan(
      plan([
        {
          id: 'lib-a',
          title: 'Add a',
          prompt: fakePrompt('Write lib/a.txt.', { write: { 'lib/a.txt': 'a\n' } }),
          files: ['lib/**'],
          acceptance: 'test -f lib/a.txt',
        },
        // overlaps lib-a (lib/**) and docs (docs/**): never runs with either
        {
          id: 'lib-b',
          title: 'Add b',
          prompt: fakePrompt('Write lib/b.txt.', { write: { 'lib/b.txt': 'b\n' }, commit: true }),
          files: ['lib/b.txt', 'docs/**'],
        },
        {
          id: 'docs',
          title: 'Document a',
          prompt: fakePrompt('Write docs/a.md.', { write: { 'docs/a.md': '# a\n' } }),
          files: ['docs/**'],
          dependsOn: ['lib-a'],
          acceptance: 'test -f docs/a.md',
        },
      ]),
      { ...r.ctx, maxParallel: 3, onEvent: (e) => events.push(e) },
    );
    expect(result.left).toEqual([]);
    expect(result.allMerged).toBe(true);
    expect(result.stoppedBy).toBeNull();
    // lib-a first (longest remaining path), then lib-b (declared before docs; overlaps it), then docs.
    expect(result.merges.map((m) => m.taskId)).toEqual(['lib-a', 'lib-b', 'docs']);
    expect(mergeSubjects(r.base.main)).toEqual(['Merge task-lib-a: Add a', 'Merge task-lib-b: Add b', 'Merge task-docs: Document a']);
    for (const f of ['lib/a.txt', 'lib/b.txt', 'docs/a.md']) expect(fs.existsSync(path.join(r.base.main, f)), f).toBe(true);

    // Overlapping subtasks never ran together: each started only after the other was merged (decision order).
    const ds = readDecisions(r.ctx.runDir);
    const started = (id: string) => seqOf(ds, { kind: 'schedule', action: 'started', taskId: id });
    const merged = (id: string) => seqOf(ds, { kind: 'schedule', action: 'merged', taskId: id });
    expect(started('lib-b')).toBeGreaterThan(merged('lib-a'));
    expect(started('docs')).toBeGreaterThan(merged('lib-b'));
    // …and from the recorded timestamps in the manifest
    const m = readManifest(result.manifestFile);
    const byId = Object.fromEntries(m.phases[0]!.tasks.map((t) => [t.id, t]));
    expect(byId['lib-b']!.startedAt! >= byId['lib-a']!.endedAt!).toBe(true);
    expect(byId['docs']!.startedAt! >= byId['lib-b']!.endedAt!).toBe(true);
    expect(m.phases[0]!.tasks.map((t) => [t.id, t.status, t.attempts, t.branch])).toEqual([
      ['lib-a', 'merged', 1, 'task-lib-a'],
      ['lib-b', 'merged', 1, 'task-lib-b'],
      ['docs', 'merged', 1, 'task-docs'],
    ]);
    expect(m.phases[0]!.tasks.every((t) => t.threadId !== null && t.worktree === path.join(r.base.baseDir, `task-${t.id}`))).toBe(true);

    // Worktrees of merged subtasks removed, branches kept; setup/acceptance/smoke/archive went through the gateway.
    for (const id of ['lib-a', 'lib-b', 'docs']) expect(fs.existsSync(path.join(r.base.baseDir, `task-${id}`))).toBe(false);
    expect(git(r.base.main, 'branch', '--format=%(refname:short)').split('\n').sort()).toEqual([
      'main',
      'task-docs',
      'task-lib-a',
      'task-lib-b',
    ]);
    expect(ds.filter((d) => d.action === 'setup')).toHaveLength(3);
    expect(ds.filter((d) => d.kind === 'acceptance' && d.action === 'passed')).toHaveLength(2);
    expect(ds.filter((d) => d.action === 'archived')).toHaveLength(3);
    expect(ds.filter((d) => d.kind === 'review' && d.action === 'skipped')).toHaveLength(3);
    // lib-b committed itself; the others were committed for it
    expect(
      ds
        .filter((d) => d.action === 'committed')
        .map((d) => d.taskId)
        .sort(),
    ).toEqual(['docs', 'lib-a']);
    expect(result.decisions).toBe(ds.length);

    expect(result.workers).toHaveLength(3);
    expect(
      result.workers.every(
        (w) => w.status === 'complete' && w.runDir.startsWith(path.join(r.base.stateDir, 'runs', r.ctx.runId, 'workers')),
      ),
    ).toBe(true);
    expect(result.tokens.workers).toEqual({ input: 300, cachedInput: 0, output: 60 });
    expect(result.tokens.total).toBe(360);
    expect(result.subtasks.map((s) => [s.id, s.status, s.workers, s.merge.attempts])).toEqual([
      ['lib-a', 'merged', 1, 1],
      ['lib-b', 'merged', 1, 1],
      ['docs', 'merged', 1, 1],
    ]);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['plan.started', 'subtask.status', 'plan.worker', 'plan.decision', 'plan.finished'])
      expect(types.has(t as RunEvent['type'])).toBe(true);
    expect(git(r.base.main, 'status', '--porcelain')).toBe('');
  });

  it('conflicting branches: the second one is reworked by its worker, re-queued and merged; both intents end up in main', async () => {
    const r = rig();
    const result = await executePlan(
      plan([
        // declared disjoint on purpose, so they run together and collide in shared.txt at merge time
        {
          id: 'one',
          title: 'Line one',
          prompt: fakePrompt('Append.', { append: { 'shared.txt': 'from one' }, barrier: { name: 'c', count: 2 } }),
          files: ['one/**'],
        },
        {
          id: 'two',
          title: 'Line two',
          prompt: fakePrompt('Append.', { append: { 'shared.txt': 'from two' }, barrier: { name: 'c', count: 2 } }),
          files: ['two/**'],
        },
      ]),
      { ...r.ctx, maxParallel: 2 },
    );
    expect(result.allMerged).toBe(true);
    const shared = fs.readFileSync(path.join(r.base.main, 'shared.txt'), 'utf8');
    expect(shared).toContain('from one');
    expect(shared).toContain('from two');
    expect(shared).not.toMatch(/<<<<<<<|>>>>>>>|=======/);
    const reworked = result.subtasks.filter((s) => s.merge.conflicts === 1);
    expect(reworked).toHaveLength(1);
    expect(reworked[0]!.merge.attempts).toBe(2);
    const ds = readDecisions(r.ctx.runDir);
    const id = reworked[0]!.id;
    expect(ds.some((d) => d.kind === 'merge' && d.action === 'conflict' && d.taskId === id)).toBe(true);
    expect(ds.some((d) => d.action === 'rework-conflict' && d.taskId === id && (d.data?.files as string[]).includes('shared.txt'))).toBe(
      true,
    );
    expect(ds.some((d) => d.action === 'rework-resolved' && d.taskId === id)).toBe(true);
    const conflictWorker = result.workers.find((w) => w.purpose === 'conflict');
    expect(conflictWorker?.taskId).toBe(id);
    // the conflict worker resumed the subtask's own thread, and was told the files and both sides' intent
    const initial = result.workers.find((w) => w.purpose === 'initial' && w.taskId === id);
    expect(conflictWorker?.threadId).toBe(initial?.threadId);
    const calls = fs
      .readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const resume = calls.find((c) => c.resume);
    expect(resume.prompt).toContain('shared.txt');
    expect(resume.prompt).toMatch(/Merge task-(one|two): Line (one|two)/);
    expect(mergeSubjects(r.base.main)).toHaveLength(2);
    expect(git(r.base.main, 'status', '--porcelain')).toBe('');
  });

  it('a failed smoke test is reverted in main, sent back to the worker with the log, and merged after the fix', async () => {
    const r = rig({ files: { 'smoke.mjs': SMOKE_SCRIPT }, settings: { smoke: 'node smoke.mjs' } });
    const result = await executePlan(
      plan([
        {
          id: 'feat',
          title: 'Feature',
          prompt: fakePrompt('Write it.', { write: { 'feature.txt': 'BROKEN\n' }, onResume: { 'feature.txt': 'fixed\n' } }),
        },
      ]),
      r.ctx,
    );
    expect(result.allMerged).toBe(true);
    const s = result.subtasks[0]!;
    expect(s.merge).toMatchObject({ smokeFailures: 1, attempts: 2, outcome: 'merged' });
    expect(fs.readFileSync(path.join(r.base.main, 'feature.txt'), 'utf8')).toBe('fixed\n');
    const subjects = git(r.base.main, 'log', '--first-parent', '--reverse', '--format=%s').split('\n');
    expect(subjects.filter((x) => x.startsWith('Merge task-feat'))).toHaveLength(2);
    expect(subjects.some((x) => x.startsWith('Revert "Merge task-feat'))).toBe(true);
    const smokeWorker = result.workers.find((w) => w.purpose === 'smoke');
    expect(smokeWorker?.status).toBe('complete');
    const calls = fs
      .readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(calls.find((c) => c.resume).prompt).toContain('smoke: BROKEN in feature.txt');
    const ds = readDecisions(r.ctx.runDir);
    expect(ds.some((d) => d.kind === 'merge' && d.action === 'smoke-failed')).toBe(true);
    expect(ds.some((d) => d.action === 'rework-smoke')).toBe(true);
  });

  it('a stalled worker is self-healed by resuming its thread with the error', async () => {
    const r = rig();
    const result = await executePlan(
      plan([
        {
          id: 'slow',
          title: 'Slow one',
          prompt: fakePrompt('Write.', { write: { 'slow.txt': 'done\n' }, stallFirst: true }),
          acceptance: 'test -f slow.txt',
        },
      ]),
      { ...r.ctx, workerStallMs: 3000 },
    );
    expect(result.allMerged).toBe(true);
    expect(result.workers.map((w) => [w.purpose, w.status])).toEqual([
      ['initial', 'stuck'],
      ['heal', 'complete'],
    ]);
    expect(result.workers[1]!.threadId).toBe(result.workers[0]!.threadId);
    const ds = readDecisions(r.ctx.runDir);
    const heal = ds.find((d) => d.kind === 'heal');
    expect(heal?.reason).toMatch(/stall/);
    expect(fs.existsSync(path.join(r.base.main, 'slow.txt'))).toBe(true);
  });

  it('a worker that stays stuck makes its subtask stuck; dependants are blocked and the rest goes on', async () => {
    const r = rig();
    const result = await executePlan(
      plan([
        {
          id: 'stuck',
          title: 'Never finishes',
          prompt: fakePrompt('Write.', { write: { 's.txt': 's\n' }, stallFirst: true }),
          files: ['s.txt'],
        },
        {
          id: 'after',
          title: 'Needs stuck',
          prompt: fakePrompt('Write.', { write: { 'a.txt': 'a\n' } }),
          files: ['a.txt'],
          dependsOn: ['stuck'],
        },
        { id: 'free', title: 'Independent', prompt: fakePrompt('Write.', { write: { 'f.txt': 'f\n' } }), files: ['f.txt'] },
      ]),
      { ...r.ctx, workerStallMs: 3000, maxHeals: 0 },
    );
    expect(result.allMerged).toBe(false);
    const status = Object.fromEntries(result.subtasks.map((s) => [s.id, s.status]));
    expect(status).toEqual({ stuck: 'stuck', after: 'blocked', free: 'merged' });
    expect(result.left.find((l) => l.id === 'after')?.reason).toMatch(/dependency stuck is stuck/);
    const m = readManifest(result.manifestFile);
    expect(m.phases[0]!.tasks.map((t) => t.status)).toEqual(['stuck', 'blocked', 'merged']);
    // the stuck worktree is kept for inspection
    expect(fs.existsSync(path.join(r.base.baseDir, 'task-stuck'))).toBe(true);
  });

  it('review rework resumes the worker thread with the comments; a bounded number of rounds', async () => {
    const r = rig();
    const inputs: Parameters<ReviewFn>[0][] = [];
    const review: ReviewFn = async (input) => {
      inputs.push(input);
      return input.round === 1
        ? { verdict: 'rework', comments: 'Please say hello properly (REVIEW-COMMENT).', risk: 'low', tokens: { input: 50, output: 10 } }
        : { verdict: 'approve', comments: 'good', risk: 'low', tokens: { input: 40, output: 5 } };
    };
    const result = await executePlan(
      plan([
        {
          id: 'greet',
          title: 'Greeting',
          prompt: fakePrompt('Write.', { write: { 'hello.txt': 'helo\n' }, onResume: { 'hello.txt': 'hello\n' } }),
          acceptance: 'test -f hello.txt',
        },
      ]),
      { ...r.ctx, review },
    );
    expect(result.allMerged).toBe(true);
    expect(inputs.map((i) => i.round)).toEqual([1, 2]);
    expect(inputs[0]!.diff.files.map((f) => f.path)).toEqual(['hello.txt']);
    expect(inputs[0]!.diff.diff).toContain('+helo');
    expect(inputs[0]!.acceptancePassed).toBe(true);
    expect(inputs[1]!.diff.diff).toContain('+hello');
    expect(result.subtasks[0]!.reviews.map((x) => x.verdict)).toEqual(['rework', 'approve']);
    expect(result.workers.map((w) => w.purpose)).toEqual(['initial', 'review']);
    expect(result.tokens.review).toEqual({ input: 90, output: 15 });
    const calls = fs
      .readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(calls[1].resume).toBe(true);
    expect(calls[1].prompt).toContain('REVIEW-COMMENT');
    expect(fs.readFileSync(path.join(r.base.main, 'hello.txt'), 'utf8')).toBe('hello\n');
  });

  it('a reviewer that never approves ends the subtask in error after the bounded rounds', async () => {
    const r = rig();
    const review: ReviewFn = async () => ({ verdict: 'rework', comments: 'still wrong', risk: 'high', tokens: { input: 1, output: 1 } });
    const result = await executePlan(plan([{ id: 'x', title: 'X', prompt: fakePrompt('Write.', { write: { 'x.txt': 'x\n' } }) }]), {
      ...r.ctx,
      review,
      maxReviewRounds: 1,
    });
    expect(result.subtasks[0]).toMatchObject({ status: 'error' });
    expect(result.subtasks[0]!.reason).toMatch(/still asks for rework after 1 round/);
    expect(result.subtasks[0]!.reviews).toHaveLength(2);
    expect(git(r.base.main, 'log', '--oneline').split('\n')).toHaveLength(1);
  });

  it('an acceptance command that keeps failing ends the subtask in error; nothing is merged', async () => {
    const r = rig();
    const result = await executePlan(
      plan([{ id: 'bad', title: 'Bad', prompt: fakePrompt('Write.', { write: { 'b.txt': 'b\n' } }), acceptance: 'test -f never.txt' }]),
      { ...r.ctx, maxAcceptanceFixes: 1 },
    );
    expect(result.subtasks[0]!.status).toBe('error');
    expect(result.subtasks[0]!.reason).toMatch(/acceptance `test -f never.txt` still fails after 1 fix round/);
    expect(result.workers.map((w) => w.purpose)).toEqual(['initial', 'acceptance']);
    expect(git(r.base.main, 'log', '--oneline').split('\n')).toHaveLength(1);
  });

  it('worker budget: scheduling stops and what is left is reported', async () => {
    const r = rig();
    const result = await executePlan(
      plan([
        { id: 'first', title: 'First', prompt: fakePrompt('Write.', { write: { '1.txt': '1\n' } }), files: ['1.txt'] },
        { id: 'second', title: 'Second', prompt: fakePrompt('Write.', { write: { '2.txt': '2\n' } }), files: ['2.txt'] },
      ]),
      { ...r.ctx, maxParallel: 1, budgets: { maxWorkers: 1 } },
    );
    expect(result.allMerged).toBe(false);
    expect(result.stoppedBy).toMatch(/worker budget of 1/);
    expect(result.subtasks.map((s) => [s.id, s.status])).toEqual([
      ['first', 'merged'],
      ['second', 'pending'],
    ]);
    expect(result.left).toEqual([{ id: 'second', status: 'pending', reason: expect.stringMatching(/not started: worker budget/) }]);
    expect(readDecisions(r.ctx.runDir).some((d) => d.kind === 'budget' && d.action === 'exhausted')).toBe(true);
    expect(readManifest(result.manifestFile).phases[0]!.tasks[1]!.reason).toMatch(/not started/);
  });

  it('token budget: running work is stopped cleanly, nothing more is scheduled, and it is reported as left', async () => {
    const r = rig();
    const result = await executePlan(
      plan([
        {
          id: 'first',
          title: 'First',
          prompt: fakePrompt('Write.', { write: { '1.txt': '1\n' } }),
          files: ['1.txt'],
          acceptance: 'test -f 1.txt',
        },
        { id: 'second', title: 'Second', prompt: fakePrompt('Write.', { write: { '2.txt': '2\n' } }), files: ['2.txt'] },
      ]),
      { ...r.ctx, maxParallel: 1, budgets: { totalTokens: 50 } },
    );
    expect(result.allMerged).toBe(false);
    expect(result.stoppedBy).toMatch(/token budget of 50/);
    expect(result.merges).toEqual([]);
    expect(result.left.map((l) => [l.id, l.status])).toEqual([
      ['first', 'pending'],
      ['second', 'pending'],
    ]);
    expect(result.left[0]!.reason).toMatch(/left: token budget/);
    expect(result.workers).toHaveLength(1);
    // the interrupted subtask keeps its worktree and branch for a resume
    expect(fs.existsSync(path.join(r.base.baseDir, 'task-first'))).toBe(true);
  });

  it('abort: workers are killed, the manifest is saved, and the run returns', async () => {
    const r = rig();
    const controller = new AbortController();
    const result = await executePlan(
      plan([{ id: 'long', title: 'Long', prompt: fakePrompt('Write.', { write: { 'l.txt': 'l\n' }, stallFirst: true }) }]),
      {
        ...r.ctx,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'plan.worker' && e.phase === 'started') setTimeout(() => controller.abort(), 50);
        },
      },
    );
    expect(result.aborted).toBe(true);
    expect(result.stoppedBy).toBe('aborted');
    expect(result.workers[0]).toMatchObject({ status: 'error', reason: 'aborted' });
    const m = readManifest(result.manifestFile);
    expect(m.phases[0]!.tasks[0]).toMatchObject({ status: 'pending', attempts: 1 });
    expect(m.phases[0]!.tasks[0]!.reason).toMatch(/left: aborted/);
  });

  it("never touches the user's uncommitted work in main/: the subtask is reported and stays complete, the branch kept", async () => {
    const r = rig();
    fs.writeFileSync(path.join(r.base.main, 'README.md'), '# my own edit, not committed\n');
    fs.writeFileSync(path.join(r.base.main, 'notes.txt'), 'untracked user file\n');
    const head = git(r.base.main, 'rev-parse', 'HEAD');
    const result = await executePlan(
      plan([{ id: 'feat', title: 'Feature', prompt: fakePrompt('Write.', { write: { 'f.txt': 'f\n' } }) }]),
      r.ctx,
    );
    expect(result.allMerged).toBe(false);
    expect(result.subtasks[0]!.status).toBe('complete'); // the queue stops cleanly: the branch stays complete for runs merge
    expect(result.subtasks[0]!.reason).toMatch(/main\/ was left untouched/);
    expect(result.subtasks[0]!.merge.outcome).toBe('main-dirty');
    expect(git(r.base.main, 'rev-parse', 'HEAD')).toBe(head);
    expect(fs.readFileSync(path.join(r.base.main, 'README.md'), 'utf8')).toBe('# my own edit, not committed\n');
    expect(fs.readFileSync(path.join(r.base.main, 'notes.txt'), 'utf8')).toBe('untracked user file\n');
    const status = execFileSync('git', ['status', '--porcelain=v1', '-z'], { cwd: r.base.main, encoding: 'utf8' });
    expect(status.split('\0').filter(Boolean).sort()).toEqual([' M README.md', '?? notes.txt']);
    expect(git(r.base.main, 'stash', 'list')).toBe('');
    expect(git(r.base.main, 'branch', '--list', 'task-feat')).toContain('task-feat');
    expect(readDecisions(r.ctx.runDir).some((d) => d.kind === 'merge' && d.action === 'main-dirty')).toBe(true);
  });

  it('resumes a saved manifest: merged subtasks are not run again', async () => {
    const r = rig();
    const first = await executePlan(
      plan([
        { id: 'a', title: 'A', prompt: fakePrompt('Write.', { write: { 'a.txt': 'a\n' } }), files: ['a.txt'] },
        { id: 'b', title: 'B', prompt: fakePrompt('Write.', { write: { 'b.txt': 'b\n' } }), files: ['b.txt'] },
      ]),
      { ...r.ctx, maxParallel: 1, budgets: { maxWorkers: 1 } },
    );
    expect(first.left.map((l) => l.id)).toEqual(['b']);
    const second = await executePlan(readManifest(first.manifestFile), {
      ...r.ctx,
      runId: `${r.ctx.runId}-2`.slice(0, 40),
      runDir: `${r.ctx.runDir}-2`,
    });
    expect(second.allMerged).toBe(true);
    expect(second.workers.map((w) => w.taskId)).toEqual(['b']);
    expect(second.merges.map((m) => m.taskId)).toEqual(['b']);
  });
});
