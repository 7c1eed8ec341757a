import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { RunEventListener } from '../orchestrator/events.js';
import type { RunReport } from '../orchestrator/report/report.js';
import { runOrchestrator } from '../orchestrator/run.js';
import { codexScript, orchestratorScript } from './demo-scripts.js';
import { createSampleRepo, DEMO_TASK } from './sample-repo.js';
import { codexProviderArgs, startScriptedModelServer, type ScriptedModelServer } from './scripted-model-server.js';

export interface DemoOptions {
  /** Use the real models (OPENAI_API_KEY, your codex login) instead of the bundled scripts. */
  live?: boolean;
  /** Where to create the sample base dir (default: a new temp dir). */
  baseDir?: string;
  signal?: AbortSignal;
  onEvent?: RunEventListener;
}

export interface DemoResult {
  report: RunReport;
  baseDir: string;
  /** Requests the scripted servers answered (offline only). */
  modelRequests: { orchestrator: number; codex: number };
}

/**
 * The offline demo: a sample repository under a temp base dir, and the whole
 * seed scenario run on it — the Agents SDK run loop, the guard, git and the
 * real codex binary — with scripted model servers on 127.0.0.1 standing in
 * for the models. No API key, no network.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const root = options.baseDir
    ? path.resolve(options.baseDir)
    : fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'codex-orch-demo-')));
  const baseDir = options.baseDir ? root : path.join(root, 'base');
  if (fs.existsSync(path.join(baseDir, 'main'))) {
    throw new ConfigError(`${baseDir}/main already exists`, { hint: 'give the demo an empty --base-dir, or none for a temp dir' });
  }
  fs.mkdirSync(baseDir, { recursive: true });
  createSampleRepo(baseDir);

  if (options.live) {
    const config = loadConfig({ overrides: { ORCHESTRATOR_BASE_DIR: baseDir } });
    if (!config.openaiApiKey) {
      throw new ConfigError('OPENAI_API_KEY: not set; --live runs the real models', {
        variable: 'OPENAI_API_KEY',
        hint: 'export OPENAI_API_KEY, or drop --live for the offline demo',
      });
    }
    const report = await runOrchestrator({
      task: DEMO_TASK,
      config,
      signal: options.signal,
      onEvent: options.onEvent,
    });
    return { report, baseDir, modelRequests: { orchestrator: 0, codex: 0 } };
  }

  let orchestrator: ScriptedModelServer | undefined;
  let codex: ScriptedModelServer | undefined;
  const savedEnv = { CODEX_HOME: process.env.CODEX_HOME, OPENAI_API_KEY: process.env.OPENAI_API_KEY };
  try {
    orchestrator = await startScriptedModelServer(orchestratorScript());
    codex = await startScriptedModelServer(codexScript());
    // Codex workers inherit this process's environment: a private CODEX_HOME
    // keeps the demo away from your own codex login and config.
    const codexHome = path.join(path.dirname(baseDir), 'codex-home');
    fs.mkdirSync(codexHome, { recursive: true });
    process.env.CODEX_HOME = codexHome;
    process.env.OPENAI_API_KEY = 'demo-key';
    const config = loadConfig({
      env: {
        ...process.env,
        ORCHESTRATOR_BASE_DIR: baseDir,
        OPENAI_BASE_URL: orchestrator.url,
        ORCHESTRATOR_MODEL: 'scripted-orchestrator',
        ORCHESTRATOR_CODEX_ARGS: JSON.stringify(codexProviderArgs(codex.url)),
        OPENAI_AGENTS_DISABLE_TRACING: '1',
        ORCHESTRATOR_DRY_RUN: '',
        ORCHESTRATOR_STATE_DIR: '',
        ORCHESTRATOR_COMMAND_LOG: '',
        ORCHESTRATOR_POLICY: '',
      },
      dotenvDir: null,
    });
    const report = await runOrchestrator({
      task: DEMO_TASK,
      config,
      signal: options.signal,
      onEvent: options.onEvent,
    });
    return { report, baseDir, modelRequests: { orchestrator: orchestrator.requests.length, codex: codex.requests.length } };
  } finally {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await orchestrator?.close();
    await codex?.close();
  }
}
