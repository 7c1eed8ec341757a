/**
 * `yarn bench distributed`: plan subtasks on agent processes vs the local
 * executor at the same total concurrency, in one run, on a 1,000-file repo.
 * Each worker is the plan fake codex sleeping S ms (so CPU is not the
 * bottleneck). Reports throughput for 1, 2 and 4 agents, the queue overhead per
 * subtask (bundles both ways, Redis, artifact endpoint) and the scaling
 * efficiency = remote throughput / local throughput.
 * BENCH_SUBTASKS (default 16), BENCH_SLEEP_MS (default 2000), BENCH_CONCURRENCY (default 4).
 */
import fs from 'node:fs';
import path from 'node:path';
import { executePlan } from '../src/orchestrator/plan/execute-plan.js';
import { remoteLauncher } from '../src/orchestrator/plan/remote-worker-step.js';
import { startArtifactServer } from '../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../src/queue/artifacts.js';
import { RemoteWorkers } from '../src/queue/remote-workers.js';
import { openStore } from '../src/store/index.js';
import { spawnTs, waitFor, type ChildRun } from '../test/helpers/cli-child.js';
import { PLAN_FAKE_CODEX, fakePrompt, makePlanRig, plan } from '../test/helpers/plan-env.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, uniquePrefix } from '../test/helpers/queue-env.js';
import { writeResult } from './write-result.js';

const TOKEN = 'bench-distributed-token-0123456789';

function thousandFiles(): Record<string, string> {
  const files: Record<string, string> = { 'README.md': '# bench\n' };
  for (let i = 0; i < 1000; i++) files[`src/m${Math.floor(i / 50)}/f${i}.txt`] = `file ${i}\n${'x'.repeat(200)}\n`;
  return files;
}

function subtasks(n: number, sleepMs: number) {
  return plan(
    Array.from({ length: n }, (_, i) => ({
      id: `t${i}`,
      title: `Task ${i}`,
      prompt: fakePrompt(`Write out/t${i}.txt.`, { write: { [`out/t${i}.txt`]: `${i}\n` }, sleepMs }),
      files: [`out/t${i}.txt`],
    })),
  );
}

async function localRun(n: number, sleepMs: number, concurrency: number): Promise<number> {
  const r = makePlanRig({ files: thousandFiles() });
  try {
    const t0 = performance.now();
    const result = await executePlan(subtasks(n, sleepMs), { ...r.ctx, maxParallel: concurrency });
    const ms = performance.now() - t0;
    if (!result.allMerged) throw new Error(`local run left ${result.left.length} subtask(s)`);
    return ms;
  } finally {
    r.base.cleanup();
  }
}

async function remoteRun(n: number, sleepMs: number, concurrency: number, agentsCount: number): Promise<number> {
  const r = makePlanRig({ files: thousandFiles(), settings: { repo: 'bench' } });
  const prefix = uniquePrefix();
  const server = await startArtifactServer({ dir: path.join(r.base.stateDir, 'artifacts'), token: TOKEN });
  const agents: ChildRun[] = [];
  const store = openStore({ memory: true });
  let remote: RemoteWorkers | undefined;
  try {
    const outs: (() => string)[] = [];
    for (let i = 0; i < agentsCount; i++) {
      const repo = agentClone(r.base.root, r.base.origin, `agent-${i}`);
      const a = spawnTs(
        [
          'agent',
          '--queue',
          REDIS_URL,
          '--prefix',
          prefix,
          '--repo',
          `bench=${repo.clone}`,
          '--artifacts',
          server.url,
          '--work-dir',
          path.join(r.base.root, `agent-${i}`, 'work'),
          '--concurrency',
          String(Math.max(1, Math.round(concurrency / agentsCount))),
          '--json',
        ],
        { ORCHESTRATOR_ARTIFACTS_TOKEN: TOKEN, CODEX_BIN: PLAN_FAKE_CODEX, PLAN_FAKE_STATE: r.fakeState },
      );
      let out = '';
      a.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      outs.push(() => out);
      agents.push(a);
    }
    await waitFor(() => outs.every((o) => o().includes('"agent.started"')), 'agents to start', 120_000);
    store.createRun({ id: r.ctx.runId, task: 'bench', baseDir: r.base.baseDir });
    remote = new RemoteWorkers({
      url: REDIS_URL,
      prefix,
      repoId: 'bench',
      mainDir: r.base.main,
      store,
      artifacts: new HttpArtifactStore(server.url, TOKEN),
      artifactsLocation: server.url,
      pollMs: 50,
    });
    await remote.ready();
    const t0 = performance.now();
    const result = await executePlan(subtasks(n, sleepMs), { ...r.ctx, maxParallel: concurrency, launcher: remoteLauncher(remote), store });
    const ms = performance.now() - t0;
    if (!result.allMerged) throw new Error(`remote run left ${result.left.length} subtask(s): ${JSON.stringify(result.left)}`);
    return ms;
  } finally {
    await remote?.close();
    for (const a of agents) a.child.kill('SIGTERM');
    await Promise.all(agents.map((a) => a.done));
    await server.close();
    await dropPrefix(prefix);
    store.close();
    r.base.cleanup();
  }
}

export async function run(): Promise<void> {
  await requireRedis();
  const n = Number(process.env.BENCH_SUBTASKS ?? 16);
  const sleepMs = Number(process.env.BENCH_SLEEP_MS ?? 2000);
  const c = Number(process.env.BENCH_CONCURRENCY ?? 4);
  const local = await localRun(n, sleepMs, c);
  const rows: Record<string, unknown>[] = [];
  for (const k of [1, 2, 4]) {
    const ms = await remoteRun(n, sleepMs, c, k);
    const overheadPerSubtask = ((ms - local) * c) / n;
    rows.push({
      agents: k,
      concurrencyPerAgent: Math.max(1, Math.round(c / k)),
      wallMs: Math.round(ms),
      subtasksPerMin: +((n / ms) * 60_000).toFixed(1),
      overheadMsPerSubtask: Math.round(overheadPerSubtask),
      efficiencyVsLocal: +(local / ms).toFixed(3),
    });
    console.log(
      `  ${k} agent(s): ${Math.round(ms)} ms, ${rows.at(-1)!.subtasksPerMin}/min, overhead ${Math.round(overheadPerSubtask)} ms/subtask, efficiency ${(local / ms).toFixed(3)}`,
    );
  }
  const file = writeResult('distributed', {
    subtasks: n,
    workerSleepMs: sleepMs,
    totalConcurrency: c,
    repoFiles: 1000,
    local: { wallMs: Math.round(local), subtasksPerMin: +((n / local) * 60_000).toFixed(1) },
    remote: rows,
    targets: { overheadMsPerSubtask: 50, efficiencyAt4Agents: 0.9 },
  });
  console.log(`  local: ${Math.round(local)} ms (${((n / local) * 60_000).toFixed(1)}/min) → ${fs.existsSync(file) ? file : ''}`);
}
