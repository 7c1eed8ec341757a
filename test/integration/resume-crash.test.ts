import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { codexScript, orchestratorScript, orchestratorTurns } from '../../src/demo/demo-scripts.js';
import { SAMPLE_FILES } from '../../src/demo/sample-repo.js';
import {
  startScriptedModelServer,
  toolOutputs,
  type ScriptedModelServer,
  type ScriptedRequest,
} from '../../src/demo/scripted-model-server.js';
import type { RunReport } from '../../src/orchestrator/report/report.js';
import { runOrchestrator } from '../../src/orchestrator/run.js';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { processesIn } from '../helpers/processes.js';
import { scriptedRunConfig, scriptedRunEnv } from '../helpers/scripted-run.js';

/**
 * Crash-resume end to end: the orchestrator runs in a child process (the real
 * CLI through tsx: real Agents SDK loop, real guard, real git, the real codex
 * binary against a scripted model server), is killed with SIGKILL at a chosen
 * point, and `codex-orch resume <abbreviated id>` finishes it. The result must
 * equal an uninterrupted run's: same files in main, each branch merged once,
 * the report listing every merge once.
 */

const TASK = 'Add capitalize and truncate helpers';
const TURNS = orchestratorTurns();
/** Tool outputs the model has seen when it is asked for the turn after the first merge (status 1, worktrees 2, codex 2, commits 2, tests 2, merge 1). */
const AFTER_FIRST_MERGE = 10;

function mainTree(main: string): string {
  return git(main, 'ls-tree', '-r', 'HEAD');
}

function mergeSubjects(main: string): string[] {
  return git(main, 'log', '--first-parent', '--merges', '--format=%s', 'HEAD').split('\n').filter(Boolean).reverse();
}

describe('crash-resume (SIGKILL of the orchestrator process, then codex-orch resume)', { timeout: 420_000 }, () => {
  let baselineTree: string;
  let baselineMerges: string[];

  beforeAll(async () => {
    // The uninterrupted run, in process, for comparison.
    const t = makeTempBase(SAMPLE_FILES);
    const codex = await startScriptedModelServer(codexScript());
    const orch = await startScriptedModelServer(orchestratorScript(TURNS));
    const codexHome = path.join(t.root, 'codex-home');
    fs.mkdirSync(codexHome);
    const saved = process.env.CODEX_HOME;
    process.env.CODEX_HOME = codexHome;
    process.env.OPENAI_API_KEY ??= 'test-key';
    try {
      const config = scriptedRunConfig(t, orch.url, codex.url);
      const report = await runOrchestrator({ task: TASK, config });
      expect(report.status).toBe('succeeded');
      expect(report.workers.map((w) => w.status)).toEqual(['complete', 'complete']);
      baselineTree = mainTree(t.main);
      baselineMerges = mergeSubjects(t.main);
      expect(baselineMerges).toHaveLength(2);
    } finally {
      if (saved === undefined) delete process.env.CODEX_HOME;
      else process.env.CODEX_HOME = saved;
      await orch.close();
      await codex.close();
      t.cleanup();
    }
  }, 180_000);

  let t: TempBase;
  let orch: ScriptedModelServer | undefined;
  let codex: ScriptedModelServer | undefined;
  afterEach(async () => {
    await orch?.close();
    await codex?.close();
    orch = codex = undefined;
    t?.cleanup();
  });
  afterAll(() => undefined);

  /**
   * Sets up a base dir and the two scripted servers. `hold(req)` tells the
   * orchestrator or codex server to hold its answer (so the kill lands while
   * that request is pending) while `phase` is 1.
   */
  async function rig(options: { holdOrchestrator?: (req: ScriptedRequest) => boolean; holdCodex?: (req: ScriptedRequest) => boolean }) {
    t = makeTempBase(SAMPLE_FILES);
    const state = { phase: 1 as 1 | 2, held: 0 };
    const baseCodex = codexScript();
    const baseOrch = orchestratorScript(TURNS);
    codex = await startScriptedModelServer(async (req) => {
      const turn = await baseCodex(req);
      if (state.phase === 1 && options.holdCodex?.(req)) {
        state.held++;
        return { ...turn, delayMs: 8000 };
      }
      return turn;
    });
    orch = await startScriptedModelServer(async (req) => {
      const turn = await baseOrch(req);
      if (state.phase === 1 && options.holdOrchestrator?.(req)) {
        state.held++;
        return { ...turn, delayMs: 15_000 };
      }
      return turn;
    });
    const codexHome = path.join(t.root, 'codex-home');
    fs.mkdirSync(codexHome);
    const env: NodeJS.ProcessEnv = { ...scriptedRunEnv(t, orch.url, codex.url), CODEX_HOME: codexHome };
    return { state, env };
  }

  /** Starts the run in a child, waits until `killWhen`, SIGKILLs it, resumes with an abbreviated id, and returns the final report. */
  async function crashAndResume(
    r: Awaited<ReturnType<typeof rig>>,
    killWhen: () => boolean,
    what: string,
  ): Promise<{ report: RunReport; runId: string; first: string }> {
    const first = spawnTs(['run', '--json', '-q', TASK], r.env);
    let exited = false;
    void first.done.then(() => (exited = true));
    await waitFor(() => killWhen() || exited, what, 90_000);
    expect(exited).toBe(false);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');

    const runs = fs.readdirSync(path.join(t.stateDir, 'runs'));
    expect(runs).toHaveLength(1);
    const runId = runs[0]!;
    // The killed run is reported as interrupted (its lock's pid is dead).
    const list = await spawnTs(['runs', 'list', '--json'], r.env).done;
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).runs.map((x: { id: string; status: string }) => [x.id, x.status])).toEqual([[runId, 'interrupted']]);

    r.state.phase = 2;
    const suffix = runId.split('-').pop()!.slice(0, 4);
    const resumed = await spawnTs(['resume', suffix, '--json', '-q'], r.env).done;
    expect(resumed.stderr).not.toMatch(/unexpected error/);
    expect(resumed.code, resumed.stderr).toBe(0);
    return { report: JSON.parse(resumed.stdout) as RunReport, runId, first: killed.stdout };
  }

  function expectSameAsUninterrupted(report: RunReport, runId: string): void {
    expect(report.runId).toBe(runId);
    expect(report.status).toBe('succeeded');
    expect(report.error).toBeNull();
    // Same files and contents in main, and each branch merged exactly once.
    expect(mainTree(t.main)).toBe(baselineTree);
    expect(mergeSubjects(t.main)).toEqual(baselineMerges);
    expect(report.merges.map((m) => m.branch)).toEqual(['task-capitalize', 'task-truncate']);
    // The store agrees: two merges, one per branch.
    const store = openSqliteStore(t.stateDir);
    try {
      const merges = store.listMerges(runId).filter((m) => m.outcome === 'merged');
      expect(merges.map((m) => m.branch).sort()).toEqual(['task-capitalize', 'task-truncate']);
      const run = store.requireRun(runId);
      expect(run.status).toBe('succeeded');
      expect(run.tokens.input).toBeGreaterThan(0);
      expect(store.listLocks()).toEqual([]);
    } finally {
      store.close();
    }
    // The report covers both processes: the first process's worktree commands are in it.
    expect(report.commands.filter((c) => c.command.startsWith('git worktree add'))).toHaveLength(2);
    expect(fs.existsSync(path.join(report.runDir, 'report.md'))).toBe(true);
  }

  it('killed while both codex workers run: the workers resume their threads, main equals an uninterrupted run', async () => {
    const r = await rig({ holdCodex: (req) => toolOutputs(req.body).size > 0 });
    // Both workers ran their command and wait for their model's final answer.
    const { report, runId } = await crashAndResume(r, () => r.state.held >= 2, 'both workers to wait on their final answer');
    expectSameAsUninterrupted(report, runId);
    const store = openSqliteStore(t.stateDir);
    try {
      const workers = store.listWorkers(runId);
      const interrupted = workers.filter((w) => w.status === 'interrupted');
      expect(interrupted).toHaveLength(2);
      expect(interrupted.every((w) => typeof w.threadId === 'string')).toBe(true);
      const commands = store.listCommands({ runId }).map((c) => c.command);
      for (const w of interrupted) expect(commands.some((c) => c.startsWith(`codex exec resume ${w.threadId}`))).toBe(true);
      expect(store.listEvents(runId).some((e) => e.type === 'run.recovered')).toBe(true);
    } finally {
      store.close();
    }
    expect(report.workers.filter((w) => w.status === 'complete')).toHaveLength(2);
    expect(processesIn(t.baseDir)).toEqual([]);
  });

  it('killed between the two merges: the first merge is not redone, the second happens once', async () => {
    const r = await rig({ holdOrchestrator: (req) => toolOutputs(req.body).size === AFTER_FIRST_MERGE });
    const { report, runId } = await crashAndResume(r, () => r.state.held >= 1, 'the turn after the first merge');
    expect(mergeSubjects(t.main)).toHaveLength(2);
    expectSameAsUninterrupted(report, runId);
    const merges = report.commands.filter((c) => c.command.startsWith('git merge'));
    expect(merges.map((m) => m.command)).toEqual(
      TURNS.flat()
        .filter((c) => String(c.arguments.command).startsWith('git merge'))
        .map((c) => c.arguments.command),
    );
  });

  it('killed before the first model answer: the task is resumed from the saved conversation', async () => {
    const r = await rig({ holdOrchestrator: (req) => toolOutputs(req.body).size === 0 });
    const { report, runId } = await crashAndResume(r, () => r.state.held >= 1, 'the first model request');
    expectSameAsUninterrupted(report, runId);
  });
});
