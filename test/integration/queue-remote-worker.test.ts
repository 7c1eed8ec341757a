import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { abortConflictRework, createWorktree, prepareSmokeRework } from '../../src/git/index.js';
import { startAgent, type AgentHandle } from '../../src/queue/agent.js';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { HttpArtifactStore } from '../../src/queue/artifacts.js';
import { RemoteWorkers } from '../../src/queue/remote-workers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';

/**
 * The subtask queue end to end on the real Redis: an agent (here in-process)
 * with its own clone takes a job, runs the plan fake codex and the acceptance
 * command, and returns the branch as a bundle through the artifact endpoint;
 * the orchestrator side verifies it and moves the local branch forward.
 */
const TOKEN = 'test-artifacts-token-0123456789';
let base: TempBase;
let server: ArtifactServer;
let agent: AgentHandle | undefined;
let remote: RemoteWorkers | undefined;
let store: Store;
let prefix: string;
let originRefs: string;

beforeAll(async () => {
  await requireRedis();
});

afterEach(async () => {
  await remote?.close();
  await agent?.close(true);
  await server?.close();
  await dropPrefix(prefix);
  expect(refsFingerprint(base.origin)).toBe(originRefs);
  store?.close();
  base.cleanup();
  agent = undefined;
  remote = undefined;
});
afterAll(() => undefined);

async function setup() {
  base = makeTempBase({ 'README.md': '# sample\n', 'lib/keep.txt': 'keep\n' });
  prefix = uniquePrefix();
  // A commit the origin (and so the agent's clone) does not have: the agent must get it from the base bundle.
  fs.writeFileSync(path.join(base.main, 'local.txt'), 'only on this machine\n');
  git(base.main, 'add', '-A');
  git(base.main, 'commit', '-q', '-m', 'local commit, not pushed');
  originRefs = refsFingerprint(base.origin);
  const fakeState = path.join(base.root, 'fake-state');
  const config = loadConfig({
    env: {},
    dotenvDir: null,
    overrides: { ORCHESTRATOR_STATE_DIR: path.join(base.root, 'agent-state'), CODEX_BIN: PLAN_FAKE_CODEX },
  });
  server = await startArtifactServer({ dir: path.join(base.stateDir, 'artifacts'), token: TOKEN });
  const repo = agentClone(base.root, base.origin, 'agent1');
  const agentOrigin = refsFingerprint(base.origin);
  agent = await startAgent({
    config,
    policy: loadPolicy(config.policyFile),
    url: REDIS_URL,
    prefix,
    repos: [{ id: 'sample', ...repo }],
    artifacts: new HttpArtifactStore(server.url, TOKEN),
    lockMs: 10_000,
    stalledMs: 5_000,
    workerEnv: { PLAN_FAKE_STATE: fakeState },
  });
  store = openStore({ memory: true });
  const run = store.createRun({ task: 'queue test', baseDir: base.baseDir });
  remote = new RemoteWorkers({
    url: REDIS_URL,
    prefix,
    repoId: 'sample',
    mainDir: base.main,
    store,
    artifacts: new HttpArtifactStore(server.url, TOKEN),
    artifactsLocation: server.url,
    pollMs: 100,
  });
  await remote.ready();
  return { runId: run.id, repo, agentOrigin, fakeState };
}

describe('the subtask queue', () => {
  it('runs a subtask on an agent and brings its branch back as a bundle; a duplicate completion changes nothing', async () => {
    const { runId, repo } = await setup();
    const baseCommit = git(base.main, 'rev-parse', 'HEAD');
    expect(() => git(repo.clone, 'cat-file', '-e', `${baseCommit}^{commit}`)).toThrow();
    const req = {
      runId,
      taskId: 'lib-a',
      slug: 'lib-a',
      purpose: 'initial',
      prompt: fakePrompt('Write lib/a.txt.', { write: { 'lib/a.txt': 'a\n' } }),
      setup: ['true'],
      acceptance: 'test -f lib/a.txt',
      commitMessage: 'feature: Add a (lib-a)',
      baseCommit,
      branch: 'task-lib-a',
    };
    const progress: string[] = [];
    const out = await remote!.run(req, { onProgress: (p) => progress.push(p.stage) });
    expect(out.duplicate).toBe(false);
    expect(out.attempt).toBe(1);
    expect(out.result.worker.status).toBe('complete');
    expect(out.result.worker.goalMet).toBe(true);
    expect(out.result.acceptance).toMatchObject({ command: 'test -f lib/a.txt', ok: true, exitCode: 0 });
    expect(out.result.setup).toEqual([{ command: 'true', ok: true, exitCode: 0, log: '' }]);
    // The branch is here now, on top of the base commit, with the worker's file; SHAs preserved.
    expect(out.branchHead).toBe(out.result.headSha);
    expect(git(base.main, 'rev-parse', 'task-lib-a')).toBe(out.result.headSha);
    expect(git(base.main, 'merge-base', 'task-lib-a', 'main')).toBe(baseCommit);
    expect(git(base.main, 'show', 'task-lib-a:lib/a.txt')).toBe('a');
    expect(git(base.main, 'log', '-1', '--format=%s', 'task-lib-a')).toBe('feature: Add a (lib-a)');
    // main/ itself is untouched: same HEAD, clean, no private refs left behind.
    expect(git(base.main, 'rev-parse', 'HEAD')).toBe(baseCommit);
    expect(git(base.main, 'status', '--porcelain')).toBe('');
    expect(git(base.main, 'for-each-ref', 'refs/codex-orch/')).toBe('');
    // The agent got the base commit from the bundle, not from a remote.
    expect(git(repo.clone, 'cat-file', '-t', baseCommit)).toBe('commit');
    expect(git(repo.clone, 'remote')).toBe('origin');
    // …and left no private ref of that fetch in the clone (a long-running agent would pile them up).
    expect(git(repo.clone, 'for-each-ref', 'refs/codex-orch/')).toBe('');
    expect(progress).toContain('worker');
    expect(progress.at(-1)).toBe('done');

    // The same job's result delivered again: fenced by the store, the branch does not move.
    const again = await remote!.collect(req, 1);
    expect(again.duplicate).toBe(true);
    expect(git(base.main, 'rev-parse', 'task-lib-a')).toBe(out.result.headSha);
    expect(store.listQueueResults(runId)).toHaveLength(1);
  });

  it('reworks on the branch so far: the next attempt starts from the bundle of the branch and moves it forward', async () => {
    const { runId } = await setup();
    const baseCommit = git(base.main, 'rev-parse', 'HEAD');
    const common = { runId, taskId: 't', slug: 't', setup: [], commitMessage: 'feature: t (t)', baseCommit, branch: 'task-t' };
    const first = await remote!.run({ ...common, purpose: 'initial', prompt: fakePrompt('Write one.', { write: { 'one.txt': '1\n' } }) });
    const second = await remote!.run({
      ...common,
      purpose: 'review',
      prompt: fakePrompt('Write two.', { write: { 'two.txt': '2\n' } }),
      acceptance: 'test -f one.txt && test -f two.txt',
    });
    expect(second.attempt).toBe(2);
    expect(second.result.acceptance?.ok).toBe(true);
    expect(git(base.main, 'merge-base', '--is-ancestor', first.result.headSha!, 'task-t')).toBe('');
    expect(git(base.main, 'ls-tree', '--name-only', 'task-t').split('\n')).toEqual(
      expect.arrayContaining(['one.txt', 'two.txt', 'local.txt']),
    );
  });

  it('smoke rework with conflicts: the agent restores the reverted branch, its worker resolves the markers, the restore comes back as one commit', async () => {
    const { runId } = await setup();
    // main: shared.txt; the branch changes it and adds a broken file; merged, reverted after a failed smoke test; later work changes the same line.
    fs.writeFileSync(path.join(base.main, 'shared.txt'), 'base\n');
    git(base.main, 'add', '-A');
    git(base.main, 'commit', '-q', '-m', 'shared');
    git(base.main, 'branch', 'task-sm');
    const wt = await createWorktree(base.baseDir, 'sm');
    fs.writeFileSync(path.join(wt.path, 'shared.txt'), 'from sm\n');
    fs.writeFileSync(path.join(wt.path, 'sm.txt'), 'BROKEN\n');
    git(wt.path, 'add', '-A');
    git(wt.path, 'commit', '-q', '-m', 'feature: sm (sm)');
    git(base.main, 'merge', '--no-ff', '-q', '-m', 'Merge task-sm: sm', 'task-sm');
    git(base.main, 'revert', '-m', '1', '--no-edit', 'HEAD');
    const revertSha = git(base.main, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(base.main, 'shared.txt'), 'from later\n');
    git(base.main, 'commit', '-q', '-am', 'later work on the same line');

    // Here, as the merge step does it: restoring conflicts, so it is undone and the restore goes to the agent.
    const sr = await prepareSmokeRework(base.baseDir, 'sm', { revertSha });
    expect(sr).toMatchObject({ status: 'conflict', files: ['shared.txt'], revertSha });
    if (sr.status !== 'conflict') throw new Error('expected a conflict');
    await abortConflictRework(base.baseDir, 'sm');
    const start = git(base.main, 'rev-parse', 'task-sm');
    const baseCommit = git(base.main, 'merge-base', 'main', 'task-sm');
    expect(baseCommit).toBe(git(base.main, 'rev-parse', 'main'));

    const out = await remote!.run({
      runId,
      taskId: 'sm',
      slug: 'sm',
      purpose: 'smoke',
      prompt: `This continues earlier work on this task. ${fakePrompt('Fix sm.', { onResume: { 'sm.txt': 'fixed\n' } })}`,
      setup: [],
      commitMessage: 'feature: sm (sm)',
      baseCommit,
      branch: 'task-sm',
      worktree: wt.path,
      revert: { commit: sr.revertSha, message: sr.message },
    });
    expect(out.result.unresolved).toEqual([]);
    expect(out.result.worker.status).toBe('complete');
    // One restore commit on top of the branch, with the message the local rework gives it; both sides kept, the fix in.
    expect(git(base.main, 'rev-parse', 'task-sm^')).toBe(start);
    expect(git(base.main, 'log', '-1', '--format=%s', 'task-sm')).toBe(sr.message);
    const shared = git(base.main, 'show', 'task-sm:shared.txt');
    expect(shared).toContain('from sm');
    expect(shared).toContain('from later');
    expect(shared).not.toMatch(/^(<{7}|={7}|>{7})/m);
    expect(git(base.main, 'show', 'task-sm:sm.txt')).toBe('fixed');
    // The worker was told which files the restore left conflicted; the local worktree followed the branch and is clean.
    const calls = fs
      .readFileSync(path.join(base.root, 'fake-state', 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { prompt: string });
    expect(calls.at(-1)?.prompt).toMatch(/restoring your reverted work on this branch left conflicts .*: shared\.txt/);
    expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(out.result.headSha);
    expect(git(wt.path, 'status', '--porcelain')).toBe('');
    // A second prepare finds the restore already done (its message), so a later smoke rework does not restore twice.
    expect(await prepareSmokeRework(base.baseDir, 'sm', { revertSha })).toMatchObject({ status: 'ready', alreadyPrepared: true });
  });

  it('a worker that changes nothing returns no bundle and leaves no branch', async () => {
    const { runId } = await setup();
    const baseCommit = git(base.main, 'rev-parse', 'HEAD');
    const out = await remote!.run({
      runId,
      taskId: 'n',
      slug: 'n',
      purpose: 'initial',
      prompt: fakePrompt('Do nothing.', {}),
      setup: [],
      commitMessage: 'x',
      baseCommit,
      branch: 'task-n',
    });
    expect(out.result.headSha).toBeNull();
    expect(out.result.bundle).toBeUndefined();
    expect(out.branchHead).toBeNull();
  });
});
