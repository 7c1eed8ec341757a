import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/cli-child.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';
import { startScriptedModelServer, toolOutputs, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { openSqliteStore } from '../../src/store/index.js';
import { waitFor } from '../helpers/cli-child.js';

/**
 * The real `codex-orch mcp` process over stdio, driven by the MCP SDK's own
 * client; runs it starts are real detached `codex-orch run --plan` children
 * with the plan fake codex as workers.
 */
const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
let base: TempBase;
let originRefs: string;
let client: Client;
let transport: StdioClientTransport;
let stderr = '';
let orch: ScriptedModelServer;

function serverEnv(b: TempBase): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ORCHESTRATOR_')) env[k] = v;
  return {
    ...env,
    ORCHESTRATOR_STATE_DIR: b.stateDir,
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    PLAN_FAKE_STATE: path.join(b.root, 'fake-state'),
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: orch.url,
    ORCHESTRATOR_MODEL: 'scripted-orchestrator',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
}

type ToolResult = { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: any };
const call = async (name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args }, { timeout: 70_000 })) as ToolResult;
const text = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

const LATE_PLAN = {
  task: 'Add late.txt',
  phases: [
    {
      name: 'Only',
      tasks: [
        {
          id: 'late',
          title: 'Write late.txt',
          kind: 'feature',
          prompt: fakePrompt('Write late.txt.', { write: { 'late.txt': 'late\n' } }),
          files: ['late.txt'],
          dependsOn: [],
          acceptance: null,
        },
      ],
    },
  ],
};

const STOP_PLAN = {
  task: 'Add stop.txt',
  phases: [
    {
      name: 'Only',
      tasks: [
        {
          id: 'stop',
          title: 'Write stop.txt',
          kind: 'feature',
          prompt: fakePrompt('Write stop.txt.', { write: { 'stop.txt': 'stop\n' } }),
          files: ['stop.txt'],
          dependsOn: [],
          acceptance: null,
        },
      ],
    },
  ],
};
const fileTask = (id: string, extra: object = {}) => ({
  id,
  title: `Task ${id}`,
  kind: 'feature',
  prompt: fakePrompt(`Do ${id}.`, { write: { [`${id}.txt`]: `${id}\n` } }),
  files: [`${id}.txt`],
  dependsOn: [],
  acceptance: null,
  ...extra,
});
/** A manifest task as a person writes one for `run --plan` (the optional fields left out). */
const manifestTask = (id: string, extra: object = {}) => {
  const { kind: _kind, acceptance: _acceptance, dependsOn: _dependsOn, ...rest } = fileTask(id);
  return { ...rest, ...extra };
};
const TWO_PLAN = { task: 'two files', phases: [{ name: 'P1', tasks: [fileTask('a'), fileTask('b', { dependsOn: ['a'] })] }] };
let asked = 0;
let resumed = false;

beforeAll(async () => {
  // The orchestrator model of task runs: submit a plan, run it, finish (slowly, so the client is gone first).
  orch = await startScriptedModelServer((r) => {
    if ((r.body.instructions ?? '').includes('You are the Reviewer'))
      return { text: JSON.stringify({ verdict: 'approve', comments: 'fine', risk: 'low' }) };
    const done = toolOutputs(r.body).size;
    const stopMe = JSON.stringify(r.body.input ?? '').includes('STOPME');
    if (stopMe && done === 0 && !resumed) {
      asked += 1;
      return { text: 'never seen: the run is stopped first', delayMs: 30_000 };
    }
    if (JSON.stringify(r.body.input ?? '').includes('TWOFILES')) {
      if (done === 0) return { toolCalls: [{ name: 'submit_plan', arguments: TWO_PLAN }] };
      if (done === 1) return { toolCalls: [{ name: 'run_plan', arguments: {} }] };
      return { text: 'Done: a and b merged.' };
    }
    if (done === 0) return { toolCalls: [{ name: 'submit_plan', arguments: stopMe ? STOP_PLAN : LATE_PLAN }], delayMs: 1500 };
    if (done === 1) return { toolCalls: [{ name: 'run_plan', arguments: {} }] };
    return { text: 'Done.' };
  });
  base = makeTempBase({ 'README.md': '# sample\n' });
  originRefs = refsFingerprint(base.origin);
  transport = new StdioClientTransport({
    command: tsx,
    args: [CLI, 'mcp', '--base-dir', base.baseDir],
    env: serverEnv(base),
    cwd: base.root,
    stderr: 'pipe',
  });
  (transport.stderr as NodeJS.ReadableStream | null)?.on('data', (c: Buffer) => (stderr += c.toString()));
  client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(transport);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await orch?.close();
  if (base) {
    expect(refsFingerprint(base.origin)).toBe(originRefs);
    base.cleanup();
  }
});

describe('codex-orch mcp over stdio', { timeout: 240_000 }, () => {
  it('lists every tool with an input schema; the read-only ones say so', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const n of [
      'start_run',
      'get_run',
      'wait_run',
      'list_runs',
      'get_diff',
      'approve_merge',
      'reject_merge',
      'stop_run',
      'resume_run',
      'retry_subtask',
      'check_command',
    ]) {
      expect(byName[n], n).toBeDefined();
      expect(byName[n]!.inputSchema.type).toBe('object');
    }
    for (const n of ['get_run', 'wait_run', 'list_runs', 'get_diff', 'check_command'])
      expect(byName[n]!.annotations?.readOnlyHint, n).toBe(true);
    for (const n of ['start_run', 'approve_merge', 'reject_merge', 'stop_run', 'resume_run', 'retry_subtask'])
      expect(byName[n]!.annotations?.readOnlyHint, n).toBe(false);
  });

  it('check_command: a push is denied, git status is allowed; nothing runs', async () => {
    const push = await call('check_command', { worktree: 'main', command: 'git push origin main' });
    expect(push.isError).toBeFalsy();
    expect(push.structuredContent).toMatchObject({ allowed: false });
    expect(push.structuredContent.rule).toMatch(/git/);
    const status = await call('check_command', { worktree: 'main', command: 'git status' });
    expect(status.structuredContent).toMatchObject({ allowed: true });
    expect(text(status)).toMatch(/^allowed/);
  });

  it('malformed arguments and unknown runs are tool errors with one line; the server stays up', async () => {
    const bad = await call('check_command', { worktree: 5 });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/worktree/);
    const both = await call('start_run', { task: 'x', plan: { version: 1 } });
    expect(both.isError).toBe(true);
    expect(text(both)).toMatch(/either task or plan/);
    const badPlan = await call('start_run', {
      plan: { version: 1, task: 't', phases: [{ name: 'P', tasks: [{ id: 'a', title: 'A', prompt: '' }] }] },
    });
    expect(badPlan.isError).toBe(true);
    expect(text(badPlan)).toMatch(/phases\[0\]\.tasks\[0\]\.prompt/);
    const wait = await call('wait_run', { runId: 'x', timeoutSeconds: 999 });
    expect(wait.isError).toBe(true);
    const none = await call('get_run', { runId: 'no-such-run' });
    expect(none.isError).toBe(true);
    expect(text(none)).toMatch(/no run|no run store/);
    expect(text(none).split('\n')).toHaveLength(1);
    // still answering
    expect((await call('check_command', { worktree: 'main', command: 'ls' })).structuredContent.allowed).toBe(true);
  });

  it('start_run a plan object: the plan runs to its end in its own process, with no model', async () => {
    const started = await call('start_run', {
      plan: {
        version: 1,
        task: 'two files over mcp',
        phases: [{ name: 'P1', tasks: [manifestTask('p1'), manifestTask('p2', { dependsOn: ['p1'] })] }],
      },
      review: false,
      maxParallel: 2,
    });
    expect(started.isError, text(started) + stderr).toBeFalsy();
    const runId = started.structuredContent.runId as string;
    const report = path.join(base.stateDir, 'runs', runId, 'report.json');
    await waitFor(() => fs.existsSync(report), `the plan run's report (${started.structuredContent.log})`, 180_000);
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    expect(r.status).toBe('succeeded');
    expect(r.plan.result.subtasks.map((t: any) => [t.id, t.status])).toEqual([
      ['p1', 'merged'],
      ['p2', 'merged'],
    ]);
    expect(fs.readFileSync(path.join(base.main, 'p2.txt'), 'utf8')).toBe('p2\n');
    // retry_subtask refuses what is merged or not there, in one line, like runs retry.
    const merged = await call('retry_subtask', { runId, task: 'p1' });
    expect(merged.isError).toBe(true);
    expect(text(merged)).toMatch(/^retry_subtask: subtask p1 of run \S+ is merged already; there is nothing to retry$/);
    const unknown = await call('retry_subtask', { runId, task: 'nope' });
    expect(text(unknown)).toMatch(/^retry_subtask: run \S+ has no subtask nope \(its subtasks: p1, p2\)$/);
  });

  it('start_run with approve: wait_run returns for the waiting merge; reject_merge sends it back, approve_merge merges it', async () => {
    const started = await call('start_run', {
      plan: { version: 1, task: 'one gated file', phases: [{ name: 'P1', tasks: [manifestTask('g1')] }] },
      review: false,
      approve: true,
    });
    expect(started.isError, text(started) + stderr).toBeFalsy();
    const runId = started.structuredContent.runId as string;
    const waitAttention = async () => {
      for (let i = 0; i < 6; i++) {
        const w = await call('wait_run', { runId, timeoutSeconds: 30 });
        expect(w.isError, text(w)).toBeFalsy();
        if (w.structuredContent.reason === 'attention') return w;
      }
      throw new Error('wait_run never reported the waiting merge');
    };
    const first = await waitAttention();
    expect(JSON.stringify(first.structuredContent)).toContain('waits for approval');
    const noNote = await call('reject_merge', { runId, task: 'g1', note: '' });
    expect(noNote.isError).toBe(true);
    const rejected = await call('reject_merge', { runId, task: 'g1', note: 'add a second line' });
    expect(rejected.isError, text(rejected)).toBeFalsy();
    expect(rejected.structuredContent).toMatchObject({ taskId: 'g1', decision: 'rejected' });
    await waitAttention();
    const approved = await call('approve_merge', { runId, task: 'g1' });
    expect(approved.isError, text(approved)).toBeFalsy();
    expect(approved.structuredContent).toMatchObject({ taskId: 'g1', decision: 'approved' });
    for (let i = 0; i < 6; i++) {
      const w = await call('wait_run', { runId, timeoutSeconds: 30 });
      if (w.structuredContent.reason === 'ended') break;
    }
    const run = await call('get_run', { runId });
    expect(run.structuredContent.subtasks.map((t: any) => [t.id, t.status])).toEqual([['g1', 'merged']]);
  });

  it('start_run budgets reach the run: a worker budget of 1 stops a 2-subtask plan after the first', async () => {
    const started = await call('start_run', {
      plan: {
        version: 1,
        task: 'budgeted',
        phases: [{ name: 'P1', tasks: [manifestTask('q1'), manifestTask('q2', { dependsOn: ['q1'] })] }],
      },
      review: false,
      budgets: { maxWorkers: 1 },
    });
    expect(started.isError, text(started)).toBeFalsy();
    const report = path.join(base.stateDir, 'runs', started.structuredContent.runId as string, 'report.json');
    await waitFor(() => fs.existsSync(report), `the plan run's report (${started.structuredContent.log})`, 180_000);
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    expect(r.status).not.toBe('succeeded');
    expect(JSON.stringify(r.plan.result.stoppedBy)).toMatch(/worker/);
    expect(fs.existsSync(path.join(base.main, 'q2.txt'))).toBe(false);
  });

  it('start_run a task, wait_run until it ends, get_run shows every subtask merged, get_diff returns the diff', async () => {
    const started = await call('start_run', { task: 'TWOFILES: add a.txt and b.txt' });
    expect(started.isError, text(started) + stderr).toBeFalsy();
    const runId = started.structuredContent.runId as string;
    expect(runId).toMatch(/\S/);

    let waited: ToolResult;
    for (let i = 0; ; i++) {
      waited = await call('wait_run', { runId, timeoutSeconds: 20 });
      expect(waited.isError, text(waited)).toBeFalsy();
      if (waited.structuredContent.reason === 'ended') break;
      expect(i, `run still ${waited.structuredContent.run.status}: ${fs.readFileSync(started.structuredContent.log, 'utf8')}`).toBeLessThan(
        10,
      );
    }
    expect(waited.structuredContent.run.status, fs.readFileSync(started.structuredContent.log, 'utf8')).toBe('succeeded');

    const shown = await call('get_run', { runId });
    expect(shown.structuredContent.run.id).toBe(runId);
    expect(shown.structuredContent.subtasks.map((t: any) => [t.id, t.status])).toEqual([
      ['a', 'merged'],
      ['b', 'merged'],
    ]);
    expect(shown.structuredContent.merges.filter((m: any) => m.outcome === 'merged').map((m: any) => m.branch)).toEqual([
      'task-a',
      'task-b',
    ]);
    expect(shown.structuredContent.cost.tokens.workers).toBeGreaterThan(0);
    expect(shown.structuredContent.mergeQueue).toEqual([]);
    expect(text(shown)).toMatch(/succeeded/);

    const diff = await call('get_diff', { runId, task: 'b' });
    expect(diff.isError, text(diff)).toBeFalsy();
    expect(diff.structuredContent).toMatchObject({ task: 'b', branch: 'task-b', source: 'merged' });
    expect(diff.structuredContent.files.map((f: any) => f.path)).toEqual(['b.txt']);
    expect(diff.structuredContent.diff).toContain('+b');
    expect(diff.structuredContent.head).toBe(git(base.main, 'log', '--merges', '-1', '--format=%H'));

    const missing = await call('get_diff', { runId, task: 'zz' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/no subtask "zz".*a, b/);

    const listed = await call('list_runs', {});
    expect(listed.structuredContent.runs.map((r: any) => r.id)).toContain(runId);
    expect(fs.readFileSync(path.join(base.main, 'b.txt'), 'utf8')).toBe('b\n');
  });

  it('a run started over MCP goes on after the client and the server have exited', async () => {
    const own = new Client({ name: 'short-lived', version: '1.0.0' });
    const t = new StdioClientTransport({
      command: tsx,
      args: [CLI, 'mcp', '--base-dir', base.baseDir],
      env: serverEnv(base),
      cwd: base.root,
      stderr: 'ignore',
    });
    await own.connect(t);
    const started = (await own.callTool({ name: 'start_run', arguments: { task: 'Add late.txt' } }, { timeout: 70_000 })) as ToolResult;
    expect(started.isError, text(started)).toBeFalsy();
    const runId = started.structuredContent.runId as string;
    const serverPid = t.pid;
    await own.close();
    // The server is gone; the run is not.
    await waitFor(
      () => {
        try {
          process.kill(serverPid!, 0);
          return false;
        } catch {
          return true;
        }
      },
      'the MCP server to exit',
      30_000,
    );
    await waitFor(() => fs.existsSync(path.join(base.main, 'late.txt')), 'the run to merge late.txt', 180_000);
    const store = openSqliteStore(base.stateDir);
    try {
      await waitFor(() => store.requireRun(runId).status !== 'running', 'the run to end', 60_000);
      expect(store.requireRun(runId).status).toBe('succeeded');
      expect(store.requireRun(runId).task).toBe('Add late.txt');
    } finally {
      store.close();
    }
  });

  it('stop_run stops a live run (it records its state); resume_run continues it to the end', async () => {
    const started = await call('start_run', { task: 'STOPME add stop.txt' });
    expect(started.isError, text(started)).toBeFalsy();
    const runId = started.structuredContent.runId as string;
    await waitFor(() => asked > 0, 'the run to ask its model', 120_000);
    const live = await call('get_run', { runId });
    expect(live.structuredContent.live).toBe(true);
    expect(live.structuredContent.run.status).toBe('running');

    const stopped = await call('stop_run', { runId });
    expect(stopped.isError, text(stopped)).toBeFalsy();
    expect(stopped.structuredContent.stopped).toBe(true);
    expect(['aborted', 'interrupted']).toContain(stopped.structuredContent.status);
    const again = await call('stop_run', { runId });
    expect(again.isError).toBe(true);
    expect(text(again)).toMatch(/is not running/);

    resumed = true;
    const resumedRun = await call('resume_run', { runId });
    expect(resumedRun.isError, text(resumedRun)).toBeFalsy();
    let waited: ToolResult;
    for (let i = 0; ; i++) {
      waited = await call('wait_run', { runId, timeoutSeconds: 30 });
      if (waited.structuredContent?.reason === 'ended') break;
      expect(i, text(waited)).toBeLessThan(8);
    }
    expect(waited.structuredContent.run.status, fs.readFileSync(resumedRun.structuredContent.log, 'utf8')).toBe('succeeded');
    expect(fs.readFileSync(path.join(base.main, 'stop.txt'), 'utf8')).toBe('stop\n');
    const finished = await call('resume_run', { runId });
    expect(finished.isError).toBe(true);
    expect(text(finished)).toMatch(/already succeeded/);
  });
});
