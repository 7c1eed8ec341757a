import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, spawnTs, waitFor } from '../helpers/cli-child.js';
import { git, makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/** The approval flow through the CLI: run --plan --approve waits; runs list / diff / approve / reject from another process. */
const bases: TempBase[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) b.cleanup();
});

function env(base: TempBase): NodeJS.ProcessEnv {
  return {
    ORCHESTRATOR_STATE_DIR: base.stateDir,
    ORCHESTRATOR_BASE_DIR: base.baseDir,
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    PLAN_FAKE_STATE: path.join(base.root, 'fake-state'),
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
}

function cli(base: TempBase, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env(base) },
  });
}

describe('codex-orch run --approve', { timeout: 240_000 }, () => {
  it('stops before the merge; runs list shows it; runs diff shows the branch; reject sends the note back; approve merges', async () => {
    const base = makeTempBase();
    bases.push(base);
    const manifest = path.join(base.root, 'plan.json');
    const prompt = fakePrompt('Write a greeting.', { write: { 'hello.txt': 'helo\n' }, onResume: { 'hello.txt': 'hello\n' } });
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        version: 1,
        task: 'greet',
        phases: [{ name: 'P1', tasks: [{ id: 'greet', title: 'Greeting', prompt, files: ['hello.txt'] }] }],
      }),
    );
    const run = spawnTs(['run', '--plan', manifest, '--no-review', '--approve'], env(base));
    let runId = '';
    await waitFor(
      () => {
        const r = cli(base, ['runs', 'approvals', '--json']);
        const pending = r.status === 0 ? (JSON.parse(r.stdout) as { pending: { runId: string }[] }).pending : [];
        runId = pending[0]?.runId ?? '';
        return pending.length === 1;
      },
      'the approval request',
      120_000,
    );

    const list = cli(base, ['runs', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${runId}\\s+running \\(1 to approve\\)`));
    const listJson = JSON.parse(cli(base, ['runs', 'list', '--json']).stdout) as { runs: { id: string; awaitingApproval: number }[] };
    expect(listJson.runs[0]).toMatchObject({ id: runId, awaitingApproval: 1 });

    expect(cli(base, ['runs', 'show', runId]).stdout).toContain(`waiting for approval: greet — codex-orch runs diff ${runId} greet`);
    const stat = cli(base, ['runs', 'diff', runId, 'greet', '--stat']);
    expect(stat.status).toBe(0);
    expect(stat.stdout).toContain(' hello.txt | 1 +');
    expect(stat.stdout).toContain('1 file changed, 1 insertion(+), 0 deletions(-)');
    const diff = cli(base, ['runs', 'diff', runId]);
    expect(diff.stdout).toContain('+++ b/hello.txt');
    expect(diff.stdout).toContain('+helo');
    const json = JSON.parse(cli(base, ['runs', 'diff', runId, 'task-greet', '--json']).stdout) as {
      subtasks: { files: { path: string; hunks: { lines: unknown[] }[] }[] }[];
    };
    expect(json.subtasks[0]!.files[0]).toMatchObject({
      path: 'hello.txt',
      status: 'added',
      additions: 1,
      hunks: [{ oldStart: 0, newStart: 1, lines: [{ kind: 'add', text: 'helo' }] }],
    });

    const bad = cli(base, ['runs', 'approve', runId, 'nope']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([`codex-orch: run ${runId} has no subtask nope (its subtasks: greet)`]);
    const noNote = cli(base, ['runs', 'reject', runId, 'greet']);
    expect(noNote.status).toBe(2);

    const reject = cli(base, ['runs', 'reject', runId, 'greet', '--note', 'spell it hello']);
    expect(reject.status).toBe(0);
    expect(reject.stdout).toContain('rejected greet of run');
    await waitFor(
      () => {
        const r = cli(base, ['runs', 'approvals', runId, '--json']);
        return (
          r.status === 0 &&
          (JSON.parse(r.stdout) as { pending: unknown[] }).pending.length === 1 &&
          cli(base, ['runs', 'diff', runId, 'greet']).stdout.includes('+hello')
        );
      },
      'the request after the rework',
      120_000,
    );
    const approve = cli(base, ['runs', 'approve', runId, 'greet']);
    expect(approve.status).toBe(0);
    expect(approve.stdout).toContain('the run merges it now');
    const done = await run.done;
    expect(done.stderr).toContain('codex-orch: greet waits for your approval: codex-orch runs diff');
    expect(done.code).toBe(0);
    expect(fs.readFileSync(path.join(base.main, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(git(base.main, 'log', '--first-parent', '--oneline').split('\n')).toHaveLength(2);
    const again = cli(base, ['runs', 'approve', runId, 'greet']);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('is not waiting for approval (it is merged)');
  });
});
