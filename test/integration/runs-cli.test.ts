import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { orchestratorScript } from '../../src/demo/demo-scripts.js';
import { startScriptedModelServer, type ScriptedModelServer, type ScriptedToolCall } from '../../src/demo/scripted-model-server.js';
import { runOrchestrator } from '../../src/orchestrator/run.js';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';

const HOLD_LOCK = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/hold-run-lock.ts');

const call = (worktree: string, command: string): ScriptedToolCall => ({ name: 'run_repo_command', arguments: { worktree, command } });

/** A real run without codex: three worktrees; a committed and merged, b left dirty, c committed but not merged. */
const TURNS: ScriptedToolCall[][] = [
  [
    call('main', 'git worktree add ../task-a -b task-a'),
    call('main', 'git worktree add ../task-b -b task-b'),
    call('main', 'git worktree add ../task-c -b task-c'),
  ],
  [
    call('task-a', 'echo a > a.txt && git add -A && git commit -q -m "add a"'),
    call('task-b', 'echo b > b.txt'),
    call('task-c', 'echo c > c.txt && git add -A && git commit -q -m "add c"'),
  ],
  [call('main', 'git merge --no-ff task-a -m "Merge task-a: add a"')],
];

describe('codex-orch runs (real runs, the CLI in a child process)', { timeout: 420_000 }, () => {
  let t: TempBase;
  let orch: ScriptedModelServer;
  let runId: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (...args: string[]) => spawnTs(args, env).done;

  beforeAll(async () => {
    t = makeTempBase({ 'README.md': '# sample\n' });
    orch = await startScriptedModelServer(orchestratorScript(TURNS));
    env = { ORCHESTRATOR_STATE_DIR: t.stateDir, ORCHESTRATOR_BASE_DIR: t.baseDir };
    const config = loadConfig({
      env: {
        ORCHESTRATOR_BASE_DIR: t.baseDir,
        ORCHESTRATOR_STATE_DIR: t.stateDir,
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: orch.url,
        ORCHESTRATOR_MODEL: 'scripted-orchestrator',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
      },
      dotenvDir: null,
    });
    const report = await runOrchestrator({ task: 'Make a, b and c', config });
    expect(report.status).toBe('succeeded');
    expect(report.commands.every((c) => c.exitCode === 0)).toBe(true);
    runId = report.runId;
  }, 180_000);
  afterAll(async () => {
    await orch.close();
    t.cleanup();
  }, 60_000);

  it('list, show, report and tail a run, with abbreviated ids and --json shapes', async () => {
    const suffix = runId.split('-').pop()!.slice(0, 3);

    const list = await cli('runs', 'list', '--json');
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout).runs;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: runId,
      task: 'Make a, b and c',
      status: 'succeeded',
      baseDir: t.baseDir,
      subtasks: { done: 0, total: 0 },
      merges: 1,
      live: false,
    });
    expect(rows[0].tokens.total).toBeGreaterThan(0);
    const human = await cli('runs', 'list');
    expect(human.stdout).toMatch(new RegExp(`${runId}\\s+succeeded`));

    const show = await cli('runs', 'show', suffix, '--json', '--state-dir', t.stateDir);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.run.id).toBe(runId);
    expect(shown.run.agentState).toBeUndefined();
    expect(shown.run.hasConversation).toBe(true);
    expect(shown.worktrees).toEqual(['task-a', 'task-b', 'task-c']);
    expect(shown.merges.map((m: { branch: string; outcome: string }) => [m.branch, m.outcome])).toEqual([['task-a', 'merged']]);
    expect(shown.commands).toEqual({ total: 7, denied: 0 });
    expect(shown.live).toBe(false);

    const report = await cli('runs', 'report', runId.slice(0, 17), '--json');
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ runId, status: 'succeeded' });
    expect(JSON.parse(report.stdout).merges.map((m: { branch: string }) => m.branch)).toEqual(['task-a']);
    const reportMd = await cli('runs', 'report', suffix);
    expect(reportMd.stdout).toContain('task-a');

    const tail = await cli('runs', 'tail', suffix, '--json');
    const events = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; type: string });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]!.type).toBe('run.started');
    expect(events.at(-1)!.type).toBe('run.finished');
    const tailHuman = await cli('runs', 'tail', suffix, '-f');
    expect(tailHuman.code).toBe(0);
    expect(tailHuman.stdout).toMatch(/command\.finished main\$ git merge --no-ff task-a/);

    const missing = await cli('runs', 'show', 'ffffff');
    expect(missing.code).toBe(7);
    expect(missing.stderr).toMatch(/ffffff/);
    const merge = await cli('runs', 'merge', suffix);
    expect(merge.code).toBe(2);
    expect(merge.stderr).toMatch(/not available for seed-road runs: merges are done by the agent/);
  });

  it('a live lock refuses a second resume; once its process is killed the run is interrupted', async () => {
    const store = openSqliteStore(t.stateDir);
    const other = store.createRun({ task: 'held elsewhere', baseDir: t.baseDir, status: 'running' }).id;
    store.close();
    const holder = spawnTs([t.stateDir, other], {}, HOLD_LOCK);
    let out = '';
    holder.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('locked'), 'the lock holder');
    try {
      const resume = await cli('resume', other);
      expect(resume.code).toBe(7);
      expect(resume.stderr).toContain(`run ${other} is being resumed by pid ${holder.child.pid}`);
      const list = JSON.parse((await cli('runs', 'list', '--json')).stdout).runs as { id: string; status: string; live: boolean }[];
      expect(list.find((r) => r.id === other)).toMatchObject({ status: 'running', live: true });
      const clean = await cli('runs', 'clean', other);
      expect(clean.code).toBe(7);
      expect(clean.stderr).toMatch(/is running \(pid \d+\)/);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.done;
    }
    const list = JSON.parse((await cli('runs', 'list', '--json', '--status', 'interrupted')).stdout).runs as { id: string }[];
    expect(list.map((r) => r.id)).toEqual([other]);
    const s = openSqliteStore(t.stateDir);
    s.deleteRun(other);
    s.close();
  });

  it('clean removes clean worktrees, keeps dirty ones and unmerged branches; prune finishes the job', async () => {
    const clean = await cli('runs', 'clean', runId, '--branches', '--json');
    expect(clean.code).toBe(1); // something was kept
    const r = JSON.parse(clean.stdout);
    expect(r.removed).toEqual(['task-a', 'task-c']);
    expect(r.kept.map((k: { worktree: string }) => k.worktree)).toEqual(['task-b']);
    expect(r.kept[0].reason).toMatch(/uncommitted changes/);
    expect(r.branchesDeleted).toEqual(['task-a']);
    expect(r.branchesKept.map((b: { branch: string }) => b.branch)).toEqual(['task-c']);
    expect(r.branchesKept[0].reason).toMatch(/not fully merged/);
    expect(fs.existsSync(path.join(t.baseDir, 'task-b', 'b.txt'))).toBe(true);
    expect(fs.existsSync(path.join(t.baseDir, 'task-a'))).toBe(false);
    expect(git(t.main, 'branch', '--format=%(refname:short)').split('\n').sort()).toEqual(['main', 'task-b', 'task-c']);

    // A stale lock (dead pid) for prune to remove.
    const store = openSqliteStore(t.stateDir);
    store.tryAcquireLock(
      { key: 'run:gone', owner: 'x', pid: 2 ** 22 + 12345, hostname: (await import('node:os')).hostname(), at: new Date().toISOString() },
      () => false,
    );
    store.close();

    const prune1 = JSON.parse((await cli('runs', 'prune', '--older-than', '0', '--json')).stdout);
    expect(prune1.worktreesKept.map((k: { worktree: string }) => k.worktree)).toEqual(['task-b']);
    expect(prune1.runsDeleted).toEqual([]); // a kept worktree keeps its run
    expect(prune1.locksRemoved.map((l: { key: string }) => l.key)).toEqual(['run:gone']);

    git(path.join(t.baseDir, 'task-b'), 'add', '-A');
    git(path.join(t.baseDir, 'task-b'), 'commit', '-q', '-m', 'add b');
    const prune2 = await cli('runs', 'prune', '--older-than', '0');
    expect(prune2.code, prune2.stderr).toBe(0);
    expect(prune2.stdout).toMatch(/removed 1 worktree\(s\), 0 stale lock\(s\), 1 old run\(s\)/);
    expect(fs.existsSync(path.join(t.baseDir, 'task-b'))).toBe(false);
    expect(fs.existsSync(path.join(t.stateDir, 'runs', runId))).toBe(false);
    expect(JSON.parse((await cli('runs', 'list', '--json')).stdout).runs).toEqual([]);
    // Branches are never deleted by prune.
    expect(git(t.main, 'branch', '--format=%(refname:short)').split('\n').sort()).toEqual(['main', 'task-b', 'task-c']);
  });
});
