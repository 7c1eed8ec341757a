import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { openDispatchLedger, taskContentId, type InboxResult } from '../../src/dispatcher/index.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

/**
 * The real CLI in a child process (`codex-orch dispatch`), with the real
 * makeRunTask → runOrchestrator → Agents SDK run loop, driven by the scripted
 * model server of the demo on 127.0.0.1. No test hook in the product: the
 * "long run" is a model turn the server holds until the test lets it go.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; exit: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit };
}

describe('dispatch --watch: SIGTERM mid-run, then the task runs again (real CLI, real orchestrator, scripted model)', () => {
  let t: TempBase;
  let server: ScriptedModelServer;
  let hold = true;
  const held: (() => void)[] = [];

  beforeEach(async () => {
    t = makeTempBase();
    hold = true;
    server = await startScriptedModelServer(async () => {
      if (hold) {
        // The run is "working": this model turn does not come back until the test says so.
        await new Promise<void>((resolve) => held.push(resolve));
      }
      return { text: 'Nothing to change: the task is done.' };
    });
  });
  afterEach(async () => {
    for (const r of held.splice(0)) r();
    await server.close();
    t.cleanup();
  });

  const env = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    CODEX_HOME: path.join(t.root, 'codex-home'),
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: server.url,
    ORCHESTRATOR_MODEL: 'scripted-orchestrator',
    ORCHESTRATOR_STATE_DIR: t.stateDir,
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  });

  it('stops on SIGTERM with exit 130, puts the file back and marks it interrupted; the next dispatch runs it; a re-drop is a duplicate', async () => {
    const inbox = path.join(t.root, 'inbox');
    fs.mkdirSync(inbox);
    const text = 'Say whether the README needs a title';
    fs.writeFileSync(path.join(inbox, 'task.md'), text);
    const id = taskContentId(text);

    // 1. Long-running dispatcher; SIGTERM while the run waits for its model.
    const first = runCli(['dispatch', '--watch', '--inbox', inbox, '--poll-ms', '50', '--base-dir', t.baseDir], env());
    await vi.waitFor(
      () => {
        if (server.requests.length === 0) throw new Error('no model request yet');
      },
      { timeout: 60_000, interval: 50 },
    );
    expect(fs.readdirSync(path.join(inbox, 'processing')).sort()).toEqual(['task.md', 'task.md.claim.json']);
    first.child.kill('SIGTERM');
    const stopped = await first.exit;
    expect(stopped.stderr).toContain('stopping: no new tasks will start');
    expect(stopped.stderr).toMatch(
      /stopped: 0 finished \(0 succeeded, 0 failed\); 1 interrupted \(state recorded; runs \S+; they run again when offered again, inbox files are back in the inbox\)/,
    );
    expect(stopped.code).toBe(130);
    expect(fs.readdirSync(inbox).sort()).toEqual(['done', 'failed', 'processing', 'task.md']);
    expect(fs.readdirSync(path.join(inbox, 'processing'))).toEqual([]);
    const ledger = openDispatchLedger(t.stateDir);
    const interrupted = ledger.get(id);
    expect(interrupted).toMatchObject({ state: 'interrupted', attempts: 1 });
    expect(interrupted?.runId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
    // The run recorded its state: its report says it was aborted.
    const report = JSON.parse(fs.readFileSync(path.join(t.stateDir, 'runs', interrupted?.runId as string, 'report.json'), 'utf8')) as {
      status: string;
    };
    expect(report.status).toBe('aborted');

    // 2. The next (one-shot) dispatch takes the file again and runs it to the end.
    hold = false;
    for (const r of held.splice(0)) r();
    const requestsBefore = server.requests.length;
    const second = await runCli(['dispatch', '--inbox', inbox, '--base-dir', t.baseDir, '--json'], env()).exit;
    expect(second.code, second.stderr).toBe(0);
    expect(server.requests.length).toBeGreaterThan(requestsBefore);
    const result = JSON.parse(fs.readFileSync(path.join(inbox, 'done', 'task.md.result.json'), 'utf8')) as InboxResult;
    expect(result).toMatchObject({ id, status: 'succeeded', duplicate: false, error: null });
    // The interrupted run was resumed, not started again from scratch.
    expect(result.runId).toBe(interrupted?.runId);
    expect(ledger.get(id)).toMatchObject({ state: 'succeeded', attempts: 2, runId: result.runId });

    // 3. The same task dropped again is answered from the ledger: no model request, the earlier run.
    fs.writeFileSync(path.join(inbox, 'again.md'), text);
    const requestsAfter = server.requests.length;
    const third = await runCli(['dispatch', '--inbox', inbox, '--base-dir', t.baseDir, '--json'], env()).exit;
    expect(third.code, third.stderr).toBe(0);
    expect(server.requests.length).toBe(requestsAfter);
    expect(JSON.parse(fs.readFileSync(path.join(inbox, 'done', 'again.md.result.json'), 'utf8'))).toMatchObject({
      status: 'succeeded',
      duplicate: true,
      runId: result.runId,
    });
    ledger.close();
  }, 120_000);
});

describe('inbox: several dispatcher processes on one directory', () => {
  let t: TempBase;
  beforeEach(() => {
    t = makeTempBase();
  });
  afterEach(() => t.cleanup());

  it('never take the same file', async () => {
    const inbox = path.join(t.root, 'inbox');
    fs.mkdirSync(inbox);
    const N = 60;
    for (let i = 0; i < N; i++)
      fs.writeFileSync(path.join(inbox, `t${String(i).padStart(3, '0')}.json`), JSON.stringify({ id: `t${i}`, task: `task ${i}` }));
    // Each process dispatches from the inbox with a no-op runner and records what it ran.
    const script = path.join(t.root, 'drain.mts');
    fs.writeFileSync(
      script,
      `import fs from 'node:fs';
import { dispatch, inboxTaskSource } from ${JSON.stringify(path.join(ROOT, 'src', 'dispatcher', 'index.ts'))};
const [, , dir, out] = process.argv;
const ran = [];
await dispatch(inboxTaskSource({ dir }), async (task) => { ran.push(task.id); await new Promise((r) => setImmediate(r)); return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 }; }, { defaultBaseDir: '/tmp/none', concurrency: 1 });
fs.writeFileSync(out, JSON.stringify(ran));
`,
    );
    const outs = [0, 1, 2].map((i) => path.join(t.root, `ran-${i}.json`));
    const children = outs.map((out) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, inbox, out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      return new Promise<string>((resolve) => child.on('close', (code) => resolve(`${code}${stderr}`)));
    });
    expect(await Promise.all(children)).toEqual(['0', '0', '0']);
    const all = outs.flatMap((o) => JSON.parse(fs.readFileSync(o, 'utf8')) as string[]);
    expect(all).toHaveLength(N);
    expect(new Set(all).size).toBe(N);
    expect(fs.readdirSync(path.join(inbox, 'done')).filter((f) => f.endsWith('.result.json'))).toHaveLength(N);
  }, 60_000);
});
