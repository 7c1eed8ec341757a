import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { orchestratorScript } from '../../src/demo/demo-scripts.js';
import { SAMPLE_FILES } from '../../src/demo/sample-repo.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { processesIn } from '../helpers/processes.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { scriptedRunEnv } from '../helpers/scripted-run.js';

const root = path.resolve(__dirname, '..', '..');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `codex-orch run` as a user runs it: a real child process, real signals. */
function runCli(args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      onStderr?.(stderr, child);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('codex-orch run (child process)', () => {
  let t: TempBase;
  let orch: ScriptedModelServer;
  let codex: ScriptedModelServer;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    t = makeTempBase(SAMPLE_FILES);
    fs.mkdirSync(path.join(t.root, 'codex-home'));
    orch = await startScriptedModelServer(orchestratorScript());
    // Codex that never answers: the workers hang until they are killed.
    codex = await startScriptedModelServer(() => ({ text: '{}', delayMs: 120_000 }));
    env = { ...scriptedRunEnv(t, orch.url, codex.url), CODEX_HOME: path.join(t.root, 'codex-home'), NO_COLOR: '1' };
  });
  afterEach(async () => {
    await orch.close();
    await codex.close();
    t.cleanup();
  });

  it('Ctrl-C stops the run, kills the workers, exits 130 with a line saying what was done', async () => {
    let sent = false;
    const r = await runCli(['run', '--json', 'Add helpers'], env, (text, child) => {
      if (!sent && /worktree add \.\.\/task-truncate/.test(text)) {
        sent = true;
        // Both worktrees exist and the workers are starting: interrupt.
        setTimeout(() => child.kill('SIGINT'), 1500);
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /interrupted: \d+ commands ran, 0 merge\(s\) into main; .*worktrees kept for inspection or resume: task-capitalize, task-truncate; nothing was pushed/,
    );
    const report = JSON.parse(r.stdout) as { status: string; error: { kind: string } };
    expect(report.status).toBe('aborted');
    expect(report.error.kind).toBe('aborted');
    expect(processesIn(t.baseDir)).toEqual([]);
  });

  it('a bad config value exits 2 with one line naming the variable', async () => {
    const r = await runCli(['run', 'x'], { ...env, ORCHESTRATOR_MAX_TURNS: 'many' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ORCHESTRATOR_MAX_TURNS: expected a whole number of turns/);
  });

  it('an unreachable model API exits 4 with one line and no stack trace', async () => {
    const r = await runCli(['run', '-q', 'x'], { ...env, OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot reach the model API \(endpoint http:\/\/127\.0\.0\.1:9\/v1/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
