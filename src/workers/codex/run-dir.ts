import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { WorkerError } from '../../errors.js';

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

const pad = (n: number) => String(n).padStart(2, '0');

/** A run id in the store's format: `YYYYMMDD-HHMMSS-xxxxxx` (UTC). */
export function newRunId(now = new Date()): string {
  return `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}-${crypto.randomBytes(3).toString('hex')}`;
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

/** Writes JSON via a temp file + rename, so readers never see half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(3).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}
