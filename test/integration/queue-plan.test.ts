import fs from 'node:fs';
import path from 'node:path';
import { Job, Queue } from 'bullmq';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { remoteLauncher } from '../../src/orchestrator/plan/remote-worker-step.js';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../../src/queue/artifacts.js';
import { redisConnection } from '../../src/queue/connection.js';
import { subtaskJobId, subtaskQueueName } from '../../src/queue/names.js';
import { RemoteWorkers } from '../../src/queue/remote-workers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git, refsFingerprint } from '../helpers/git-repo.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, dropPrefix, requireRedis, spawnAgent, uniquePrefix } from '../helpers/queue-env.js';

/**
 * A 6-subtask plan whose worker steps run on three `codex-orch agent`
 * processes, each with its own clone (fake codex), while review and the merge
 * queue stay here: every branch comes back as a bundle and merges; main ends
 * up the same as a local run of the same plan; nothing is pushed anywhere.
 */
const TOKEN = 'plan-queue-token-0123456789abcdef';
const rigs: PlanRig[] = [];
const agents: ChildRun[] = [];
let server: ArtifactServer | undefined;
let remote: RemoteWorkers | undefined;
let store: Store | undefined;
let prefix = '';

beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  await remote?.close();
  for (const a of agents.splice(0)) if (a.child.exitCode === null) a.child.kill('SIGKILL');
  await server?.close();
  await dropPrefix(prefix);
  store?.close();
  for (const r of rigs.splice(0)) {
    for (const line of processesIn(r.base.root)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    r.base.cleanup();
  }
  remote = undefined;
});

const SIX = () =>
  plan([
    {
      id: 'a',
      title: 'Add a',
      prompt: fakePrompt('Write a.', { write: { 'src/a.txt': 'a\n' } }),
      files: ['src/a.txt'],
      acceptance: 'test -f src/a.txt',
    },
    { id: 'b', title: 'Add b', prompt: fakePrompt('Write b.', { write: { 'src/b.txt': 'b\n' } }), files: ['src/b.txt'] },
    { id: 'c', title: 'Add c', prompt: fakePrompt('Write c.', { write: { 'src/c.txt': 'c\n' } }), files: ['src/c.txt'] },
    { id: 'd', title: 'Add d', prompt: fakePrompt('Write d.', { write: { 'docs/d.md': 'd\n' } }), files: ['docs/d.md'], dependsOn: ['a'] },
    { id: 'e', title: 'Add e', prompt: fakePrompt('Write e.', { write: { 'docs/e.md': 'e\n' } }), files: ['docs/e.md'], dependsOn: ['b'] },
    {
      id: 'f',
      title: 'Add f',
      prompt: fakePrompt('Write f.', { write: { 'docs/f.md': 'f\n' }, commit: true }),
      files: ['docs/f.md'],
      dependsOn: ['c'],
    },
  ]);

function rig(): PlanRig {
  const r = makePlanRig({ settings: { setup: ['true'], repo: 'sample' } });
  rigs.push(r);
  return r;
}

const tree = (dir: string) => git(dir, 'ls-tree', '-r', '--name-only', 'HEAD').split('\n').sort();

describe('plan subtasks on agent machines', () => {
  it('6 subtasks over 3 agents: every branch comes back as a bundle and merges; main equals a local run; nothing pushed', async () => {
    // The local run of the same plan, for comparison.
    const local = rig();
    const localResult = await executePlan(SIX(), { ...local.ctx, maxParallel: 3 });
    expect(localResult.allMerged).toBe(true);

    const r = rig();
    prefix = uniquePrefix();
    const originBefore = refsFingerprint(r.base.origin);
    server = await startArtifactServer({ dir: path.join(r.base.stateDir, 'artifacts'), token: TOKEN });
    const outs: (() => string)[] = [];
    for (const name of ['agent-1', 'agent-2', 'agent-3']) {
      const a = spawnAgent({
        root: r.base.root,
        origin: r.base.origin,
        name,
        prefix,
        artifacts: server.url,
        token: TOKEN,
        fakeState: r.fakeState,
      });
      outs.push(a.out);
      agents.push(a);
    }
    await waitFor(() => outs.every((o) => o().includes('"agent.started"')), 'three agents to start', 90_000);

    store = openStore({ memory: true });
    store.createRun({ id: r.ctx.runId, task: 'six', baseDir: r.base.baseDir });
    remote = new RemoteWorkers({
      url: REDIS_URL,
      prefix,
      repoId: 'sample',
      mainDir: r.base.main,
      store,
      artifacts: new HttpArtifactStore(server.url, TOKEN),
      artifactsLocation: server.url,
      pollMs: 100,
    });
    await remote.ready();
    const events: RunEvent[] = [];
    // A review here, on this machine: it sees each branch's diff although the branch has no worktree here.
    const reviewed = new Map<string, string[]>();
    const result = await executePlan(SIX(), {
      ...r.ctx,
      review: async (input) => {
        reviewed.set(
          input.subtask.id,
          input.diff.files.map((f) => `${f.status} ${f.path} +${f.additions ?? '?'}`),
        );
        return { verdict: 'approve', comments: 'ok', risk: 'low', tokens: { input: 0, output: 0 } };
      },
      maxParallel: 3,
      launcher: remoteLauncher(remote),
      store,
      onEvent: (e) => events.push(e),
    });
    expect(result.left).toEqual([]);
    expect(result.allMerged).toBe(true);
    expect(result.merges.map((m) => m.taskId).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // Same files in main as the local run; one merge commit per subtask.
    expect(tree(r.base.main)).toEqual(tree(local.base.main));
    expect(git(r.base.main, 'log', '--merges', '--format=%s').split('\n')).toHaveLength(6);
    // Every subtask's worker ran on an agent, and more than one agent did work.
    const accepted = store.listQueueResults(r.ctx.runId);
    expect(accepted.map((q) => q.subtaskId).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(new Set(accepted.map((q) => q.agent)).size).toBeGreaterThan(1);
    // The agents' clones never pushed; their origin (the same bare repo) is untouched, and so are main's remotes.
    expect(refsFingerprint(r.base.origin)).toBe(originBefore);
    expect(git(r.base.main, 'remote')).toBe('origin');
    // The acceptance command ran on an agent (recorded as such in the decisions).
    const decisions = fs.readFileSync(path.join(r.ctx.runDir, 'decisions.jsonl'), 'utf8');
    expect(decisions).toContain('on the agent');
    // Nothing was checked out here for work done elsewhere: each subtask got its branch alone, never a local worktree.
    const schedule = decisions
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; action: string; taskId?: string })
      .filter((d) => d.kind === 'schedule' && (d.action === 'branch' || d.action === 'worktree'));
    expect(schedule.map((d) => `${d.taskId}:${d.action}`).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => `${id}:branch`));
    expect(result.worktreesCreated).toEqual([]);
    expect(Object.fromEntries(reviewed)).toEqual({
      a: ['A src/a.txt +1'],
      b: ['A src/b.txt +1'],
      c: ['A src/c.txt +1'],
      d: ['A docs/d.md +1'],
      e: ['A docs/e.md +1'],
      f: ['A docs/f.md +1'],
    });
    // Jobs carry the plan's longest remaining path as their BullMQ priority (1 is the highest): a subtask others wait
    // for goes before a leaf.
    const connection = redisConnection({ url: REDIS_URL });
    const queue = new Queue(subtaskQueueName('sample'), { connection, prefix });
    try {
      const priorityOf = async (id: string) => (await Job.fromId(queue, subtaskJobId(r.ctx.runId, id, 1)))?.opts.priority;
      const [pa, pd] = [await priorityOf('a'), await priorityOf('d')];
      expect(pa).toBeGreaterThan(0);
      expect(pd).toBeGreaterThan(pa!);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    // The agents' workers are seen here as they work (the live view, the store's events, the budget): their commands,
    // their token usage, and the agents' own stages.
    const activity = events.flatMap((e) => (e.type === 'worker.activity' ? [{ taskId: e.taskId, a: e.activity }] : []));
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const mine = activity.filter((x) => x.taskId === id).map((x) => x.a);
      expect(mine.some((a) => a.kind === 'command' && a.text.startsWith('edit '))).toBe(true);
      expect(mine.some((a) => a.kind === 'usage' && a.usage.input === 100)).toBe(true);
      expect(mine.some((a) => a.kind === 'tool' && /^agent \S+: (preparing|bundling)/.test(a.text))).toBe(true);
    }
  }, 300_000);
});
