import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { CLI, REPO_ROOT, spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, SMOKE_SCRIPT, fakePrompt } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';

/**
 * `run --plan` as a run like any other (the real CLI in child processes, real
 * git, the plan fake codex): in the store, holding the base-dir lock, resumable
 * after SIGKILL at many points, never merging a subtask twice, and safe to
 * start again.
 */

const FILES = {
  'README.md': '# sample\n',
  'smoke.mjs': SMOKE_SCRIPT,
  '.codex-orchestrator.json': `${JSON.stringify({ smoke: 'node smoke.mjs' }, null, 2)}\n`,
};

/** Three subtasks; c depends on a. `append` makes a redone subtask visible (its line twice). */
const PLAN = (sleepMs: number) => ({
  version: 1,
  task: 'three files',
  phases: [
    {
      name: 'P1',
      tasks: [
        {
          id: 'a',
          title: 'Task a',
          prompt: fakePrompt('Do a.', { append: { 'a.txt': 'a' }, sleepMs }),
          files: ['a.txt'],
          acceptance: 'test -f a.txt',
        },
        { id: 'b', title: 'Task b', prompt: fakePrompt('Do b.', { append: { 'b.txt': 'b' }, sleepMs }), files: ['b.txt'] },
        {
          id: 'c',
          title: 'Task c',
          prompt: fakePrompt('Do c.', { append: { 'c.txt': 'c' }, sleepMs }),
          files: ['c.txt'],
          dependsOn: ['a'],
        },
      ],
    },
  ],
});

interface Rig {
  t: TempBase;
  plan: string;
  env: NodeJS.ProcessEnv;
}

const rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) r.t.cleanup();
});

function rig(sleepMs = 150, plan: unknown = PLAN(sleepMs)): Rig {
  const t = makeTempBase(FILES);
  const planFile = path.join(t.root, 'plan.json');
  fs.writeFileSync(planFile, JSON.stringify(plan, null, 2));
  const env: NodeJS.ProcessEnv = {
    ORCHESTRATOR_BASE_DIR: t.baseDir,
    ORCHESTRATOR_STATE_DIR: t.stateDir,
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    PLAN_FAKE_STATE: path.join(t.root, 'fake-state'),
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
    ORCHESTRATOR_DIRTY_WAIT_SECONDS: '0',
  };
  const r = { t, plan: planFile, env };
  rigs.push(r);
  return r;
}

const cli = (r: Rig, args: string[]) => spawnTs(args, r.env).done;
const runPlan = (r: Rig, ...extra: string[]) => cli(r, ['run', '--plan', r.plan, '--no-review', '-q', '--json', ...extra]);

/** The CLI in its own process group, so the test can kill the orchestrator alone or its whole group. */
function spawnDetached(r: Rig, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...r.env },
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, exited };
}

const runDirs = (r: Rig) => {
  try {
    return fs.readdirSync(path.join(r.t.stateDir, 'runs'));
  } catch {
    return [];
  }
};
const decisionCount = (r: Rig) => {
  const [id] = runDirs(r);
  if (!id) return 0;
  try {
    return fs
      .readFileSync(path.join(r.t.stateDir, 'runs', id, 'decisions.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean).length;
  } catch {
    return 0;
  }
};
const mergeSubjects = (main: string) =>
  git(main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s', 'HEAD').split('\n').filter(Boolean);
const tree = (main: string) =>
  git(main, 'ls-tree', '-r', 'HEAD')
    .split('\n')
    .filter((l) => !l.endsWith('\t.gitignore'))
    .join('\n');
const fakeCodexLeft = (r: Rig) => processesIn(r.t.baseDir).filter((p) => p.includes('plan-fake-codex'));

/** Each subtask's id, status and reason in the store, one per line (for a failure message). */
function subtaskReasons(r: Rig, runId: string): string {
  const store = openSqliteStore(r.t.stateDir);
  try {
    return store
      .listSubtasks(runId)
      .map((s) => `${s.id}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`)
      .join('\n');
  } finally {
    store.close();
  }
}

function storeFacts(r: Rig, runId: string) {
  const store = openSqliteStore(r.t.stateDir);
  try {
    return {
      run: store.requireRun(runId),
      merged: store
        .listMerges(runId)
        .filter((m) => m.outcome === 'merged')
        .map((m) => m.branch)
        .sort(),
      locks: store.listLocks(),
      runs: store.listRuns().map((x) => x.id),
    };
  } finally {
    store.close();
  }
}

/** What an uninterrupted run of the plan leaves in main/. */
let expectedTree = '';
beforeAll(async () => {
  const r = rig(0);
  const done = await runPlan(r);
  expect(done.code, done.stderr).toBe(0);
  expectedTree = tree(r.t.main);
  r.t.cleanup();
  rigs.splice(rigs.indexOf(r), 1);
}, 180_000);
afterAll(() => {
  for (const r of rigs.splice(0)) r.t.cleanup();
});

describe('run --plan is a run like any other', { timeout: 240_000 }, () => {
  it('is in the store and listed by runs list; the same plan again after success merges nothing twice', async () => {
    const r = rig(0);
    const first = await runPlan(r);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { runId: string; merges: { branch: string }[] };
    const facts = storeFacts(r, report.runId);
    expect(facts.run).toMatchObject({ status: 'succeeded', task: 'three files', baseDir: r.t.baseDir });
    expect(facts.merged).toEqual(['task-a', 'task-b', 'task-c']);
    expect(facts.locks).toEqual([]);
    const list = await cli(r, ['runs', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { runs: { id: string }[] }).runs.map((x) => x.id)).toEqual([report.runId]);

    // main moved, so this is a new plan key: a new run, whose subtasks git already has in main.
    const again = await runPlan(r);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as {
      runId: string;
      merges: unknown[];
      plan: { result: { subtasks: { id: string; status: string; reason: string }[] } };
    };
    expect(second.runId).not.toBe(report.runId);
    expect(second.merges).toEqual([]);
    for (const s of second.plan.result.subtasks) {
      expect(s.status).toBe('merged');
      expect(s.reason).toMatch(/already in main/);
    }
    // a and b run side by side and merge in the order they finish (a also runs its acceptance command, in the
    // sandbox, so either may be first); c waits for a. Git's merges are exactly the first run's, in its order.
    const order = report.merges.map((m) => m.branch);
    expect([...order].sort()).toEqual(['task-a', 'task-b', 'task-c']);
    expect(order.indexOf('task-c')).toBeGreaterThan(order.indexOf('task-a'));
    expect(mergeSubjects(r.t.main)).toEqual(order.map((b) => `Merge ${b}: Task ${b.slice('task-'.length)}`));
    expect(tree(r.t.main)).toBe(expectedTree);
    // No worker ran for the second run.
    const calls = fs
      .readFileSync(path.join(r.env.PLAN_FAKE_STATE as string, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    expect(calls).toHaveLength(3);
  });

  it('runs resume of an unknown id says so and creates no state.db', async () => {
    const r = rig(0);
    const out = await cli(r, ['runs', 'resume', 'nope']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/no run "nope"/);
    expect(fs.existsSync(path.join(r.t.stateDir, 'state.db'))).toBe(false);
  });

  it('a second run on the same base dir is refused at once with the first run’s id (plan beside plan, agent beside plan)', async () => {
    const r = rig(20_000);
    const first = spawnDetached(r, ['run', '--plan', r.plan, '--no-review', '-q']);
    try {
      await waitFor(() => decisionCount(r) >= 3, 'the first run to start', 60_000);
      const [runId] = runDirs(r);
      const second = await runPlan(r, '--new');
      expect(second.code).not.toBe(0);
      expect(second.stderr).toContain(runId!);
      expect(second.stderr).toMatch(/in use|held|lock/i);
      const agent = await cli(r, ['run', 'make a file']);
      expect(agent.code).not.toBe(0);
      expect(agent.stderr).toContain(runId!);
      expect(runDirs(r)).toEqual([runId]);
    } finally {
      process.kill(-first.child.pid!, 'SIGKILL');
      await first.exited;
    }
  });

  it('kill -9 of the orchestrator alone: its codex workers stop within seconds, without a resume', async () => {
    const r = rig(60_000);
    const first = spawnDetached(r, ['run', '--plan', r.plan, '--no-review', '-q']);
    await waitFor(() => fakeCodexLeft(r).length >= 2, 'two fake codex workers', 60_000);
    process.kill(first.child.pid!, 'SIGKILL');
    await first.exited;
    await waitFor(() => fakeCodexLeft(r).length === 0, 'the workers to stop after their orchestrator died', 15_000);
    expect(fakeCodexLeft(r)).toEqual([]);
  });

  it('the same plan after a kill: refused with the run id and both commands; --resume finishes it; each branch merged once', async () => {
    const r = rig(300);
    const first = spawnDetached(r, ['run', '--plan', r.plan, '--no-review', '-q']);
    await waitFor(() => fakeCodexLeft(r).length >= 1, 'a worker', 60_000);
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    const [runId] = runDirs(r);

    const refused = await runPlan(r);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(runId!);
    expect(refused.stderr).toContain('--resume');
    expect(refused.stderr).toContain('--new');
    expect(runDirs(r)).toEqual([runId]);

    const resumed = await runPlan(r, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as { runId: string }).runId).toBe(runId);
    expect(mergeSubjects(r.t.main)).toEqual(
      expect.arrayContaining(['Merge task-a: Task a', 'Merge task-b: Task b', 'Merge task-c: Task c']),
    );
    expect(mergeSubjects(r.t.main)).toHaveLength(3);
    expect(tree(r.t.main)).toBe(expectedTree);

    // --new after success: a new run; everything is reported as already in main, nothing merged again.
    const fresh = await runPlan(r, '--new');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(mergeSubjects(r.t.main)).toHaveLength(3);
  });

  it('at a terminal, the same plan after a kill asks; answering yes resumes that run', async () => {
    const r = rig(300);
    const first = spawnDetached(r, ['run', '--plan', r.plan, '--no-review', '-q']);
    await waitFor(() => fakeCodexLeft(r).length >= 1, 'a worker', 60_000);
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    const [runId] = runDirs(r);
    // script(1) gives the CLI a terminal for stdin and stderr.
    const line = [process.execPath, '--import', 'tsx', CLI, 'run', '--plan', r.plan, '--no-review', '-q'].map((w) => `'${w}'`).join(' ');
    const tty = spawn('script', ['-qec', line, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...r.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    tty.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = new Promise<number | null>((resolve) => tty.on('close', (c) => resolve(c)));
    await waitFor(() => out.includes('Resume it?'), 'the question', 90_000);
    expect(out).toContain(runId!);
    tty.stdin.write('y\n');
    expect(await code, out).toBe(0);
    expect(runDirs(r)).toEqual([runId]);
    expect(storeFacts(r, runId!).run.status).toBe('succeeded');
    expect(mergeSubjects(r.t.main)).toHaveLength(3);
  });
});

/**
 * SIGKILL at many points of a plan run (the orchestrator alone, or its whole
 * process group), then `runs resume <id>`: main/ equals an uninterrupted run's
 * and is clean, each branch merged exactly once (git, store and report agree),
 * no codex process left, no lock left. The states behind a once-flaky resume
 * (a merge whose git died after its commit) are built exactly in
 * plan-kill-state.test.ts.
 */
const KILL_POINTS = [1, 3, 5, 7, 9, 11, 13, 16, 19, 22].map((after, i) => ({ after, group: i % 2 === 1 }));

describe('run --plan killed at any point, then runs resume', { timeout: 240_000 }, () => {
  it.each(KILL_POINTS)('SIGKILL after $after decision(s) (whole group: $group)', async ({ after, group }) => {
    const r = rig(150);
    const first = spawnDetached(r, ['run', '--plan', r.plan, '--no-review', '-q']);
    await waitFor(() => decisionCount(r) >= after || first.child.exitCode !== null, `${after} decisions`, 90_000);
    try {
      process.kill(group ? -first.child.pid! : first.child.pid!, 'SIGKILL');
    } catch {
      // it finished first: resume then has nothing to do
    }
    await first.exited;
    const [runId] = runDirs(r);
    expect(runId).toBeDefined();
    await waitFor(() => fakeCodexLeft(r).length === 0, 'orphaned workers to stop', 15_000);

    const succeededBefore = storeFacts(r, runId!).run.status === 'succeeded';
    const resumed = await cli(r, ['runs', 'resume', runId!, '--json', '-q']);
    // A run that finished before the kill landed has nothing to resume (refused with a clear line).
    if (succeededBefore) expect(resumed.stderr).toMatch(/already succeeded/);
    // On failure, each subtask's status and reason from the store: the CLI's summary line names only the status.
    else expect(resumed.code, `${resumed.stderr}\n${subtaskReasons(r, runId!)}`).toBe(0);

    expect(tree(r.t.main)).toBe(expectedTree);
    // Nothing half done is left in main/ (a merge the kill cut off, before or after its commit, is cleared).
    expect(fs.existsSync(path.join(r.t.main, '.git', 'MERGE_HEAD'))).toBe(false);
    expect(git(r.t.main, 'status', '--porcelain')).toBe('');
    const subjects = mergeSubjects(r.t.main);
    expect(subjects.sort()).toEqual(['Merge task-a: Task a', 'Merge task-b: Task b', 'Merge task-c: Task c']);
    const facts = storeFacts(r, runId!);
    expect(facts.run.status).toBe('succeeded');
    expect(facts.merged).toEqual(['task-a', 'task-b', 'task-c']);
    expect(facts.locks).toEqual([]);
    const report = JSON.parse(fs.readFileSync(path.join(r.t.stateDir, 'runs', runId!, 'report.json'), 'utf8')) as {
      merges: { branch: string }[];
    };
    expect(report.merges.map((m) => m.branch).sort()).toEqual(['task-a', 'task-b', 'task-c']);
    expect(fakeCodexLeft(r)).toEqual([]);
  });
});
