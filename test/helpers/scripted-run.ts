import { loadConfig, type Config } from '../../src/config/config.js';
import { codexProviderArgs } from '../../src/demo/scripted-model-server.js';
import type { TempBase } from './git-repo.js';

/**
 * The environment of an orchestrator run on a temp base dir whose two models
 * are scripted servers: the orchestrator's at `orchestratorUrl`, the codex
 * workers' at `codexUrl` (through ORCHESTRATOR_CODEX_ARGS).
 */
export function scriptedRunEnv(t: TempBase, orchestratorUrl: string, codexUrl: string): Record<string, string> {
  return {
    ORCHESTRATOR_BASE_DIR: t.baseDir,
    ORCHESTRATOR_STATE_DIR: t.stateDir,
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: orchestratorUrl,
    ORCHESTRATOR_MODEL: 'scripted-orchestrator',
    ORCHESTRATOR_CODEX_ARGS: JSON.stringify(codexProviderArgs(codexUrl)),
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
}

/** The Config of such a run, `extra` variables on top (no .env read). */
export function scriptedRunConfig(t: TempBase, orchestratorUrl: string, codexUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ env: { ...scriptedRunEnv(t, orchestratorUrl, codexUrl), ...extra }, dotenvDir: null });
}
