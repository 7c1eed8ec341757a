import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor, type ChildRun } from '../helpers/cli-child.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';
import { processesIn } from '../helpers/processes.js';
import { REDIS_URL, agentClone, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';

/**
 * `codex-orch run --plan` with ORCHESTRATOR_QUEUE set: the worker steps go to
 * three `codex-orch agent` processes. The orchestrator is SIGKILLed while they
 * work; the agents finish meanwhile (bundles into a shared artifact
 * directory); `codex-orch runs resume <id>` collects those results instead of
 * redoing them, and every subtask is merged exactly once.
 */
let base: TempBase | undefined;
let prefix = '';
const children: ChildRun[] = [];

beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  if (base) for (const line of processesIn(base.root)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  await dropPrefix(prefix);
  base?.cleanup();
  base = undefined;
});

describe('the orchestrator killed while agents work', () => {
  it('runs resume collects the results that finished meanwhile; nothing is redone or merged twice', async () => {
    base = makeTempBase({ 'README.md': '# sample\n', '.codex-orchestrator.json': '{"repo": "sample"}\n' });
    prefix = uniquePrefix();
    const fakeState = path.join(base.root, 'fake-state');
    const artifacts = path.join(base.root, 'shared-artifacts');
    const originBefore = refsFingerprint(base.origin);
    const ids = ['a', 'b', 'c'];
    const planFile = path.join(base.root, 'plan.json');
    fs.writeFileSync(
      planFile,
      JSON.stringify({
        version: 1,
        task: 'three files',
        phases: [
          {
            name: 'one',
            tasks: ids.map((id) => ({
              id,
              title: `Add ${id}`,
              prompt: fakePrompt(`Write ${id}.`, { write: { [`${id}.txt`]: `${id}\n` }, sleepMs: 4000 }),
              files: [`${id}.txt`],
            })),
          },
        ],
      }),
    );
    const queueEnv = {
      ORCHESTRATOR_QUEUE: REDIS_URL,
      ORCHESTRATOR_QUEUE_PREFIX: prefix,
      ORCHESTRATOR_ARTIFACTS: artifacts,
      ORCHESTRATOR_QUEUE_LOCK_MS: '10000',
      ORCHESTRATOR_QUEUE_STALLED_MS: '5000',
    };
    const agentOut: (() => string)[] = [];
    for (const name of ['agent-1', 'agent-2', 'agent-3']) {
      const repo = agentClone(base.root, base.origin, name);
      const a = spawnTs(['agent', '--repo', `sample=${repo.clone}`, '--work-dir', path.join(base.root, name, 'work'), '--json'], {
        ...queueEnv,
        CODEX_BIN: PLAN_FAKE_CODEX,
        PLAN_FAKE_STATE: fakeState,
      });
      let out = '';
      a.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      agentOut.push(() => out);
      children.push(a);
    }
    await waitFor(() => agentOut.every((o) => o().includes('"agent.started"')), 'three agents to start', 90_000);

    const env = { ...queueEnv, ORCHESTRATOR_STATE_DIR: base.stateDir };
    const run = spawnTs(
      ['run', '--plan', planFile, '--no-review', '--base-dir', base.baseDir, '--max-parallel', '3', '--no-progress'],
      env,
    );
    children.push(run);
    const started = () => agentOut.reduce((n, o) => n + (o().match(/"job\.started"/g)?.length ?? 0), 0);
    const finished = () => agentOut.reduce((n, o) => n + (o().match(/"job\.finished"/g)?.length ?? 0), 0);
    await waitFor(() => started() === 3, 'all three jobs taken by agents', 90_000);
    run.child.kill('SIGKILL');
    await run.done;
    // The agents go on without the orchestrator and finish (their bundles land in the shared directory).
    await waitFor(() => finished() === 3, 'the agents to finish the three jobs', 90_000);
    const store = openSqliteStore(base.stateDir);
    const runId = store.listRuns()[0]!.id;
    expect(store.listQueueResults(runId)).toHaveLength(0);
    store.close();

    const resume = spawnTs(['runs', 'resume', runId, '--base-dir', base.baseDir, '--no-progress'], env);
    children.push(resume);
    const r = await resume.done;
    expect(r.code, r.stderr).toBe(0);

    const after = openSqliteStore(base.stateDir);
    const accepted = after.listQueueResults(runId);
    // Exactly the three jobs of the killed run: collected, none started again (every attempt is 1).
    expect(accepted.map((q) => [q.subtaskId, q.attempt]).sort()).toEqual(ids.map((id) => [id, 1]));
    expect(finished()).toBe(3);
    after.close();
    const merges = git(base.main, 'log', '--merges', '--format=%s').split('\n').filter(Boolean).sort();
    expect(merges).toEqual(['Merge task-a: Add a', 'Merge task-b: Add b', 'Merge task-c: Add c']);
    for (const id of ids) expect(fs.readFileSync(path.join(base.main, `${id}.txt`), 'utf8')).toBe(`${id}\n`);
    expect(refsFingerprint(base.origin)).toBe(originBefore);
  }, 300_000);
});
