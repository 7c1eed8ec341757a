import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  inputText,
  startScriptedModelServer,
  toolOutputs,
  type ScriptedModelServer,
  type ScriptedRequest,
} from '../../src/demo/scripted-model-server.js';
import { openSqliteStore } from '../../src/store/index.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/**
 * `codex-orch dispatch --github octo/app --label codex` end to end: a fake `gh`
 * first on PATH, real orchestrator runs (the real Agents SDK loop against a
 * scripted model that submits and runs a plan), the plan fake codex as
 * workers, real git. The work lands in the local main/; origin is untouched.
 */
const FAKE_GH = fileURLToPath(new URL('../fixtures/bin/fake-gh', import.meta.url));
const REVIEWER = 'You are the Reviewer';

interface Rig {
  t: TempBase;
  orch: ScriptedModelServer;
  env: NodeJS.ProcessEnv;
  ghState: string;
  ghLog: string;
  originRefs: string;
}
const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.orch.close();
    expect(refsFingerprint(r.t.origin)).toBe(r.originRefs);
    r.t.cleanup();
  }
});

const plan = (id: string, file: string) => ({
  task: `write ${file}`,
  phases: [
    {
      name: 'Only',
      tasks: [
        {
          id,
          title: `Write ${file}`,
          kind: 'feature',
          prompt: fakePrompt(`Write ${file}.`, { write: { [file]: `${id}\n` } }),
          files: [file],
          dependsOn: [],
          acceptance: `test -f ${file}`,
        },
      ],
    },
  ],
});

async function rig(issues: object[]): Promise<Rig> {
  const t = makeTempBase();
  const bin = path.join(t.root, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(FAKE_GH, path.join(bin, 'gh'));
  const ghState = path.join(t.root, 'gh-state.json');
  const ghLog = path.join(t.root, 'gh-calls.jsonl');
  fs.writeFileSync(ghState, JSON.stringify({ repo: 'octo/app', issues, permissions: { alice: 'admin' } }));
  // Per issue: submit a plan writing <issue>.txt, run it, finish; an issue saying FAILME gets a 400 from the model.
  const orch = await startScriptedModelServer((r: ScriptedRequest) => {
    if ((r.body.instructions ?? '').includes(REVIEWER))
      return { text: JSON.stringify({ verdict: 'approve', comments: 'fine', risk: 'low' }) };
    const text = inputText(r.body);
    if (text.includes('FAILME')) return { status: 400 };
    const n = /octo\/app#(\d+)/.exec(text)?.[1] ?? '0';
    const done = toolOutputs(r.body).size;
    if (done === 0)
      return {
        toolCalls: [{ name: 'submit_plan', arguments: plan(`issue-${n}`, `issue-${n}.txt`) }],
        delayMs: text.includes('SLOW') ? 4000 : 0,
      };
    if (done === 1) return { toolCalls: [{ name: 'run_plan', arguments: {} }] };
    return { text: 'Done.' };
  });
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    FAKE_GH_STATE: ghState,
    FAKE_GH_LOG: ghLog,
    GH_BIN: '',
    ORCHESTRATOR_BASE_DIR: '',
    ORCHESTRATOR_STATE_DIR: '',
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: orch.url,
    ORCHESTRATOR_MODEL: 'scripted-orchestrator',
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
    PLAN_FAKE_STATE: path.join(t.root, 'fake-state'),
  };
  const r = { t, orch, env, ghState, ghLog, originRefs: refsFingerprint(t.origin) };
  rigs.push(r);
  return r;
}

const ghState = (r: Rig) =>
  JSON.parse(fs.readFileSync(r.ghState, 'utf8')) as {
    issues: { number: number; labels: string[] }[];
    comments?: { issue: number; body: string; edits: number }[];
  };

describe('codex-orch dispatch --github', { timeout: 300_000 }, () => {
  it('claims the labelled issues, runs them, merges into the local main/ only, reports on each issue; a failing one gets :failed with the reason', async () => {
    const r = await rig([
      { number: 5, title: 'Add issue-5.txt', body: 'Please add the file.', labels: ['codex'], author: 'alice' },
      { number: 6, title: 'Broken', body: 'FAILME', labels: ['codex'], author: 'alice' },
    ]);
    const run = spawnTs(['dispatch', '--github', 'octo/app', '--label', 'codex', '--base-dir', r.t.baseDir, '--json'], r.env);
    const out = await run.done;
    expect(out.code, out.stderr).toBe(1); // one task failed
    const summary = JSON.parse(out.stdout);
    expect(summary.rows.map((x: any) => [x.id, x.status])).toEqual([
      ['gh.octo.app.5', 'succeeded'],
      ['gh.octo.app.6', 'failed'],
    ]);
    expect(out.stderr).toMatch(/github octo\/app: #5 claimed as gh\.octo\.app\.5/);

    const s = ghState(r);
    expect(s.issues.find((i) => i.number === 5)!.labels).toEqual(['codex:done']);
    expect(s.issues.find((i) => i.number === 6)!.labels).toEqual(['codex:failed']);
    const c5 = s.comments!.filter((c) => c.issue === 5);
    expect(c5).toHaveLength(1);
    expect(c5[0]!.edits).toBeGreaterThanOrEqual(2); // running, done
    const mergeSha = git(r.t.main, 'log', '--merges', '-1', '--format=%H');
    const runId = summary.rows[0].runId as string;
    expect(c5[0]!.body).toContain(`run=${runId}`);
    expect(c5[0]!.body).toContain(mergeSha.slice(0, 10));
    expect(c5[0]!.body).toContain('`issue-5.txt`');
    expect(c5[0]!.body).toContain('`issue-5` merged');
    expect(c5[0]!.body).toMatch(/Nothing was pushed/);
    expect(c5[0]!.body).toContain(r.t.main);
    const c6 = s.comments!.filter((c) => c.issue === 6);
    expect(c6[0]!.body).toMatch(/\*\*Failed\*\*: .*400/);

    // The work is in the local main/; the run record names the issue and its URL.
    expect(fs.readFileSync(path.join(r.t.main, 'issue-5.txt'), 'utf8')).toBe('issue-5\n');
    const store = openSqliteStore(path.join(r.t.baseDir, '.codex-orchestrator'));
    try {
      const rec = store.requireRun(runId);
      expect(rec.task).toContain('GitHub issue octo/app#5: Add issue-5.txt');
      expect(rec.task).toContain('https://github.com/octo/app/issues/5');
    } finally {
      store.close();
    }

    // A second dispatch finds nothing to do.
    const again = await spawnTs(['dispatch', '--github', 'octo/app', '--label', 'codex', '--base-dir', r.t.baseDir, '--json'], r.env).done;
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).total).toBe(0);
  });

  it('gh not logged in: exit 2 with one clear line, nothing claimed', async () => {
    const r = await rig([{ number: 5, title: 't', body: 'b', labels: ['codex'], author: 'alice' }]);
    const s = JSON.parse(fs.readFileSync(r.ghState, 'utf8'));
    s.auth = false;
    fs.writeFileSync(r.ghState, JSON.stringify(s));
    const out = await spawnTs(['dispatch', '--github', 'octo/app', '--label', 'codex', '--base-dir', r.t.baseDir], r.env).done;
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/gh is not logged in to GitHub.*gh auth login/);
    expect(ghState(r).issues[0]!.labels).toEqual(['codex']);
    const noLabel = await spawnTs(['dispatch', '--github', 'octo/app', '--base-dir', r.t.baseDir], r.env).done;
    expect(noLabel.code).toBe(2);
    expect(noLabel.stderr).toMatch(/needs --label/);
  });

  it('a dispatcher killed mid-run: the restarted one takes the issue back, runs it to the end, and edits the same comment', async () => {
    const r = await rig([{ number: 8, title: 'Add issue-8.txt', body: 'SLOW please', labels: ['codex'], author: 'alice' }]);
    const args = ['dispatch', '--github', 'octo/app', '--label', 'codex', '--base-dir', r.t.baseDir, '--json'];
    const first = spawnTs(args, r.env);
    let exited = false;
    void first.done.then(() => (exited = true));
    // Killed while its run waits for the (slow) first model answer.
    await waitFor(
      () => exited || r.orch.requests.some((q) => JSON.stringify(q.body.input ?? '').includes('octo/app#8')),
      'the run to ask the model',
      120_000,
    );
    expect(exited).toBe(false);
    first.child.kill('SIGKILL');
    await first.done;
    expect(ghState(r).issues[0]!.labels).toEqual(['codex:running']);
    expect(fs.existsSync(path.join(r.t.main, 'issue-8.txt'))).toBe(false);

    const second = await spawnTs(args, r.env).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/#8 was claimed by an earlier dispatcher that stopped; offering it again as gh\.octo\.app\.8/);
    expect(JSON.parse(second.stdout).rows.map((x: any) => [x.id, x.status])).toEqual([['gh.octo.app.8', 'succeeded']]);
    const s = ghState(r);
    expect(s.issues[0]!.labels).toEqual(['codex:done']);
    const comments = s.comments!.filter((c) => c.issue === 8);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/Done/);
    expect(fs.readFileSync(path.join(r.t.main, 'issue-8.txt'), 'utf8')).toBe('issue-8\n');
    expect(git(r.t.main, 'log', '--merges', '--format=%s').split('\n').filter(Boolean)).toHaveLength(1);
  });
});
