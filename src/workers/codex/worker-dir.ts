import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { WorkerError } from '../../errors.js';

export { newRunId, writeJsonAtomic } from '../../store/run-dir.js';

/**
 * Where worker run directories go: the configured state dir
 * (ORCHESTRATOR_STATE_DIR, else <ORCHESTRATOR_BASE_DIR>/.codex-orchestrator),
 * else `~/.codex-orchestrator` so a bare `codex-orch worker` needs no base dir.
 */
export function workerStateDir(config: Pick<Config, 'stateDir'>): string {
  return config.stateDir ?? path.join(os.homedir(), '.codex-orchestrator');
}

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkSegment(what: string, value: string): string {
  if (!SAFE.test(value) || value.includes('..')) {
    throw new WorkerError(`invalid ${what} ${JSON.stringify(value)}: letters, digits, '.', '_' and '-' only`);
  }
  return value;
}

export function newWorkerId(): string {
  return `w-${crypto.randomBytes(4).toString('hex')}`;
}

/** `<stateDir>/runs/<runId>/workers/<workerId>/`, created. */
export function ensureWorkerDir(stateDir: string, runId: string, workerId: string): string {
  const dir = path.join(stateDir, 'runs', checkSegment('run id', runId), 'workers', checkSegment('worker id', workerId));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new WorkerError(`cannot create the worker run directory ${dir}: ${(cause as Error).message}`, { cause });
  }
  return dir;
}
