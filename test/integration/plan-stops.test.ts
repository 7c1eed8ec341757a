import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/**
 * A plan run that cannot finish for a reason outside it — main/ dirty, the
 * disk full — stops cleanly, says so in one line, and is finished later
 * (`runs merge`, `runs resume`) with every subtask merged exactly once.
 */

const bases: TempBase[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
  for (const b of bases.splice(0)) b.cleanup();
});

/** `append` shows a redone subtask (its line twice); `write` is what a worker does again idempotently. */
function planOf(ids: string[], sleepMs = 0, how: 'append' | 'write' = 'append') {
  return {
    version: 1,
    task: `${ids.length} files`,
    phases: [
      {
        name: 'P1',
        tasks: ids.map((id) => ({
          id,
          title: `Task ${id}`,
          prompt: fakePrompt(`Do ${id}.`, { [how]: { [`${id}.txt`]: how === 'append' ? id : `${id}\n` }, sleepMs }),
          files: [`${id}.txt`],
        })),
      },
    ],
  };
}

function rig(plan: unknown, stateDir?: (t: TempBase) => string) {
  const t = makeTempBase({ 'README.md': '# sample\n' });
  bases.push(t);
  const file = path.join(t.root, 'plan.json');
  fs.writeFileSync(file, JSON.stringify(plan));
  const state = stateDir ? stateDir(t) : t.stateDir;
  const env: NodeJS.ProcessEnv = {
    ORCHESTRATOR_BASE_DIR: t.baseDir,
    ORCHESTRATOR_STATE_DIR: state,
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    PLAN_FAKE_STATE: path.join(t.root, 'fake-state'),
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
  return { t, file, env, state };
}

const mergeSubjects = (main: string) =>
  git(main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s', 'HEAD').split('\n').filter(Boolean);
const decisions = (runDir: string) =>
  fs
    .readFileSync(path.join(runDir, 'decisions.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; action: string; taskId?: string; reason: string });

describe('a plan run that must stop', { timeout: 300_000 }, () => {
  it('dirty main/ with 6 branches: one wait, one message, a clean stop (all complete); runs merge then merges all six', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const r = rig(planOf(ids));
    fs.writeFileSync(path.join(r.t.main, 'notes.txt'), 'my own notes\n');
    const head = git(r.t.main, 'rev-parse', 'HEAD');
    const run = await spawnTs(['run', '--plan', r.file, '--no-review', '--json', '--dirty-wait', '2', '--max-parallel', '6'], r.env).done;
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as {
      runId: string;
      runDir: string;
      plan: { result: { subtasks: { id: string; status: string; reason: string }[] } };
    };
    expect(report.plan.result.subtasks.map((s) => s.status)).toEqual(ids.map(() => 'complete'));
    for (const s of report.plan.result.subtasks) expect(s.reason).toMatch(/merge queue stopped: .*uncommitted changes.*runs merge/);
    const ds = decisions(report.runDir);
    expect(ds.filter((d) => d.kind === 'merge' && d.action === 'waiting')).toHaveLength(1);
    expect(ds.filter((d) => d.kind === 'merge' && d.action === 'queue-stopped')).toHaveLength(1);
    expect(git(r.t.main, 'rev-parse', 'HEAD')).toBe(head);
    expect(fs.readFileSync(path.join(r.t.main, 'notes.txt'), 'utf8')).toBe('my own notes\n');
    // every branch and worktree is still there for runs merge
    for (const id of ids) expect(fs.existsSync(path.join(r.t.baseDir, `task-${id}`))).toBe(true);

    fs.rmSync(path.join(r.t.main, 'notes.txt'));
    const merged = await spawnTs(['runs', 'merge', report.runId, '--json'], r.env).done;
    expect(merged.code, merged.stderr).toBe(0);
    const out = JSON.parse(merged.stdout) as { merged: { taskId: string }[] };
    expect(out.merged.map((m) => m.taskId).sort()).toEqual(ids);
    expect(mergeSubjects(r.t.main).sort()).toEqual(ids.map((id) => `Merge task-${id}: Task ${id}`));
    const store = openSqliteStore(r.state);
    try {
      expect(store.requireRun(report.runId).status).toBe('succeeded');
      expect(store.listMerges(report.runId).filter((m) => m.outcome === 'merged')).toHaveLength(6);
    } finally {
      store.close();
    }
  });

  it('disk full (a 3 MB tmpfs as the state dir): one clear line, exit 7; after space is freed the run resumes and merges each subtask once', async () => {
    // A worker that finished while nothing could be recorded is run again on resume (from its kept worktree): an idempotent fake.
    const r = rig(planOf(['a', 'b', 'c'], 1500, 'write'), (t) => path.join(t.root, 'small-fs'));
    fs.mkdirSync(r.state, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', r.state]);
    mounts.push(r.state);
    const child = spawnTs(['run', '--plan', r.file, '--no-review', '-q'], r.env);
    const runsDir = path.join(r.state, 'runs');
    await waitFor(
      () =>
        fs.existsSync(runsDir) && fs.readdirSync(runsDir).length === 1 && fs.existsSync(path.join(r.t.root, 'fake-state', 'calls.jsonl')),
      'the run and its workers to start',
      90_000,
    );
    // The disk fills up while the workers run.
    const filler = path.join(r.state, 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    const done = await child.done;
    expect(done.code, done.stderr).toBe(7);
    const lines = done.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^codex-orch: the disk holding \/.* is full; nothing more could be written there \(free some space, then continue the run with codex-orch runs resume/,
    );
    expect(done.stderr).not.toMatch(/bug|Unhandled|ENOSPC: no space/);

    fs.rmSync(filler);
    const [runId] = fs.readdirSync(runsDir);
    const resumed = await spawnTs(['runs', 'resume', runId!, '-q', '--json'], r.env).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(mergeSubjects(r.t.main).sort()).toEqual(['Merge task-a: Task a', 'Merge task-b: Task b', 'Merge task-c: Task c']);
    for (const id of ['a', 'b', 'c']) expect(fs.readFileSync(path.join(r.t.main, `${id}.txt`), 'utf8')).toBe(`${id}\n`);
    const store = openSqliteStore(r.state);
    try {
      expect(store.requireRun(runId!).status).toBe('succeeded');
      expect(store.listLocks()).toEqual([]);
    } finally {
      store.close();
    }
  });
});
