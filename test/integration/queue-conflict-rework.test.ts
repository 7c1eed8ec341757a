import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { manifestSchema } from '../../src/scheduler/index.js';
import { remoteLauncher } from '../../src/orchestrator/plan/remote-worker-step.js';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../../src/queue/artifacts.js';
import { RemoteWorkers } from '../../src/queue/remote-workers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git } from '../helpers/git-repo.js';
import { SMOKE_SCRIPT, fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, spawnAgent, uniquePrefix } from '../helpers/queue-env.js';

/**
 * Conflict rework in a queue run goes back to the agents: two subtasks that
 * both add shared.txt, over one `codex-orch agent` process. The first merges;
 * the second conflicts, so its rework is a new job (the branch bundle as its
 * start, main's head to merge first); the agent merges main into the branch,
 * its worker resolves the markers, the agent commits the merge, and the run
 * merges both.
 */
const TOKEN = 'conflict-queue-token-0123456789abcdef';
let r: PlanRig | undefined;
let agent: ChildRun | undefined;
let server: ArtifactServer | undefined;
let remote: RemoteWorkers | undefined;
let store: Store | undefined;
let prefix = '';

beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  await remote?.close();
  if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
  await server?.close();
  await dropPrefix(prefix);
  store?.close();
  if (r) {
    for (const line of processesIn(r.base.root)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    r.base.cleanup();
  }
  r = undefined;
  remote = undefined;
  agent = undefined;
});

/** One `codex-orch agent` process with its own clone of r's origin, and the RemoteWorkers of the run (the store's run made). */
async function agentAndRemote(rig: PlanRig): Promise<{ repo: ReturnType<typeof agentClone>; remote: RemoteWorkers; store: Store }> {
  prefix = uniquePrefix();
  server = await startArtifactServer({ dir: path.join(rig.base.stateDir, 'artifacts'), token: TOKEN });
  const a = spawnAgent({
    root: rig.base.root,
    origin: rig.base.origin,
    name: 'agent-1',
    prefix,
    artifacts: server.url,
    token: TOKEN,
    fakeState: rig.fakeState,
    concurrency: 2,
  });
  agent = a;
  const repo = { clone: a.clone, workDir: a.workDir };
  await waitFor(() => a.out().includes('"agent.started"'), 'the agent to start', 90_000);

  store = openStore({ memory: true });
  store.createRun({ id: rig.ctx.runId, task: 'conflict', baseDir: rig.base.baseDir });
  remote = new RemoteWorkers({
    url: REDIS_URL,
    prefix,
    repoId: 'sample',
    mainDir: rig.base.main,
    store,
    artifacts: new HttpArtifactStore(server.url, TOKEN),
    artifactsLocation: server.url,
    pollMs: 100,
  });
  await remote.ready();
  return { repo, remote, store };
}

describe('conflict rework on agent machines', () => {
  it('the conflicting subtask goes back to the queue with main to merge; the agent resolves it and the run merges both', async () => {
    r = makePlanRig({ settings: { repo: 'sample' } });
    const { repo, remote, store } = await agentAndRemote(r);
    // The plan does not say they overlap (so they run at once; the barrier makes sure), but both add shared.txt.
    const barrier = { name: 'both', count: 2 };
    const both = plan([
      {
        id: 'a',
        title: 'Add a',
        prompt: fakePrompt('Write a.', { write: { 'a.txt': 'a\n', 'shared.txt': 'from a\n' }, barrier }),
        files: ['a.txt'],
      },
      {
        id: 'b',
        title: 'Add b',
        prompt: fakePrompt('Write b.', { write: { 'b.txt': 'b\n', 'shared.txt': 'from b\n' }, barrier }),
        files: ['b.txt'],
      },
    ]);
    const result = await executePlan(both, { ...r.ctx, maxParallel: 2, launcher: remoteLauncher(remote), store });
    expect(result.left).toEqual([]);
    expect(result.allMerged).toBe(true);
    expect(result.merges.map((m) => m.taskId).sort()).toEqual(['a', 'b']);

    // Both sides' lines are in main, without markers.
    const shared = fs.readFileSync(path.join(r.base.main, 'shared.txt'), 'utf8');
    expect(shared).toContain('from a');
    expect(shared).toContain('from b');
    expect(shared).not.toMatch(/^(<{7}|={7}|>{7})/m);

    // The rework was a second job of the subtask that conflicted, run by the agent (its identity committed the merge of main).
    const decisions = readDecisions(r.ctx.runDir);
    const conflict = decisions.find((d) => d.kind === 'merge' && d.action === 'rework-conflict');
    expect(conflict?.reason).toContain('an agent merges');
    const reworked = conflict!.taskId!;
    const accepted = store.listQueueResults(r.ctx.runId);
    expect(accepted.filter((q) => q.subtaskId === reworked).map((q) => q.attempt)).toEqual([1, 2]);
    expect(accepted.filter((q) => q.subtaskId !== reworked).map((q) => q.attempt)).toEqual([1]);
    const log = git(r.base.main, 'log', '--format=%an|%s', 'main');
    expect(log).toMatch(new RegExp(`^Agent User\\|merge main into ${reworked} `, 'm'));
    // The rework worker ran in the agent's work dir and was told which files conflict.
    const calls = fs
      .readFileSync(path.join(r.fakeState, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { prompt: string; cwd: string });
    const rework = calls.find((c) => c.prompt.includes('conflicts in'));
    expect(rework?.cwd.startsWith(fs.realpathSync(repo.workDir)) || rework?.cwd.startsWith(repo.workDir)).toBe(true);
    expect(rework?.prompt).toContain('shared.txt');
    // A new thread on the agent has not seen the task: it comes with the rework, with what the first worker said it did.
    expect(rework?.prompt).toContain('This continues earlier work on this task');
    expect(rework?.prompt).toContain('The task, as it was given:');
    expect(rework?.prompt).toContain(`Write ${reworked}. PLANFAKE`);
    expect(rework?.prompt).toMatch(/What the earlier worker said it did:\nedited /);
    // Nothing of the rework is left unfinished here: main's checkout is clean.
    expect(git(r.base.main, 'status', '--porcelain')).toBe('');
  }, 300_000);

  it('a failed smoke test whose restore conflicts with later work goes to an agent: it restores the branch, its worker resolves the markers and fixes the cause, the run merges', async () => {
    r = makePlanRig({
      files: { 'smoke.mjs': SMOKE_SCRIPT, 'shared.txt': 'base\n' },
      settings: { repo: 'sample', smoke: 'node smoke.mjs' },
    });
    const work = plan([
      {
        id: 'a',
        title: 'Add a',
        prompt: fakePrompt('Write a.', { write: { 'a.txt': 'BROKEN\n', 'shared.txt': 'from a\n' }, onResume: { 'a.txt': 'fixed\n' } }),
        files: ['a.txt', 'shared.txt'],
      },
    ]);
    // 1. The worker runs here; the run stops when the subtask is complete, before its merge.
    const stop = new AbortController();
    const first = await executePlan(work, {
      ...r.ctx,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'subtask.status' && e.taskId === 'a' && e.status === 'complete') stop.abort();
      },
    });
    expect(first.left).toEqual([expect.objectContaining({ id: 'a', status: 'complete' })]);
    const saved = () => manifestSchema.parse(JSON.parse(fs.readFileSync(first.manifestFile, 'utf8')));
    // 2. Merge only: the smoke test fails (a.txt is BROKEN), the merge is reverted, the rework is left for a worker.
    const merging = await executePlan(saved(), { ...r.ctx, mergeOnly: true });
    expect(merging.allMerged).toBe(false);
    expect(git(r.base.main, 'log', '-1', '--format=%s')).toMatch(/^Revert "Merge task-a/);
    // 3. Later work on main changes the line the subtask changed: restoring the branch on top of it conflicts.
    fs.writeFileSync(path.join(r.base.main, 'shared.txt'), 'later\n');
    git(r.base.main, 'commit', '-q', '-am', 'later work on shared.txt');
    // 4. Resumed with agents: the smoke rework, restore conflicts included, runs on the agent.
    const { remote, store } = await agentAndRemote(r);
    const result = await executePlan(saved(), { ...r.ctx, launcher: remoteLauncher(remote), store });
    expect(result.left).toEqual([]);
    expect(result.allMerged).toBe(true);
    const shared = fs.readFileSync(path.join(r.base.main, 'shared.txt'), 'utf8');
    expect(shared).toContain('from a');
    expect(shared).toContain('later');
    expect(shared).not.toMatch(/^(<{7}|={7}|>{7})/m);
    expect(fs.readFileSync(path.join(r.base.main, 'a.txt'), 'utf8')).toBe('fixed\n');
    const decisions = readDecisions(r.ctx.runDir);
    const rework = decisions.find((d) => d.kind === 'merge' && d.action === 'rework-smoke');
    expect(rework?.reason).toContain('an agent restores it');
    // The agent committed the restore with the message a local rework gives it, and the merge after it passed the smoke test.
    expect(git(r.base.main, 'log', '--format=%an|%s', 'task-a')).toMatch(
      /^Agent User\|Restore task-a after revert [0-9a-f]{10} \(smoke-test rework\)/m,
    );
    expect(store.listQueueResults(r.ctx.runId).map((q) => q.subtaskId)).toEqual(['a']);
    expect(git(r.base.main, 'status', '--porcelain')).toBe('');
  }, 300_000);
});
