import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { codexScript, orchestratorScript, orchestratorTurns } from '../../src/demo/demo-scripts.js';
import { SAMPLE_FILES } from '../../src/demo/sample-repo.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { runOrchestrator } from '../../src/orchestrator/run.js';
import { readCommandLog } from '../../src/tools/run-repo-command/log.js';
import { git, makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { processesIn } from '../helpers/processes.js';
import { scriptedRunConfig } from '../helpers/scripted-run.js';

/**
 * The seed scenario end to end: the real Agents SDK run loop, driven by a
 * scripted model server on 127.0.0.1, calling the real guard, real git and the
 * real codex binary (itself driven by a second scripted server).
 */
describe('orchestrator end to end (scripted models, real SDK, real codex, real git)', () => {
  let t: TempBase;
  let orch: ScriptedModelServer | undefined;
  let codex: ScriptedModelServer;
  let codexHome: string;

  beforeEach(async () => {
    t = makeTempBase(SAMPLE_FILES);
    codex = await startScriptedModelServer(codexScript());
    codexHome = path.join(t.root, 'codex-home');
    fs.mkdirSync(codexHome);
    process.env.CODEX_HOME = codexHome;
    process.env.OPENAI_API_KEY = 'test-key';
  });
  afterEach(async () => {
    await orch?.close();
    orch = undefined;
    await codex.close();
    t.cleanup();
  });

  const configFor = (server: ScriptedModelServer, extra: Record<string, string> = {}): Config =>
    scriptedRunConfig(t, server.url, codex.url, extra);

  it('plans, runs two codex workers in parallel, denies a push, merges one at a time, and reports what happened', async () => {
    orch = await startScriptedModelServer(orchestratorScript(orchestratorTurns(undefined, { tryPush: true })));
    const originBefore = refsFingerprint(t.origin);
    const events: RunEvent[] = [];
    const report = await runOrchestrator({
      task: 'Add capitalize and truncate helpers',
      config: configFor(orch),
      onEvent: (e) => events.push(e),
    });

    expect(report.error).toBeNull();
    expect(report.status).toBe('succeeded');
    // Worktrees and branches created beside main.
    expect(report.worktreesCreated).toEqual(['task-capitalize', 'task-truncate']);
    expect(report.branchesCreated).toEqual(['task-capitalize', 'task-truncate']);
    // Two real codex workers, complete, goal met, and they overlapped in time.
    expect(report.workers).toHaveLength(2);
    for (const w of report.workers) {
      expect(w.status).toBe('complete');
      expect(w.goalMet).toBe(true);
      expect(fs.existsSync(path.join(w.runDir, 'events.jsonl'))).toBe(true);
    }
    const codexSpans = events
      .filter(
        (e): e is Extract<RunEvent, { type: 'command.finished' }> => e.type === 'command.finished' && e.command.startsWith('codex exec'),
      )
      .map((e) => {
        const start = events.find((s) => s.type === 'command.started' && s.command === e.command && s.worktree === e.worktree)!;
        return [Date.parse(start.ts), Date.parse(e.ts)] as const;
      });
    expect(codexSpans).toHaveLength(2);
    const [a, b] = codexSpans as [readonly [number, number], readonly [number, number]];
    expect(a[0] < b[1] && b[0] < a[1]).toBe(true);
    // The push was denied, logged, and origin is untouched.
    expect(report.denials).toHaveLength(1);
    expect(report.denials[0]!.command).toBe('git push origin main');
    expect(refsFingerprint(t.origin)).toBe(originBefore);
    const log = readCommandLog(path.join(t.stateDir, 'run_repo_command.log'));
    expect(log.some((e) => !e.allowed && e.command === 'git push origin main')).toBe(true);
    expect(log).toHaveLength(report.commands.length);
    // Two sequential --no-ff merges, in order; main holds both changes.
    expect(report.merges.map((m) => m.branch)).toEqual(['task-capitalize', 'task-truncate']);
    const parents = git(t.main, 'log', '--first-parent', '--format=%P', '-2').split('\n');
    expect(parents.every((p) => p.split(' ').length === 2)).toBe(true);
    expect(fs.readFileSync(path.join(t.main, 'src/capitalize.js'), 'utf8')).toContain('toUpperCase');
    expect(fs.readFileSync(path.join(t.main, 'src/truncate.js'), 'utf8')).toContain('"..."');
    expect(report.filesTouchedInMain).toEqual(['src/capitalize.js', 'src/truncate.js', 'test/capitalize.test.js', 'test/truncate.test.js']);
    // Tests ran in both worktrees and in main after each merge, and passed.
    expect(report.tests.filter((x) => x.worktree === 'main')).toHaveLength(2);
    expect(report.tests.every((x) => x.ok)).toBe(true);
    expect(report.tokens.workers.input).toBeGreaterThan(0);
    expect(report.tokens.orchestrator.requests).toBe(orch.requests.length);
    // The run directory has the report files.
    expect(JSON.parse(fs.readFileSync(path.join(report.runDir, 'report.json'), 'utf8')).runId).toBe(report.runId);
    expect(fs.readFileSync(path.join(report.runDir, 'report.md'), 'utf8')).toContain('task-truncate');
    // The orchestrator agent has the low-level tool and the plan road's two.
    expect(orch.requests[0]!.body.tools?.map((x) => x.name)).toEqual(['run_repo_command', 'submit_plan', 'run_plan']);
  });

  it('dry run executes nothing and still logs every decision', async () => {
    orch = await startScriptedModelServer(orchestratorScript(orchestratorTurns(undefined, { tryPush: true })));
    const head = git(t.main, 'rev-parse', 'HEAD');
    const report = await runOrchestrator({ task: 'Add helpers', config: configFor(orch, { ORCHESTRATOR_DRY_RUN: '1' }) });
    expect(report.status).toBe('succeeded');
    expect(report.dryRun).toBe(true);
    expect(git(t.main, 'rev-parse', 'HEAD')).toBe(head);
    expect(fs.readdirSync(t.baseDir).sort()).toEqual(['main']);
    expect(codex.requests).toHaveLength(0);
    const log = readCommandLog(path.join(t.stateDir, 'run_repo_command.log'));
    expect(log.length).toBe(report.commands.length);
    expect(log.every((e) => e.dryRun && e.exitCode === null)).toBe(true);
    expect(log.filter((e) => !e.allowed).map((e) => e.command)).toEqual(['git push origin main']);
  });

  it('stops on 401 with one clear line naming the endpoint, model and what to check', async () => {
    orch = await startScriptedModelServer(() => ({ status: 401, text: 'invalid api key' }));
    const report = await runOrchestrator({ task: 'anything', config: configFor(orch) });
    expect(report.status).toBe('failed');
    expect(report.error?.kind).toBe('model-api');
    expect(report.error?.message).toMatch(
      /refused the key \(HTTP 401; endpoint http:\/\/127\.0\.0\.1:\d+\/v1, model scripted-orchestrator/,
    );
    expect(report.error?.message).toMatch(/check OPENAI_API_KEY/);
    expect(report.error?.message).not.toContain('\n');
    expect(orch.requests).toHaveLength(1);
  });

  it('retries a 500 and goes on', async () => {
    let first = true;
    orch = await startScriptedModelServer(() => {
      if (first) {
        first = false;
        return { status: 500 };
      }
      return { text: 'nothing to do' };
    });
    const report = await runOrchestrator({ task: 'anything', config: configFor(orch) });
    expect(report.status).toBe('succeeded');
    expect(report.finalText).toBe('nothing to do');
    expect(orch.requests).toHaveLength(2);
  });

  it('refuses a bad task and a bad base dir before starting', async () => {
    orch = await startScriptedModelServer(() => ({ text: 'x' }));
    await expect(runOrchestrator({ task: '   ', config: configFor(orch) })).rejects.toBeInstanceOf(UsageError);
    const noMain = loadConfig({ env: { ORCHESTRATOR_BASE_DIR: t.root, OPENAI_API_KEY: 'k' }, dotenvDir: null });
    await expect(runOrchestrator({ task: 'x', config: noMain })).rejects.toBeInstanceOf(ConfigError);
    await expect(runOrchestrator({ task: 'x', baseDir: 'relative/dir', env: { OPENAI_API_KEY: 'k' } })).rejects.toThrow(
      /ORCHESTRATOR_BASE_DIR: expected an absolute path/,
    );
    expect(orch.requests).toHaveLength(0);
  });

  it('aborting mid-run kills workers and leaves no process in the base dir', async () => {
    // A codex model that never answers: the worker hangs until the abort.
    await codex.close();
    codex = await startScriptedModelServer(() => ({ text: '{}', delayMs: 60_000 }));
    orch = await startScriptedModelServer(orchestratorScript());
    const controller = new AbortController();
    const p = runOrchestrator({
      task: 'Add helpers',
      config: configFor(orch),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'command.started' && e.command.startsWith('codex exec')) setTimeout(() => controller.abort(), 1500);
      },
    });
    const report = await p;
    expect(report.status).toBe('aborted');
    expect(report.error?.kind).toBe('aborted');
    await new Promise((r) => setTimeout(r, 500));
    expect(processesIn(t.baseDir)).toEqual([]);
  });
});
