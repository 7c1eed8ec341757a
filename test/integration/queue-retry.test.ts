import path from 'node:path';
import { Job, Queue } from 'bullmq';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retrySubtask } from '../../src/orchestrator/retry.js';
import { redisConnection } from '../../src/queue/connection.js';
import { subtaskJobId, subtaskQueueName } from '../../src/queue/names.js';
import type { SubtaskJob, SubtaskResult } from '../../src/queue/subtask-job.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { spawnTs, waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';
import { expectRetryResumed, retryRig, retryStatuses as statuses } from '../helpers/retry-plan.js';

/**
 * A person's retry of a failed subtask on the queue road: `run --plan` with
 * ORCHESTRATOR_QUEUE set sends every worker step to a `codex-orch agent`
 * process with its own clone (the orchestrator serves the artifact endpoint
 * itself, token from ORCHESTRATOR_ARTIFACTS_TOKEN). `bad` fails its acceptance
 * on the agent (main/ has no flag.txt yet), `dep` is blocked. The person adds
 * flag.txt, retries `bad`, and `runs resume` (the queue again) sends it as a
 * new job — a later attempt number — from main with the flag, not from the old
 * branch; it merges, then `dep` does. The failed attempt's branch is kept;
 * nothing is pushed.
 */
const TOKEN = 'queue-retry-token-0123456789abcdef';
const bases: TempBase[] = [];
const children: ChildRun[] = [];
let prefix = '';

beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  for (const b of bases) for (const line of processesIn(b.root)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  if (prefix) await dropPrefix(prefix);
  prefix = '';
  for (const b of bases.splice(0)) b.cleanup();
});

const resultsOf = (store: Store, runId: string, taskId: string) =>
  store
    .listQueueResults(runId)
    .filter((q) => q.subtaskId === taskId)
    .sort((a, b) => a.attempt - b.attempt);
const hasFile = (repo: string, commit: string, file: string) =>
  git(repo, 'ls-tree', '-r', '--name-only', commit).split('\n').includes(file);

describe('runs retry on the queue road: the retried subtask is a new job from main', { timeout: 300_000 }, () => {
  it('bad fails on the agent, dep is blocked; retry bad → resume: a new job from main with the flag; all merge once; nothing pushed', async () => {
    const r = retryRig(bases);
    prefix = uniquePrefix();
    // No settings file: agents know the repository by the base dir's name.
    const repoId = path.basename(r.t.baseDir);
    const originBefore = refsFingerprint(r.t.origin);
    const queueEnv = {
      ORCHESTRATOR_QUEUE: REDIS_URL,
      ORCHESTRATOR_QUEUE_PREFIX: prefix,
      ORCHESTRATOR_ARTIFACTS_TOKEN: TOKEN,
      ORCHESTRATOR_QUEUE_LOCK_MS: '10000',
      ORCHESTRATOR_QUEUE_STALLED_MS: '5000',
    };

    // One agent machine: its own clone of the origin; no --artifacts, so it uses the endpoint each job names.
    const repo = agentClone(r.t.root, r.t.origin, 'agent-1');
    const agent = spawnTs(['agent', '--repo', `${repoId}=${repo.clone}`, '--work-dir', repo.workDir, '--concurrency', '2', '--json'], {
      ...queueEnv,
      CODEX_BIN: PLAN_FAKE_CODEX,
      PLAN_FAKE_STATE: r.env.PLAN_FAKE_STATE,
    });
    children.push(agent);
    let agentOut = '';
    agent.child.stdout!.on('data', (c: Buffer) => (agentOut += c.toString()));
    await waitFor(() => agentOut.includes('"agent.started"'), 'the agent to start', 90_000);
    const agentLines = () =>
      agentOut
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; agentId?: string; jobId?: string });
    const agentId = agentLines().find((e) => e.event === 'agent.started')!.agentId!;
    expect(agentId).toBe(`${agentId.split(':')[0]}:${agent.child.pid}`);
    const finishedJobs = () => agentLines().flatMap((e) => (e.event === 'job.finished' && e.jobId ? [e.jobId] : []));

    const env = { ...r.env, ...queueEnv };
    const firstRun = spawnTs(['run', '--plan', r.file, '--no-review', '--json', '--max-parallel', '2'], env);
    children.push(firstRun);
    const first = await firstRun.done;
    expect(first.code, first.stderr).toBe(1);
    const runId = (JSON.parse(first.stdout) as { runId: string }).runId;

    const connection = redisConnection({ url: REDIS_URL });
    const queue = new Queue(subtaskQueueName(repoId), { connection, prefix });
    const store = openSqliteStore(r.t.stateDir);
    try {
      const job = (taskId: string, attempt: number) => Job.fromId<SubtaskJob, SubtaskResult>(queue, subtaskJobId(runId, taskId, attempt));

      // 1. The first run: ok merged, bad failed its acceptance, dep blocked; the workers ran on the agent.
      expect(statuses(store, runId)).toEqual({ ok: 'merged', bad: 'error', dep: 'blocked' });
      const okBefore = resultsOf(store, runId, 'ok');
      expect(okBefore.map((q) => [q.attempt, q.agent])).toEqual([[1, agentId]]);
      const badBefore = resultsOf(store, runId, 'bad');
      expect(badBefore.length).toBeGreaterThan(0);
      expect(badBefore.map((q) => q.attempt)).toEqual(badBefore.map((_, i) => i + 1));
      for (const q of badBefore) {
        expect(q.agent).toBe(agentId);
        expect(q.jobId).toBe(subtaskJobId(runId, 'bad', q.attempt));
      }
      expect(resultsOf(store, runId, 'dep')).toEqual([]);
      const lastFailed = badBefore.length;
      const firstBadJob = await job('bad', 1);
      expect(firstBadJob).toBeDefined();
      expect(await firstBadJob!.getState()).toBe('completed');
      expect(firstBadJob!.returnvalue.agent).toBe(agentId);
      expect(firstBadJob!.returnvalue.acceptance).toMatchObject({ command: 'test -f flag.txt', ok: false });
      // It started from main without the flag.
      expect(hasFile(r.t.main, firstBadJob!.data.baseCommit, 'flag.txt')).toBe(false);
      expect(finishedJobs()).toContain(subtaskJobId(runId, 'bad', 1));
      expect(await job('bad', lastFailed + 1)).toBeUndefined();
      const failedHead = git(r.t.main, 'rev-parse', 'refs/heads/task-bad');

      // 2. The person fixes main/ and retries bad; the run resumes on the queue road.
      r.addFlag();
      const mainWithFlag = git(r.t.main, 'rev-parse', 'HEAD');
      const retried = await retrySubtask({ store, stateDir: r.t.stateDir, runId, taskId: 'bad' });
      expect(retried).toMatchObject({ runId, taskId: 'bad', previous: 'error', unblocked: ['dep'], resumed: null });
      expect(statuses(store, runId)).toEqual({ ok: 'merged', bad: 'pending', dep: 'pending' });

      const resumeRun = spawnTs(['runs', 'resume', runId, '--json'], env);
      children.push(resumeRun);
      const resumed = await resumeRun.done;
      expectRetryResumed(resumed, r, store, runId);

      // 3. The retry went through the queue as a new job (the next attempt number), on the agent, from main with the flag.
      const badAfter = resultsOf(store, runId, 'bad');
      expect(badAfter.slice(0, lastFailed)).toEqual(badBefore);
      expect(badAfter.slice(lastFailed).map((q) => [q.attempt, q.jobId, q.agent])).toEqual([
        [lastFailed + 1, subtaskJobId(runId, 'bad', lastFailed + 1), agentId],
      ]);
      expect(resultsOf(store, runId, 'ok')).toEqual(okBefore);
      expect(resultsOf(store, runId, 'dep').map((q) => [q.attempt, q.agent])).toEqual([[1, agentId]]);
      const retryJob = await job('bad', lastFailed + 1);
      expect(retryJob).toBeDefined();
      expect(await retryJob!.getState()).toBe('completed');
      expect(retryJob!.data.attempt).toBe(lastFailed + 1);
      expect(retryJob!.data.purpose).toBe('initial');
      expect(retryJob!.data.baseCommit).toBe(mainWithFlag);
      expect(retryJob!.data.startBundle).toBeUndefined();
      expect(retryJob!.returnvalue.agent).toBe(agentId);
      expect(retryJob!.returnvalue.acceptance).toMatchObject({ command: 'test -f flag.txt', ok: true, exitCode: 0 });
      expect(finishedJobs()).toContain(subtaskJobId(runId, 'bad', lastFailed + 1));
      expect(await job('bad', lastFailed + 2)).toBeUndefined();
      // The merged bad has the flag under it and none of the failed attempt's commits.
      const mergedBad = git(r.t.main, 'log', '--first-parent', '--merges', '--grep=^Merge task-bad:', '--format=%P', 'HEAD').split(' ')[1]!;
      expect(mergedBad).toBe(retryJob!.returnvalue.headSha);
      expect(git(r.t.main, 'merge-base', mergedBad, mainWithFlag)).toBe(mainWithFlag);
      expect(() => git(r.t.main, 'merge-base', '--is-ancestor', failedHead, 'HEAD')).toThrow();

      // The failed attempt's branch is kept, at its head, with its work and without the flag.
      expect(git(r.t.main, 'branch', '--list', 'task-bad-attempt-*').trim()).toBe('task-bad-attempt-1');
      expect(git(r.t.main, 'rev-parse', 'refs/heads/task-bad-attempt-1')).toBe(failedHead);
      expect(git(r.t.main, 'show', 'task-bad-attempt-1:bad.txt')).toBe('bad');
      expect(hasFile(r.t.main, 'task-bad-attempt-1', 'flag.txt')).toBe(false);

      // 4. Nothing was pushed: the origin (the agent's clone's remote too) has the refs it had.
      expect(refsFingerprint(r.t.origin)).toBe(originBefore);
      expect(git(r.t.main, 'remote')).toBe('origin');
    } finally {
      store.close();
      await queue.close();
      connection.disconnect();
    }
  });
});
