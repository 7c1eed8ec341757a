/**
 * Run directories on disk (`<stateDir>/runs/<runId>/…`), run ids, and atomic
 * file writes: a file written here is either the old version or the new one,
 * never half of each, even after `kill -9` or a power cut.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DiskFullError, StoreError, isDiskFull } from '../errors.js';

export interface RunDirPaths {
  /** `<stateDir>/runs/<runId>` */
  root: string;
  manifest: string;
  report: string;
  reportMd: string;
  decisions: string;
  events: string;
  /** `<root>/workers` */
  workers: string;
  /** `<root>/workers/<workerId>` */
  worker(workerId: string): string;
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkSegment(what: string, value: string): string {
  if (!SAFE_SEGMENT.test(value) || value.includes('..')) {
    throw new StoreError(`invalid ${what} ${JSON.stringify(value)}: letters, digits, '.', '_' and '-' only`, {
      context: { [what]: value },
    });
  }
  return value;
}

/** The directory of every run: `<stateDir>/runs`. */
export function runsRoot(stateDir: string): string {
  return path.join(stateDir, 'runs');
}

/** The paths of one run's directory (nothing is created). The id must be a safe path segment. */
export function runDir(stateDir: string, runId: string): RunDirPaths {
  const root = path.join(runsRoot(stateDir), checkSegment('run id', runId));
  const workers = path.join(root, 'workers');
  return {
    root,
    manifest: path.join(root, 'manifest.json'),
    report: path.join(root, 'report.json'),
    reportMd: path.join(root, 'report.md'),
    decisions: path.join(root, 'decisions.jsonl'),
    events: path.join(root, 'events.jsonl'),
    workers,
    worker: (workerId: string) => path.join(workers, checkSegment('worker id', workerId)),
  };
}

/** Creates the run directory (and its workers/) when missing; returns its paths. */
export function ensureRunDir(stateDir: string, runId: string): RunDirPaths {
  const paths = runDir(stateDir, runId);
  try {
    fs.mkdirSync(paths.workers, { recursive: true });
  } catch (cause) {
    if (isDiskFull(cause)) throw new DiskFullError(paths.root, { cause });
    throw new StoreError(`cannot create run directory ${paths.root}: ${(cause as Error).message}`, {
      cause,
      hint: 'check that the state dir is writable (ORCHESTRATOR_STATE_DIR)',
    });
  }
  return paths;
}

function fsyncDir(dir: string): void {
  // Makes the rename durable. Not possible on every platform (Windows); best effort.
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `data` to `file` atomically: a temp file beside it, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (cause) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    if (isDiskFull(cause)) throw new DiskFullError(file, { cause });
    throw new StoreError(`cannot write ${file}: ${(cause as Error).message}`, { cause, context: { file } });
  }
  fsyncDir(dir);
}

/** `JSON.stringify(value, null, 2)` plus a newline, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new StoreError(`cannot write ${file}: the value is not JSON`);
  writeFileAtomic(file, text + '\n');
}

/** Reads a JSON file; undefined when it does not exist, StoreError when it is not JSON. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new StoreError(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Appends one JSON line (for `events.jsonl`, `decisions.jsonl`). One write call, so lines never interleave. */
export function appendJsonLine(file: string, value: unknown): void {
  const text = JSON.stringify(value);
  if (text === undefined) throw new StoreError(`cannot append to ${file}: the value is not JSON`);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, text + '\n');
  } catch (cause) {
    if (isDiskFull(cause)) throw new DiskFullError(file, { cause });
    throw new StoreError(`cannot append to ${file}: ${(cause as Error).message}`, { cause });
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * A new run id: UTC time then 6 random hex digits, e.g. `20261130-001523-ab12cd`.
 * Ids sort by creation second; the random suffix is what people abbreviate.
 */
export function newRunId(now: Date = new Date()): string {
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `${date}-${time}-${crypto.randomBytes(3).toString('hex')}`;
}

export const RUN_ID_PATTERN = /^\d{8}-\d{6}-[0-9a-f]{6}$/;
