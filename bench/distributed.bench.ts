/**
 * `yarn bench distributed`: plan subtasks on agent processes vs the local
 * executor at the same total concurrency, in one run, on a 1,000-file repo.
 * The same plan and the same settings both ways; each worker is the plan fake
 * codex sleeping S ms (so CPU is not the bottleneck). Reports throughput for
 * 1, 2 and 4 agents, the queue overhead per subtask (bundles both ways, Redis,
 * artifact endpoint), the scaling efficiency = local wall time / remote wall
 * time, the mean time of each phase of a remote subtask (orchestrator side and
 * agent side, from RemoteWorkers' timings) next to the local worker's time, and
 * the machine's load average before and after each run (a loaded machine
 * makes every figure worse). The overhead comes from wall times, so it is net:
 * the queue road checks out no worktree on the orchestrator's machine (the
 * branch alone; agents reuse theirs), which the local road does per subtask,
 * and that saving can outweigh the queue's own phases, whose sum per subtask
 * is reported beside it (queuePhasesMsPerSubtask).
 * BENCH_SUBTASKS (default 16), BENCH_SLEEP_MS (default 2500), BENCH_CONCURRENCY (default 4),
 * BENCH_AGENTS (default 1,2,4), BENCH_ROUNDS (default 4: every figure is the median over rounds that
 * interleave the local run and each agent count).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBundle, fetchBundle, fetchBundleIntoBranch } from '../src/git/bundle.js';
import { runGit } from '../src/git/repo.js';
import { executePlan } from '../src/orchestrator/plan/execute-plan.js';
import { remoteLauncher } from '../src/orchestrator/plan/remote-worker-step.js';
import { startArtifactServer } from '../src/queue/artifact-server.js';
import { phaseTimer, type PhaseTimings } from '../src/queue/phase-timings.js';
import { RemoteWorkers } from '../src/queue/remote-workers.js';
import { openStore } from '../src/store/index.js';
import { waitFor, type ChildRun } from '../test/helpers/cli-child.js';
import { git, makeTempBase } from '../test/helpers/git-repo.js';
import { fakePrompt, makePlanRig, plan } from '../test/helpers/plan-env.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, spawnAgent, uniquePrefix } from '../test/helpers/queue-env.js';
import { writeResult } from './write-result.js';

const TOKEN = 'bench-distributed-token-0123456789';
/** Local and remote runs use the same repository settings (no setup command; the agent's setup would run only when the local one does). */
const SETTINGS = { repo: 'bench' };

interface RunFigures {
  ms: number;
  /** Mean ms per subtask of each phase. */
  phases: Record<string, number>;
  load: { before: number[]; after: number[] };
  /** Share of the machine's CPU time that was busy during the run (from /proc/stat; null where there is none). */
  cpuBusy: number | null;
}

/** Busy and total CPU ticks of the whole machine, from /proc/stat (Linux), or null. */
function cpuTicks(): { busy: number; total: number } | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function busyShare(from: ReturnType<typeof cpuTicks>): number | null {
  const to = cpuTicks();
  if (!from || !to || to.total === from.total) return null;
  return +((to.busy - from.busy) / (to.total - from.total)).toFixed(3);
}

function load(): number[] {
  return os.loadavg().map((l) => +l.toFixed(2));
}

function means(rows: PhaseTimings[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r)) sums[k] = (sums[k] ?? 0) + v;
  return Object.fromEntries(
    Object.entries(sums)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Math.round(v / Math.max(1, rows.length))]),
  );
}

/** The phases only the queue road has (bundles both ways, Redis, the artifact endpoint), summed: what a subtask's job path pays on top of its worker, worktree and commit. */
const QUEUE_PHASES = ['enqueue', 'pickup', 'notice', 'download', 'fetch', 'advance', 'agent.baseFetch', 'agent.bundle', 'agent.upload'];

function queuePhases(phases: Record<string, number>): number {
  return QUEUE_PHASES.reduce((sum, p) => sum + (phases[p] ?? 0), 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Each phase's median over the rounds (a phase missing from a round counts as 0 there). */
function medianPhases(rounds: Record<string, number>[]): Record<string, number> {
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r)))].sort();
  return Object.fromEntries(names.map((p) => [p, Math.round(median(rounds.map((r) => r[p] ?? 0)))]));
}

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

async function localRun(n: number, sleepMs: number, concurrency: number): Promise<RunFigures> {
  const r = makePlanRig({ files: thousandFiles(), settings: SETTINGS });
  try {
    const before = load();
    const ticks = cpuTicks();
    const t0 = performance.now();
    const result = await executePlan(subtasks(n, sleepMs), { ...r.ctx, maxParallel: concurrency });
    const ms = performance.now() - t0;
    const cpuBusy = busyShare(ticks);
    if (!result.allMerged) throw new Error(`local run left ${result.left.length} subtask(s)`);
    return { ms, phases: means(result.workers.map((w) => ({ worker: w.durationMs }))), load: { before, after: load() }, cpuBusy };
  } finally {
    r.base.cleanup();
  }
}

async function remoteRun(n: number, sleepMs: number, concurrency: number, agentsCount: number): Promise<RunFigures> {
  const r = makePlanRig({ files: thousandFiles(), settings: SETTINGS });
  const timings: PhaseTimings[] = [];
  const prefix = uniquePrefix();
  const server = await startArtifactServer({ dir: path.join(r.base.stateDir, 'artifacts'), token: TOKEN });
  const agents: ChildRun[] = [];
  const store = openStore({ memory: true });
  let remote: RemoteWorkers | undefined;
  try {
    const outs: (() => string)[] = [];
    for (let i = 0; i < agentsCount; i++) {
      const a = spawnAgent({
        root: r.base.root,
        origin: r.base.origin,
        name: `agent-${i}`,
        prefix,
        artifacts: server.url,
        token: TOKEN,
        fakeState: r.fakeState,
        repoId: 'bench',
        concurrency: Math.max(1, Math.round(concurrency / agentsCount)),
        // A deployment's lock and stall times (the tests' short ones would add stall checks to every agent).
        env: { ORCHESTRATOR_QUEUE_LOCK_MS: '300000', ORCHESTRATOR_QUEUE_STALLED_MS: '30000' },
      });
      outs.push(a.out);
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
      // As openRemoteWorkers does when it serves the endpoint: its own bundles in place, agents over HTTP.
      artifacts: server.store,
      artifactsLocation: server.url,
      onTimings: (_jobId, t) => timings.push(t),
    });
    await remote.ready();
    const before = load();
    const ticks = cpuTicks();
    const t0 = performance.now();
    const result = await executePlan(subtasks(n, sleepMs), { ...r.ctx, maxParallel: concurrency, launcher: remoteLauncher(remote), store });
    const ms = performance.now() - t0;
    const cpuBusy = busyShare(ticks);
    if (!result.allMerged) throw new Error(`remote run left ${result.left.length} subtask(s): ${JSON.stringify(result.left)}`);
    return { ms, phases: means(timings), load: { before, after: load() }, cpuBusy };
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

/**
 * The floor of the design on this machine: the git work one subtask's round
 * trip cannot do without, timed alone, serially, with nothing else running
 * (the program's own git functions on the same 1,000-file repository). Per
 * iteration: main moves (a merge, which the local road does too: untimed), then
 * the orchestrator bundles the new base against the previous one, the agent
 * fetches it, commits a change in its worktree (the local road commits too:
 * untimed), bundles the branch against the base, and the orchestrator fetches
 * that into the branch. No Redis, no HTTP, no checkout: git alone. Beside it,
 * one bare git process (`git --version`), the unit every git step costs.
 */
export async function gitFloor(iterations: number): Promise<{ roundTripMs: number; gitProcessMs: number; steps: Record<string, number> }> {
  const t = makeTempBase(thousandFiles());
  try {
    const agent = agentClone(t.root, t.origin, 'agent');
    const wt = path.join(t.root, 'agent', 'wt');
    git(agent.clone, 'worktree', 'add', '-q', '-b', 'slot', wt, 'main');
    const tmp = path.join(t.root, 'bundles');
    const rows: PhaseTimings[] = [];
    const spawn: number[] = [];
    let prev = git(t.main, 'rev-parse', 'HEAD');
    for (let i = 0; i < iterations; i++) {
      const s0 = performance.now();
      await runGit(t.main, ['--version']);
      spawn.push(performance.now() - s0);
      // The merge that made the new base (untimed: the local road merges too).
      fs.writeFileSync(path.join(t.main, `merged-${i}.txt`), `${i}\n`);
      git(t.main, 'add', '-A');
      git(t.main, 'commit', '-q', '-m', `merge ${i}`);
      const base = git(t.main, 'rev-parse', 'HEAD');
      const timer = phaseTimer();
      const baseFile = path.join(tmp, `base-${i}.bundle`);
      const b = await timer.time('baseBundle', () =>
        createBundle(t.main, baseFile, { tip: base, base: prev, name: `base-${i}`, via: 'HEAD' }),
      );
      const got = await timer.time('agentFetch', () => fetchBundle(agent.clone, baseFile, { ref: b!.ref, name: `base-${i}` }));
      // The worker's change, committed on the agent (untimed: the local road commits too).
      git(wt, 'reset', '-q', '--hard', got);
      fs.writeFileSync(path.join(wt, `task-${i}.txt`), `${i}\n`);
      git(wt, 'add', '-A');
      git(wt, 'commit', '-q', '-m', `task ${i}`);
      const head = git(wt, 'rev-parse', 'HEAD');
      const resultFile = path.join(tmp, `task-${i}.bundle`);
      const r = await timer.time('agentBundle', () =>
        createBundle(agent.clone, resultFile, { tip: head, base, name: `task-${i}`, via: 'refs/heads/slot' }),
      );
      await timer.time('fetchBranch', () => fetchBundleIntoBranch(t.main, resultFile, { ref: r!.ref, branch: `task-${i}`, sha: head }));
      rows.push(timer.timings);
      prev = base;
    }
    const steps = medianPhases(rows.slice(1));
    return {
      roundTripMs: Math.round(median(rows.slice(1).map((r) => Object.values(r).reduce((a, v) => a + v, 0)))),
      gitProcessMs: +median(spawn.slice(1)).toFixed(1),
      steps,
    };
  } finally {
    t.cleanup();
  }
}

export async function run(): Promise<void> {
  await requireRedis();
  const n = Number(process.env.BENCH_SUBTASKS ?? 16);
  const sleepMs = Number(process.env.BENCH_SLEEP_MS ?? 2500);
  const c = Number(process.env.BENCH_CONCURRENCY ?? 4);
  const agentCounts = (process.env.BENCH_AGENTS ?? '1,2,4').split(',').map(Number);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
  // Rounds interleave the local run and every agent count, so a burst of load on the machine hits all of them alike;
  // each figure below is the median over the rounds.
  const floor = await gitFloor(Number(process.env.BENCH_FLOOR_ITERATIONS ?? 21));
  console.log(
    `  git floor of one round trip: ${floor.roundTripMs} ms (${Object.entries(floor.steps)
      .map(([p, v]) => `${p} ${v}`)
      .join(', ')}); one git process ${floor.gitProcessMs} ms`,
  );
  const localRuns: RunFigures[] = [];
  const remoteRuns = new Map<number, RunFigures[]>(agentCounts.map((k) => [k, []]));
  for (let round = 1; round <= rounds; round++) {
    const l = await localRun(n, sleepMs, c);
    localRuns.push(l);
    console.log(
      `  round ${round} local: ${Math.round(l.ms)} ms, worker ${l.phases.worker} ms, cpu busy ${l.cpuBusy ?? '?'}, load ${l.load.before.join(' ')}`,
    );
    for (const k of agentCounts) {
      const r = await remoteRun(n, sleepMs, c, k);
      remoteRuns.get(k)!.push(r);
      console.log(`  round ${round} ${k} agent(s): ${Math.round(r.ms)} ms, cpu busy ${r.cpuBusy ?? '?'}, load ${r.load.before.join(' ')}`);
    }
  }
  const localMs = median(localRuns.map((r) => r.ms));
  console.log(`  local: ${Math.round(localMs)} ms median (${((n / localMs) * 60_000).toFixed(1)}/min)`);
  const rows: Record<string, unknown>[] = [];
  for (const k of agentCounts) {
    const runs = remoteRuns.get(k)!;
    const ms = median(runs.map((r) => r.ms));
    const phases = medianPhases(runs.map((r) => r.phases));
    const overheadPerSubtask = ((ms - localMs) * c) / n;
    const perMin = +((n / ms) * 60_000).toFixed(1);
    rows.push({
      agents: k,
      concurrencyPerAgent: Math.max(1, Math.round(c / k)),
      wallMs: Math.round(ms),
      wallMsPerRound: runs.map((r) => Math.round(r.ms)),
      subtasksPerMin: perMin,
      overheadMsPerSubtask: Math.round(overheadPerSubtask),
      efficiencyVsLocal: +(localMs / ms).toFixed(3),
      queuePhasesMsPerSubtask: queuePhases(phases),
      phasesMeanMs: phases,
      loadavg: runs.map((r) => r.load),
      cpuBusy: runs.map((r) => r.cpuBusy),
    });
    console.log(
      `  ${k} agent(s): ${Math.round(ms)} ms median, ${perMin}/min, overhead ${Math.round(overheadPerSubtask)} ms/subtask, efficiency ${(localMs / ms).toFixed(3)}, queue phases ${queuePhases(phases)} ms/subtask`,
    );
    console.log(
      `    phases (mean ms): ${Object.entries(phases)
        .map(([p, v]) => `${p} ${v}`)
        .join(', ')}`,
    );
  }
  const file = writeResult('distributed', {
    subtasks: n,
    workerSleepMs: sleepMs,
    totalConcurrency: c,
    repoFiles: 1000,
    cpus: os.cpus().length,
    rounds,
    local: {
      wallMs: Math.round(localMs),
      wallMsPerRound: localRuns.map((r) => Math.round(r.ms)),
      subtasksPerMin: +((n / localMs) * 60_000).toFixed(1),
      phasesMeanMs: medianPhases(localRuns.map((r) => r.phases)),
      loadavg: localRuns.map((r) => r.load),
      cpuBusy: localRuns.map((r) => r.cpuBusy),
    },
    remote: rows,
    gitFloor: floor,
    targets: { overheadMsPerSubtask: 50, efficiencyAt4Agents: 0.9 },
  });
  console.log(`  → ${fs.existsSync(file) ? file : ''}`);
}
