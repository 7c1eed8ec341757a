import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/config.js';
import { codexProviderArgs, makeCodexHome, startModelServer, type ModelServer, type Script } from './model-server.js';

export const FAKE_CODEX = fileURLToPath(new URL('../fixtures/bin/fake-codex', import.meta.url));

/** Config for worker tests: state dir, provider args, optional CODEX_BIN / profiles. */
export function workerConfig(options: {
  stateDir: string;
  codexArgs?: string[];
  codexBin?: string;
  profilesFile?: string;
  stallSeconds?: number;
}): Config {
  return loadConfig({
    env: {},
    dotenvDir: null,
    overrides: {
      ORCHESTRATOR_STATE_DIR: options.stateDir,
      ORCHESTRATOR_CODEX_ARGS: JSON.stringify(options.codexArgs ?? []),
      CODEX_BIN: options.codexBin,
      ORCHESTRATOR_CODEX_PROFILES: options.profilesFile,
      ORCHESTRATOR_WORKER_STALL_SECONDS: options.stallSeconds ? String(options.stallSeconds) : undefined,
    },
  });
}

export interface CodexRig {
  server: ModelServer;
  codexHome: string;
  env: NodeJS.ProcessEnv;
  codexArgs: string[];
  close(): Promise<void>;
}

/** A scripted model server plus a temp CODEX_HOME, for the real codex binary. */
export async function startCodexRig(script: Script): Promise<CodexRig> {
  const server = await startModelServer(script);
  const home = makeCodexHome();
  return {
    server,
    codexHome: home.dir,
    env: { CODEX_HOME: home.dir, OPENAI_API_KEY: 'test-key' },
    codexArgs: codexProviderArgs(server.url),
    close: async () => {
      await server.close();
      home.cleanup();
    },
  };
}

/** True while `pid` is a live (non-zombie) process. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function readPids(file: string): number[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

export function readJsonl(file: string): any[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export function readMeta(runDir: string): any {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'meta.json'), 'utf8'));
}
