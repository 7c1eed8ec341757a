/**
 * `yarn bench resume`: crash-resume time for a run with 10 finished subtasks.
 *
 * A real seed-road run (real SDK loop, scripted model, real git, no codex)
 * creates 10 task worktrees, commits in each and merges all 10 into main, so the
 * store holds a realistic record: ~30 commands with their events, 10 merges and
 * the saved conversation. The run is then marked `interrupted` (as after a
 * `kill -9`) and resumed in process, N times. Measured: time from calling
 * `resumeRun` to the orchestrator model's first request (locks, store reads,
 * git snapshot, worker recovery, restoring the conversation, the resume note),
 * against the baseline of opening the store and reading the run (run, events,
 * commands, merges).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/config.js';
import { orchestratorScript } from '../src/demo/demo-scripts.js';
import { startScriptedModelServer, type ScriptedToolCall } from '../src/demo/scripted-model-server.js';
import { runOrchestrator } from '../src/orchestrator/run.js';
import { resumeRun } from '../src/orchestrator/resume.js';
import { openSqliteStore } from '../src/store/index.js';
import { git, makeTempBase } from '../test/helpers/git-repo.js';
import { percentile, writeResult } from './write-result.js';

const SUBTASKS = 10;
const ITERATIONS = 10;

const call = (worktree: string, command: string): ScriptedToolCall => ({ name: 'run_repo_command', arguments: { worktree, command } });

function turns(): ScriptedToolCall[][] {
  const ids = Array.from({ length: SUBTASKS }, (_, i) => `t${i + 1}`);
  return [
    ids.map((id) => call('main', `git worktree add ../task-${id} -b task-${id}`)),
    ids.map((id) => call(`task-${id}`, `echo ${id} > ${id}.txt && git add -A && git commit -q -m "add ${id}"`)),
    ...ids.map((id) => [call('main', `git merge --no-ff task-${id} -m "Merge task-${id}: add ${id}"`)]),
  ];
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: +percentile(s, 50).toFixed(2),
    p90: +percentile(s, 90).toFixed(2),
    min: +(s[0] ?? NaN).toFixed(2),
    max: +(s.at(-1) ?? NaN).toFixed(2),
  };
};

export async function run(): Promise<void> {
  const t = makeTempBase({ 'README.md': '# bench\n' });
  let resuming = false;
  let firstRequestAt: number | undefined;
  const seed = orchestratorScript(turns());
  const server = await startScriptedModelServer((req) => {
    if (!resuming) return seed(req);
    firstRequestAt ??= performance.now();
    return { text: 'All 10 subtasks are merged; nothing left to do.' };
  });
  try {
    const config = loadConfig({
      env: {
        ORCHESTRATOR_BASE_DIR: t.baseDir,
        ORCHESTRATOR_STATE_DIR: t.stateDir,
        OPENAI_API_KEY: 'bench-key',
        OPENAI_BASE_URL: server.url,
        ORCHESTRATOR_MODEL: 'scripted-orchestrator',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
        ORCHESTRATOR_LOG_LEVEL: 'warn',
      },
      dotenvDir: null,
    });
    const report = await runOrchestrator({ task: `Add ${SUBTASKS} files, one per subtask`, config });
    if (report.status !== 'succeeded' || report.merges.length !== SUBTASKS)
      throw new Error(`seed run: ${report.status}, ${report.merges.length} merges`);
    const runId = report.runId;
    const store = openSqliteStore(t.stateDir);
    const saved = store.requireRun(runId);
    const shape = {
      commands: store.listCommands({ runId }).length,
      events: store.listEvents(runId).length,
      merges: store.listMerges(runId).length,
      conversationBytes: saved.agentState?.length ?? 0,
    };
    const reset = () => store.updateRun(runId, { status: 'interrupted', agentState: saved.agentState ?? null, finishedAt: null });

    const baseline: number[] = [];
    const toFirstRequest: number[] = [];
    const toReport: number[] = [];
    resuming = true;
    for (let i = 0; i < ITERATIONS; i++) {
      reset();
      const b0 = performance.now();
      const s = openSqliteStore(t.stateDir);
      const r = s.requireRun(runId.slice(-6));
      s.listEvents(r.id);
      s.listCommands({ runId: r.id });
      s.listMerges(r.id);
      s.close();
      baseline.push(performance.now() - b0);

      firstRequestAt = undefined;
      const r0 = performance.now();
      const resumed = await resumeRun({ runId: runId.slice(-6), config });
      const r1 = performance.now();
      if (resumed.status !== 'succeeded' || resumed.merges.length !== SUBTASKS || firstRequestAt === undefined)
        throw new Error(`resume ${i}: ${resumed.status}`);
      toFirstRequest.push(firstRequestAt - r0);
      toReport.push(r1 - r0);
    }
    store.close();
    const merges = git(t.main, 'log', '--first-parent', '--merges', '--format=%s').split('\n').filter(Boolean).length;
    if (merges !== SUBTASKS) throw new Error(`main has ${merges} merges after ${ITERATIONS} resumes`);

    const result = {
      subtasks: SUBTASKS,
      iterations: ITERATIONS,
      run: shape,
      baselineOpenAndReadMs: stats(baseline),
      resumeToFirstModelRequestMs: stats(toFirstRequest),
      resumeToReportMs: stats(toReport),
      ratioP50: +(
        percentile(
          [...toFirstRequest].sort((a, b) => a - b),
          50,
        ) /
        percentile(
          [...baseline].sort((a, b) => a - b),
          50,
        )
      ).toFixed(1),
    };
    const file = writeResult('resume', result);
    console.log(JSON.stringify(result, null, 2));
    console.log(`written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await server.close();
    if (fs.existsSync(t.root)) t.cleanup();
  }
}
