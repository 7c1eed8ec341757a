import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { remoteLauncher } from '../../src/orchestrator/plan/remote-worker-step.js';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../../src/queue/artifacts.js';
import { RemoteWorkers } from '../../src/queue/remote-workers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { spawnTs, waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt, makePlanRig, plan, readDecisions, type PlanRig } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';

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

describe('conflict rework on agent machines', () => {
  it('the conflicting subtask goes back to the queue with main to merge; the agent resolves it and the run merges both', async () => {
    r = makePlanRig({ settings: { repo: 'sample' } });
    prefix = uniquePrefix();
    server = await startArtifactServer({ dir: path.join(r.base.stateDir, 'artifacts'), token: TOKEN });
    const repo = agentClone(r.base.root, r.base.origin, 'agent-1');
    agent = spawnTs(
      [
        'agent',
        '--queue',
        REDIS_URL,
        '--prefix',
        prefix,
        '--repo',
        `sample=${repo.clone}`,
        '--artifacts',
        server.url,
        '--work-dir',
        repo.workDir,
        '--concurrency',
        '2',
        '--json',
      ],
      {
        ORCHESTRATOR_ARTIFACTS_TOKEN: TOKEN,
        CODEX_BIN: PLAN_FAKE_CODEX,
        PLAN_FAKE_STATE: r.fakeState,
        ORCHESTRATOR_QUEUE_LOCK_MS: '10000',
        ORCHESTRATOR_QUEUE_STALLED_MS: '5000',
      },
    );
    let out = '';
    agent.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('"agent.started"'), 'the agent to start', 90_000);

    store = openStore({ memory: true });
    store.createRun({ id: r.ctx.runId, task: 'conflict', baseDir: r.base.baseDir });
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
});
