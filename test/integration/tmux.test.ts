import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { approveMerge, pendingApprovals } from '../../src/orchestrator/approval.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { acquireRunLock, openStore, type Store } from '../../src/store/index.js';
import { CLI, REPO_ROOT, waitFor } from '../helpers/cli-child.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';

/**
 * `codex-orch runs attach` against a real tmux server on a private socket: a
 * run started without tmux gets its session later; the status window follows
 * the store, a worker window shows the worker's events as readable lines, and
 * an attached client (in a pty made by `script`) sees display-message when an
 * approval is needed.
 */
const socket = `codex-orch-test-${crypto.randomBytes(4).toString('hex')}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const children: ChildProcess[] = [];
const rigs: PlanRig[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  tmux('kill-server');
  for (const s of stores.splice(0)) s.close();
  for (const r of rigs.splice(0)) r.base.cleanup();
});

// With its history: a dead pane's closing line scrolls the screen by one.
const pane = (target: string) => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', target).stdout;

describe('tmux', { timeout: 240_000 }, () => {
  it('runs attach: a session per run with a status window and a live window per worker; display-message when approval is needed', async () => {
    const r = makePlanRig();
    rigs.push(r);
    const store = openStore({ stateDir: r.base.stateDir });
    stores.push(store);
    store.createRun({ id: r.ctx.runId, task: 'greet the world', baseDir: r.base.baseDir, status: 'running' });
    const lock = acquireRunLock(store, r.ctx.runId);
    const running = executePlan(
      plan([{ id: 'greet', title: 'Greeting', prompt: fakePrompt('Write.', { write: { 'hello.txt': 'hello\n' } }) }]),
      { ...r.ctx, store, approve: true, approvalPollMs: 25 },
    );
    await waitFor(() => pendingApprovals(store).length === 1, 'the approval request', 120_000);

    // Started without tmux: the session is made on attach.
    const attach = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'runs', 'attach', r.ctx.runId, '--state-dir', r.base.stateDir, '--socket', socket, '--json'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, TMUX: '' },
      },
    );
    expect(attach.stderr).toBe('');
    const made = JSON.parse(attach.stdout) as { session: string; created: boolean };
    expect(made).toMatchObject({ session: `codex-orch-${r.ctx.runId}`, created: true });
    const session = made.session;

    // A client in a pty, so display-message has somewhere to show; its screen goes to a file.
    const screen = path.join(r.base.root, 'screen.txt');
    const client = spawn('script', ['-qfc', `tmux -L ${socket} attach-session -t =${session}:status`, screen], {
      stdio: 'ignore',
      env: { ...process.env, TMUX: '', TERM: 'xterm' },
    });
    children.push(client);

    await waitFor(() => pane(`=${session}:status`).includes('WAITING FOR APPROVAL: greet'), 'the status window', 120_000);
    const status = pane(`=${session}:status`);
    expect(status).toContain(`run ${r.ctx.runId}  running`);
    expect(status).toMatch(/greet\s+awaiting_approval\s+task-greet/);
    expect(status).toMatch(/greet-1\s+succeeded\s+tokens 120/);

    await waitFor(
      () => tmux('list-windows', '-t', `=${session}`, '-F', '#{window_name}').stdout.split('\n').includes('greet-1'),
      'the worker window',
      60_000,
    );
    await waitFor(() => pane(`=${session}:greet-1`).includes('ended: complete'), 'the worker window text', 60_000);
    const worker = pane(`=${session}:greet-1`);
    expect(worker).toContain(`worker greet-1 of run ${r.ctx.runId}`);
    expect(worker).toMatch(/\$ edit hello\.txt → exit 0/);
    expect(worker).toMatch(/message: /);
    expect(worker).toContain('turn done — tokens in 100 (cached 0), out 20');

    await waitFor(
      () => fs.existsSync(screen) && fs.readFileSync(screen, 'utf8').includes('greet waits for your approval'),
      'the display-message on the client',
      60_000,
    );

    // Attaching again finds the same session.
    const again = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'runs', 'attach', r.ctx.runId, '--state-dir', r.base.stateDir, '--socket', socket, '--no-attach'],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TMUX: '' } },
    );
    expect(again.stdout).toContain(`found tmux session ${session}; attach with: tmux -L ${socket} attach-session -t =${session}`);

    await approveMerge(store, r.ctx.runId, 'greet');
    const result = await running;
    expect(result.allMerged).toBe(true);
    store.updateRun(r.ctx.runId, { status: 'succeeded' });
    lock.release();
    await waitFor(() => pane(`=${session}:status`).includes(`run ${r.ctx.runId}  succeeded`), 'the final status', 60_000);
    expect(pane(`=${session}:status`)).toMatch(/greet\s+merged/);
    await waitFor(() => fs.readFileSync(screen, 'utf8').includes(`run ${r.ctx.runId} succeeded`), 'the display-message of the end', 60_000);
  });

  it('run --plan --tmux: the run makes its session; the worker window shows the worker; the windows stay after the run', async () => {
    const r = makePlanRig();
    rigs.push(r);
    const manifest = path.join(r.base.root, 'plan.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        version: 1,
        task: 'greet',
        phases: [
          {
            name: 'P1',
            tasks: [
              { id: 'greet', title: 'Greeting', prompt: fakePrompt('Write.', { write: { 'hello.txt': 'hello\n' } }), files: ['hello.txt'] },
            ],
          },
        ],
      }),
    );
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'run', '--plan', manifest, '--no-review', '--tmux', '--tmux-socket', socket, '-q'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          TMUX: '',
          NO_COLOR: '1',
          ORCHESTRATOR_BASE_DIR: r.base.baseDir,
          ORCHESTRATOR_STATE_DIR: r.base.stateDir,
          CODEX_BIN: r.config.codexBin,
          ORCHESTRATOR_CODEX_ARGS: '[]',
          PLAN_FAKE_STATE: r.fakeState,
          OPENAI_AGENTS_DISABLE_TRACING: '1',
        },
      },
    );
    expect(run.status).toBe(0);
    const m = /tmux session (codex-orch-\S+): codex-orch runs attach (\S+) --socket/.exec(run.stderr);
    expect(m, run.stderr).not.toBeNull();
    const session = m![1]!;
    await waitFor(
      () => tmux('list-windows', '-t', `=${session}`, '-F', '#{window_name}').stdout.split('\n').includes('greet-1'),
      'the worker window',
      60_000,
    );
    await waitFor(() => pane(`=${session}:greet-1`).includes('ended: complete'), 'the worker window text', 60_000);
    expect(pane(`=${session}:greet-1`)).toMatch(/\$ edit hello\.txt → exit 0/);
    await waitFor(() => pane(`=${session}:status`).includes(`run ${m![2]}`), 'the status window', 60_000);
  });
});
