import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../../src/queue/artifacts.js';
import { RemoteWorkers, type RemoteWorkRequest } from '../../src/queue/remote-workers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { fakePrompt } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, dropPrefix, requireRedis, spawnAgent, uniquePrefix } from '../helpers/queue-env.js';

/**
 * `codex-orch agent` as real processes on the real Redis: an agent SIGKILLed
 * mid-subtask (its job stalls and another agent retries it), and a Redis
 * server restarted while a job runs (everyone reconnects, the work completes).
 */
const TOKEN = 'agents-test-token-0123456789abcdef';
let base: TempBase | undefined;
let server: ArtifactServer | undefined;
let remote: RemoteWorkers | undefined;
let store: Store | undefined;
let prefix = '';
let redisUrl = REDIS_URL;
const agents: ChildRun[] = [];
/** What the orchestrator side told its live view (RemoteWorkers' onStatus). */
let statusLines: string[] = [];
const others: ChildProcess[] = [];

beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  await remote?.close();
  for (const a of agents.splice(0)) if (a.child.exitCode === null) a.child.kill('SIGKILL');
  await server?.close();
  if (base) for (const line of processesIn(base.root)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  await dropPrefix(prefix, redisUrl).catch(() => undefined);
  for (const o of others.splice(0)) if (o.exitCode === null) o.kill('SIGKILL');
  store?.close();
  base?.cleanup();
  base = undefined;
  remote = undefined;
  redisUrl = REDIS_URL;
});

function startAgentProcess(name: string, env: NodeJS.ProcessEnv = {}): ChildRun {
  const run = spawnAgent({
    root: base!.root,
    origin: base!.origin,
    name,
    prefix,
    artifacts: server!.url,
    token: TOKEN,
    fakeState: path.join(base!.root, 'fake-state'),
    url: redisUrl,
    env: {
      ORCHESTRATOR_QUEUE_LOCK_MS: '3000',
      ORCHESTRATOR_QUEUE_STALLED_MS: '1000',
      ORCHESTRATOR_WORKER_STALL_SECONDS: '600',
      ...env,
    },
  });
  agents.push(run);
  return run;
}

const stdoutOf = (r: ChildRun) => {
  let out = '';
  r.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return () => out;
};

async function setup(url = REDIS_URL) {
  redisUrl = url;
  statusLines = [];
  base = makeTempBase({ 'README.md': '# sample\n' });
  prefix = uniquePrefix();
  server = await startArtifactServer({ dir: path.join(base.stateDir, 'artifacts'), token: TOKEN });
  store = openStore({ memory: true });
  const run = store.createRun({ task: 'agents', baseDir: base.baseDir });
  remote = new RemoteWorkers({
    url,
    prefix,
    repoId: 'sample',
    mainDir: base.main,
    store,
    artifacts: new HttpArtifactStore(server.url, TOKEN),
    artifactsLocation: server.url,
    pollMs: 100,
    onStatus: (line) => statusLines.push(line),
  });
  await remote.ready();
  const request = (over: Partial<RemoteWorkRequest> = {}): RemoteWorkRequest => ({
    runId: run.id,
    taskId: 'a',
    slug: 'a',
    purpose: 'initial',
    prompt: fakePrompt('Write a.txt.', { write: { 'a.txt': 'a\n' }, stallIfEnv: 'STALL_ON_THIS_AGENT' }),
    setup: [],
    acceptance: 'test -f a.txt',
    commitMessage: 'feature: a (a)',
    baseCommit: git(base!.main, 'rev-parse', 'HEAD'),
    branch: 'task-a',
    ...over,
  });
  return { runId: run.id, request, originRefs: refsFingerprint(base.origin) };
}

describe('codex-orch agent processes', () => {
  it('an agent whose codex cannot run stops at start with one line (exit 5), before it takes any job', async () => {
    base = makeTempBase();
    prefix = uniquePrefix();
    server = await startArtifactServer({ dir: path.join(base.stateDir, 'artifacts'), token: TOKEN });
    const missing = path.join(base.root, 'no-such-codex');
    const run = startAgentProcess('agent-nocodex', { CODEX_BIN: missing });
    const end = await run.done;
    expect(end.code).toBe(5);
    expect(end.stderr).toContain(missing);
    expect(end.stderr).not.toMatch(/\n\s+at /); // one line, no stack
    expect(end.stdout).not.toContain('"agent.started"');
  });

  it('an agent SIGKILLed mid-subtask: the job stalls, another agent retries it, one result accepted', async () => {
    const { request, runId, originRefs } = await setup();
    const doomed = startAgentProcess('agent-doomed', { STALL_ON_THIS_AGENT: '1' });
    const doomedOut = stdoutOf(doomed);
    await waitFor(() => doomedOut().includes('"agent.started"'), 'the first agent to start', 60_000);
    const pending = remote!.run(request());
    await waitFor(() => doomedOut().includes('"job.started"'), 'the first agent to take the job', 60_000);
    // Its worker is stuck (the fake codex stalls there); the agent dies with it.
    doomed.child.kill('SIGKILL');
    const survivor = startAgentProcess('agent-survivor');
    const out = await pending;
    expect(out.result.worker.status).toBe('complete');
    expect(out.result.agent).not.toContain(String(doomed.child.pid));
    expect(out.result.acceptance?.ok).toBe(true);
    expect(git(base!.main, 'show', 'task-a:a.txt')).toBe('a');
    expect(store!.listQueueResults(runId)).toHaveLength(1);
    expect(refsFingerprint(base!.origin)).toBe(originRefs);
    // The orchestrator said so while it waited: the job stalled and went to another agent.
    expect(statusLines.some((l) => l.startsWith(`job ${out.jobId} stalled:`))).toBe(true);
    survivor.child.kill('SIGTERM');
  }, 180_000);

  it('Redis restarted while a job runs: agent and orchestrator reconnect and the subtask completes', async () => {
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'redis-restart-'));
    const startRedis = () => {
      const p = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
        { stdio: 'ignore' },
      );
      others.push(p);
      return p;
    };
    let redis = startRedis();
    const url = `redis://127.0.0.1:${port}`;
    await waitUntilConnectable(port);
    const { request } = await setup(url);
    const agent = startAgentProcess('agent-1');
    const agentOut = stdoutOf(agent);
    await waitFor(() => agentOut().includes('"agent.started"'), 'the agent to start', 60_000);
    // The worker waits at a barrier nobody else reaches until the test lets it go (a file it polls).
    const gate = path.join(base!.root, 'fake-state', 'barrier-restart');
    const pending = remote!.run(
      request({ prompt: fakePrompt('Write a.txt.', { write: { 'a.txt': 'a\n' }, barrier: { name: 'restart', count: 2 } }) }),
    );
    await waitFor(() => fs.existsSync(gate) && fs.readdirSync(gate).length === 1, 'the worker to reach the barrier', 60_000);
    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    await new Promise((r) => setTimeout(r, 1_500));
    redis = startRedis();
    await waitUntilConnectable(port);
    fs.writeFileSync(path.join(gate, 'released-by-test'), '');
    const out = await pending;
    expect(out.result.worker.status).toBe('complete');
    expect(git(base!.main, 'show', 'task-a:a.txt')).toBe('a');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitUntilConnectable(port: number): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`redis-server on port ${port} did not come up (is redis-server on PATH?)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
