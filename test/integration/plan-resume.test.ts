import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startScriptedModelServer,
  toolOutputs,
  type ScriptedModelServer,
  type ScriptedRequest,
} from '../../src/demo/scripted-model-server.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import type { RunReport } from '../../src/orchestrator/report/report.js';
import { manifestSchema, type Manifest } from '../../src/scheduler/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, SMOKE_SCRIPT, fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';

/**
 * The plan road after a crash: the real CLI in a child process (real Agents
 * SDK loop, plan tools, executor, review agent, merge queue, git), a scripted
 * orchestrator model that calls submit_plan then run_plan, and the plan fake
 * codex (test/fixtures/bin/plan-fake-codex). The child is SIGKILLed during
 * run_plan; `codex-orch resume` must answer the cut-off run_plan by resuming
 * the executor from manifest.json, and `codex-orch runs merge` must merge a
 * complete-but-unmerged subtask of a stopped run without a model.
 */

const TASK = 'Add a.txt and b.txt';
const REVIEWER = 'You are the Reviewer';
const isReviewer = (r: ScriptedRequest) => (r.body.instructions ?? '').includes(REVIEWER);
const approve = { text: JSON.stringify({ verdict: 'approve', comments: 'Looks right.', risk: 'low' }) };

/** t1 finishes at once; t2 waits at the barrier `hold` until two workers (or a test's file) reached it. */
const PLAN = {
  task: TASK,
  phases: [
    {
      name: 'Files',
      tasks: [
        {
          id: 't1',
          title: 'Add a',
          kind: 'feature',
          prompt: fakePrompt('Write a.txt.', { write: { 'a.txt': 'a\n' } }),
          files: ['a.txt'],
          dependsOn: [],
          acceptance: 'test -f a.txt',
        },
        {
          id: 't2',
          title: 'Add b',
          kind: 'feature',
          prompt: fakePrompt('Write b.txt.', { write: { 'b.txt': 'b\n' }, barrier: { name: 'hold', count: 2 } }),
          files: ['b.txt'],
          dependsOn: [],
          acceptance: 'test -f b.txt',
        },
      ],
    },
  ],
};

const FILES = {
  'README.md': '# sample\n',
  'smoke.mjs': SMOKE_SCRIPT,
  '.codex-orchestrator.json': `${JSON.stringify({ smoke: 'node smoke.mjs' }, null, 2)}\n`,
};

const mainTree = (main: string) => git(main, 'ls-tree', '-r', 'HEAD');
const mergeSubjects = (main: string) =>
  git(main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s', 'HEAD').split('\n').filter(Boolean);
const readManifest = (file: string): Manifest | undefined => {
  try {
    return manifestSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return undefined; // not written yet
  }
};
const statusOf = (m: Manifest | undefined, id: string) => m?.phases.flatMap((p) => p.tasks).find((t) => t.id === id)?.status;

interface Rig {
  t: TempBase;
  orch: ScriptedModelServer;
  env: NodeJS.ProcessEnv;
  fakeState: string;
  barrier: string;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.orch.close();
    r.t.cleanup();
  }
});

async function rig(): Promise<Rig> {
  const t = makeTempBase(FILES);
  const fakeState = path.join(t.root, 'fake-state');
  const barrier = path.join(fakeState, 'barrier-hold');
  fs.mkdirSync(barrier, { recursive: true });
  // Orchestrator turns by the number of tool outputs so far: submit_plan, run_plan, then the final answer.
  const orch = await startScriptedModelServer((r) => {
    if (isReviewer(r)) return approve;
    const done = toolOutputs(r.body).size;
    if (done === 0) return { toolCalls: [{ name: 'submit_plan', arguments: PLAN }] };
    if (done === 1) return { toolCalls: [{ name: 'run_plan', arguments: {} }] };
    return { text: 'Done: both files are merged.' };
  });
  const env: NodeJS.ProcessEnv = {
    ORCHESTRATOR_BASE_DIR: t.baseDir,
    ORCHESTRATOR_STATE_DIR: t.stateDir,
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: orch.url,
    ORCHESTRATOR_MODEL: 'scripted-orchestrator',
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
    PLAN_FAKE_STATE: fakeState,
  };
  const r = { t, orch, env, fakeState, barrier };
  rigs.push(r);
  return r;
}

const runDirOf = (t: TempBase) => {
  const runs = fs.existsSync(path.join(t.stateDir, 'runs')) ? fs.readdirSync(path.join(t.stateDir, 'runs')) : [];
  return runs.length === 1 ? path.join(t.stateDir, 'runs', runs[0]!) : undefined;
};

/** The fake's invocations: {thread, resume, prompt, cwd}. */
const fakeCalls = (fakeState: string) =>
  fs
    .readFileSync(path.join(fakeState, 'calls.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { thread: string; resume: boolean; prompt: string; cwd: string });

/** Starts the plan run in a child and SIGKILLs it once `killWhen(runDir)` holds; returns the run id and dir. */
async function startAndKill(r: Rig, killWhen: (runDir: string) => boolean, what: string): Promise<{ runId: string; runDir: string }> {
  const first = spawnTs(['run', '--json', '-q', TASK], r.env);
  let exited = false;
  void first.done.then(() => (exited = true));
  await waitFor(() => exited || (runDirOf(r.t) !== undefined && killWhen(runDirOf(r.t)!)), what, 180_000);
  expect(exited).toBe(false);
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');
  const runDir = runDirOf(r.t)!;
  return { runId: path.basename(runDir), runDir };
}

/** t1 merged (and its worktree removed), t2 running with its codex thread started. */
function firstMergedSecondRunning(runDir: string): boolean {
  const m = readManifest(path.join(runDir, 'manifest.json'));
  if (statusOf(m, 't1') !== 'merged' || statusOf(m, 't2') !== 'running') return false;
  let ds;
  try {
    ds = readDecisions(runDir);
  } catch {
    return false;
  }
  if (!ds.some((d) => d.taskId === 't1' && d.kind === 'merge' && d.action === 'worktree-removed')) return false;
  try {
    return fs.readFileSync(path.join(runDir, 'workers', 't2-1', 'events.jsonl'), 'utf8').includes('thread.started');
  } catch {
    return false;
  }
}

describe('plan road: crash during run_plan, then resume; runs merge', { timeout: 600_000 }, () => {
  it('SIGKILL during run_plan after the first merge: resume answers run_plan from the manifest; main equals an uninterrupted run, each branch merged once', async () => {
    // The uninterrupted run, in the same order: t2 is let through the barrier once t1 is merged.
    const base = await rig();
    const child = spawnTs(['run', '--json', '-q', TASK], base.env);
    let finished = false;
    void child.done.then(() => (finished = true));
    await waitFor(
      () => finished || (runDirOf(base.t) !== undefined && firstMergedSecondRunning(runDirOf(base.t)!)),
      't1 merged while t2 runs (uninterrupted run)',
      180_000,
    );
    fs.writeFileSync(path.join(base.barrier, 'release'), '');
    const uninterrupted = await child.done;
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    expect((JSON.parse(uninterrupted.stdout) as RunReport).status).toBe('succeeded');
    const baselineTree = mainTree(base.t.main);
    const baselineMerges = mergeSubjects(base.t.main);
    expect(baselineMerges).toEqual(['Merge task-t1: Add a', 'Merge task-t2: Add b']);

    // The crashed run: killed while t2's worker waits at the barrier, after t1 was merged.
    const r = await rig();
    const { runId, runDir } = await startAndKill(r, firstMergedSecondRunning, 't1 merged while t2 runs');
    const firstThread = fakeCalls(r.fakeState).find((c) => c.cwd.endsWith('task-t2'))!.thread;
    expect(mergeSubjects(r.t.main)).toEqual(['Merge task-t1: Add a']);
    const requestsBefore = r.orch.requests.filter((q) => !isReviewer(q)).length;
    expect(requestsBefore).toBe(2); // submit_plan, run_plan; the run_plan call is cut off

    const suffix = runId.split('-').pop()!.slice(0, 4);
    const resumed = await spawnTs(['resume', suffix, '--json', '-q'], r.env).done;
    expect(resumed.stderr).not.toMatch(/unexpected error/);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as RunReport;
    expect(report.runId).toBe(runId);
    expect(report.status).toBe('succeeded');

    // main equals the uninterrupted run's, and each branch was merged exactly once.
    expect(mainTree(r.t.main)).toBe(baselineTree);
    expect(mergeSubjects(r.t.main)).toEqual(baselineMerges);
    expect(report.merges.map((m) => m.branch)).toEqual(['task-t1', 'task-t2']);
    expect(report.plan?.status).toBe('finished');
    expect(report.plan?.submissions).toBe(1);
    expect(report.plan?.result?.allMerged).toBe(true);
    // The resumed executor merged only t2; t1 stayed merged.
    expect(report.plan?.result?.merges.map((m) => m.taskId)).toEqual(['t2']);

    const store = openSqliteStore(r.t.stateDir);
    try {
      const merged = store.listMerges(runId).filter((m) => m.outcome === 'merged');
      expect(merged.map((m) => m.branch).sort()).toEqual(['task-t1', 'task-t2']);
      expect(store.listSubtasks(runId).map((s) => [s.id, s.status])).toEqual([
        ['t1', 'merged'],
        ['t2', 'merged'],
      ]);
      expect(store.requireRun(runId).status).toBe('succeeded');
      const recovered = store.listEvents(runId).find((e) => e.type === 'run.recovered')!.data as {
        answered: { command: string; how: string }[];
      };
      expect(recovered.answered).toEqual([expect.objectContaining({ command: 'run_plan', how: 'plan-resumed' })]);
      // The first process's t2 worker was recorded interrupted; the resumed one continued its thread in a new worker dir.
      const t2Workers = store.listWorkers(runId).filter((w) => w.workerId.startsWith('t2-'));
      expect(t2Workers.map((w) => [w.workerId, w.status])).toEqual([
        ['t2-1', 'interrupted'],
        ['t2-2', 'succeeded'],
      ]);
      expect(store.listLocks()).toEqual([]);
    } finally {
      store.close();
    }

    // The cut-off run_plan was answered by the resumed executor; the model was not asked to resubmit.
    const after = r.orch.requests.filter((q) => !isReviewer(q)).slice(requestsBefore);
    expect(after).toHaveLength(1);
    const answers = [...toolOutputs(after[0]!.body).values()];
    expect(answers).toHaveLength(2);
    expect(answers[1]).toMatch(/^NOTE: the orchestrator restarted while run_plan ran/);
    expect(answers[1]).toMatch(/PLAN DONE: 2\/2 subtask\(s\) merged/);

    // t1 was not redone; t2 resumed its codex thread, told why.
    const calls = fakeCalls(r.fakeState);
    expect(calls.filter((c) => c.cwd.endsWith('task-t1'))).toHaveLength(1);
    const t2 = calls.filter((c) => c.cwd.endsWith('task-t2'));
    expect(t2.map((c) => [c.thread, c.resume])).toEqual([
      [firstThread, false],
      [firstThread, true],
    ]);
    expect(t2[1]!.prompt).toMatch(/orchestrator was restarted/);
    const ds = readDecisions(runDir);
    expect(ds.map((d) => d.seq)).toEqual(ds.map((_, i) => i + 1)); // one log, gapless across both processes
    expect(ds.filter((d) => d.kind === 'schedule' && d.action === 'merged').map((d) => d.taskId)).toEqual(['t1', 't2']);
    expect(processesIn(r.t.baseDir)).toEqual([]);
  });

  it('runs merge: a stopped plan run’s complete-but-unmerged subtask is merged now, without a model; a second call has nothing to merge', async () => {
    const r = await rig();
    // Once t1 is merged, the person leaves a file in main/ and t2 is let through: its merge then waits for main/ to be clean.
    let released = false;
    const { runId, runDir } = await startAndKill(
      r,
      (dir) => {
        if (!released && firstMergedSecondRunning(dir)) {
          fs.writeFileSync(path.join(r.t.main, 'notes.txt'), 'my notes\n');
          fs.writeFileSync(path.join(r.barrier, 'release'), '');
          released = true;
        }
        if (!released) return false;
        try {
          return readDecisions(dir).some((d) => d.taskId === 't2' && d.kind === 'merge' && d.action === 'waiting');
        } catch {
          return false;
        }
      },
      't2 complete and waiting for main/',
    );
    expect(statusOf(readManifest(path.join(runDir, 'manifest.json')), 't2')).toBe('complete');
    expect(mergeSubjects(r.t.main)).toEqual(['Merge task-t1: Add a']);
    const requests = r.orch.requests.length;

    // main/ is still dirty: nothing is merged, t2 stays complete, exit 1.
    const dirty = await spawnTs(['runs', 'merge', runId, '--json'], r.env).done;
    expect(dirty.code, dirty.stderr).toBe(1);
    const dirtyOut = JSON.parse(dirty.stdout) as { merged: unknown[]; notMerged: { id: string; status: string; reason: string }[] };
    expect(dirtyOut.merged).toEqual([]);
    expect(dirtyOut.notMerged).toEqual([expect.objectContaining({ id: 't2', status: 'complete' })]);
    expect(dirtyOut.notMerged[0]!.reason).toMatch(/main\/ was left untouched/);
    expect(fs.readFileSync(path.join(r.t.main, 'notes.txt'), 'utf8')).toBe('my notes\n');

    fs.rmSync(path.join(r.t.main, 'notes.txt'));
    const suffix = runId.split('-').pop()!.slice(0, 4);
    const merged = await spawnTs(['runs', 'merge', suffix, '--json'], r.env).done;
    expect(merged.code, merged.stderr).toBe(0);
    const out = JSON.parse(merged.stdout) as {
      runId: string;
      candidates: string[];
      merged: { taskId: string; branch: string; sha: string }[];
      notMerged: unknown[];
    };
    expect(out.runId).toBe(runId);
    expect(out.candidates).toEqual(['t2']);
    expect(out.merged.map((m) => [m.taskId, m.branch])).toEqual([['t2', 'task-t2']]);
    expect(out.notMerged).toEqual([]);
    expect(r.orch.requests.length).toBe(requests); // no model call

    expect(mergeSubjects(r.t.main)).toEqual(['Merge task-t1: Add a', 'Merge task-t2: Add b']);
    expect(git(r.t.main, 'rev-parse', 'HEAD')).toBe(out.merged[0]!.sha);
    expect(fs.readFileSync(path.join(r.t.main, 'b.txt'), 'utf8')).toBe('b\n');
    expect(statusOf(readManifest(path.join(runDir, 'manifest.json')), 't2')).toBe('merged');
    const store = openSqliteStore(r.t.stateDir);
    try {
      expect(
        store
          .listMerges(runId)
          .filter((m) => m.outcome === 'merged')
          .map((m) => m.branch)
          .sort(),
      ).toEqual(['task-t1', 'task-t2']);
      expect(store.listSubtasks(runId).find((s) => s.id === 't2')!.status).toBe('merged');
      expect(store.listCommands({ runId }).filter((c) => c.command === 'node smoke.mjs').length).toBeGreaterThanOrEqual(2); // t1's merge and t2's
      expect(store.listLocks()).toEqual([]);
    } finally {
      store.close();
    }
    // No worker ran for the merge (t2's only worker is the first process's).
    expect(fakeCalls(r.fakeState).filter((c) => c.cwd.endsWith('task-t2'))).toHaveLength(1);

    const again = await spawnTs(['runs', 'merge', suffix], r.env).done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to merge/);
    expect(mergeSubjects(r.t.main)).toHaveLength(2);
  });
});

describe('executePlan: a subtask stopped while complete stays complete and is merged on resume without a worker', () => {
  const planRigs: PlanRig[] = [];
  afterEach(() => {
    for (const p of planRigs.splice(0)) p.base.cleanup();
  });

  it('a merge reverted after a failed smoke test is not taken as merged on resume: the cut-off smoke rework runs, then the merge', async () => {
    const p = makePlanRig({ files: { 'smoke.mjs': SMOKE_SCRIPT }, settings: { smoke: 'node smoke.mjs' } });
    planRigs.push(p);
    const stop = new AbortController();
    const first = await executePlan(
      plan([
        { id: 'a', title: 'Add a', prompt: fakePrompt('Write a.', { write: { 'a.txt': 'BROKEN\n' }, onResume: { 'a.txt': 'fixed\n' } }) },
      ]),
      {
        ...p.ctx,
        signal: stop.signal,
        onEvent: (e) => {
          if (e.type === 'subtask.status' && e.taskId === 'a' && e.status === 'complete') stop.abort();
        },
      },
    );
    const saved = () => manifestSchema.parse(JSON.parse(fs.readFileSync(first.manifestFile, 'utf8')));
    // Merge only: merged, the smoke test fails, the merge is reverted; the branch tip is now an ancestor of main.
    await executePlan(saved(), { ...p.ctx, mergeOnly: true });
    expect(git(p.base.main, 'merge-base', '--is-ancestor', 'task-a', 'main')).toBe('');
    expect(fs.existsSync(path.join(p.base.main, 'a.txt'))).toBe(false);
    // The resume must not call it "already in main": its work is not there.
    const third = await executePlan(saved(), p.ctx);
    expect(third.allMerged).toBe(true);
    expect(fs.readFileSync(path.join(p.base.main, 'a.txt'), 'utf8')).toBe('fixed\n');
    const ds = readDecisions(p.ctx.runDir);
    expect(ds.some((d) => d.action === 'already-merged')).toBe(false);
    expect(ds.some((d) => d.action === 'rework-smoke')).toBe(true);
  });

  it('abort while the merge waits for main/: complete is kept; the resumed manifest merges it with no worker', async () => {
    const p = makePlanRig();
    planRigs.push(p);
    fs.writeFileSync(path.join(p.base.main, 'notes.txt'), 'dirty\n');
    const controller = new AbortController();
    const first = await executePlan(
      plan([{ id: 'only', title: 'Only', prompt: fakePrompt('Write.', { write: { 'o.txt': 'o\n' } }), files: ['o.txt'] }]),
      {
        ...p.ctx,
        dirtyWaitMs: 600_000,
        dirtyPollMs: 50,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'plan.decision' && e.kind === 'merge' && e.action === 'waiting') controller.abort();
        },
      },
    );
    expect(first.aborted).toBe(true);
    expect(first.left).toEqual([expect.objectContaining({ id: 'only', status: 'complete' })]);
    const saved = manifestSchema.parse(JSON.parse(fs.readFileSync(first.manifestFile, 'utf8')));
    expect(statusOf(saved, 'only')).toBe('complete');

    fs.rmSync(path.join(p.base.main, 'notes.txt'));
    const second = await executePlan(saved, p.ctx);
    expect(second.allMerged).toBe(true);
    expect(second.workers).toEqual([]);
    expect(second.merges.map((m) => m.taskId)).toEqual(['only']);
    expect(mergeSubjects(p.base.main)).toEqual(['Merge task-only: Only']);
  });
});
