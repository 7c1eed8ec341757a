/**
 * The file inbox source (`codex-orch dispatch --inbox <dir>`): drop `*.md` or
 * `*.json` task files into a directory; each is claimed, run, and moved to
 * `done/` or `failed/` with `<file>.result.json` beside it.
 *
 *   <inbox>/fix-12.md                  waiting
 *   <inbox>/processing/fix-12.md       claimed by a dispatcher (+ fix-12.md.claim.json: pid, host)
 *   <inbox>/done/fix-12.md             ran and succeeded (+ fix-12.md.result.json)
 *   <inbox>/failed/fix-12.md           ran and failed, or could not run / was malformed (+ .result.json with the reason)
 *
 * Claiming is one `rename(2)` into `processing/`: of two dispatchers renaming
 * the same file, exactly one succeeds (the other gets ENOENT), so a file is
 * never taken twice. Files are found by polling (fs.watch misses events on
 * network and container file systems).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { isPidAlive } from '../store/run-lock.js';
import { isValidTaskId, parseTaskObject, taskContentId } from './env-source.js';
import type { DispatchOutcome, DispatchTask, SourcedTask, TaskSource } from './types.js';

export const INBOX_DIRS = { processing: 'processing', done: 'done', failed: 'failed' } as const;
export const DEFAULT_INBOX_POLL_MS = 1000;
export const DEFAULT_INBOX_MAX_BYTES = 1024 * 1024;

/** What `<file>.result.json` holds. `rejected`: the task never ran (malformed, no base dir, already running elsewhere). */
export interface InboxResult {
  id: string | null;
  file: string;
  status: 'succeeded' | 'failed' | 'rejected';
  runId: string | null;
  merges: number;
  tokens: number;
  durationMs: number;
  error: string | null;
  /** The outcome is an earlier run's (the task id had already run). */
  duplicate: boolean;
  finishedAt: string;
}

export interface InboxSourceOptions {
  /** The inbox directory (created with its subdirectories when missing). */
  dir: string;
  /** Keep polling for new files until the signal aborts; default false (take what is there, then end). */
  watch?: boolean;
  /** Poll interval in watch mode; default 1000 ms. */
  pollMs?: number;
  /** Larger files are malformed; default 1 MiB. */
  maxBytes?: number;
  /** Source name in the summary; default `inbox`. */
  name?: string;
  /** For tests: whether a claim's pid is alive (default `isPidAlive`) and this host's name. */
  isPidAlive?: (pid: number) => boolean;
  hostname?: string;
}

interface Claim {
  pid: number;
  hostname: string;
  claimedAt: string;
}

const TASK_FILE = /^[^.].*\.(md|json)$/i;
const CLAIM_SUFFIX = '.claim.json';
const RESULT_SUFFIX = '.result.json';

/**
 * Writes JSON beside `file` and renames it over: readers never see half a file,
 * and a killed process leaves the old or the new one. No fsync (like the store's
 * synchronous=NORMAL): survives a process crash, not a power cut.
 */
function writeJsonReplace(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(3).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Parses an inbox file. `*.json`: `{task, id?, baseDir?}` (as in DISPATCH_TASKS).
 * `*.md`: the whole text is the task, except optional leading header lines
 * `id: <id>` and `baseDir: <absolute dir>` (exact keys, each at most once);
 * blank lines after them are dropped. The id defaults to the content hash of
 * task + baseDir, so dropping the same task twice runs it once.
 */
export function parseInboxFile(fileName: string, text: string): { ok: true; task: DispatchTask } | { ok: false; error: string } {
  if (/\.json$/i.test(fileName)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: `not valid JSON (${message(e)})` };
    }
    const parsed = parseTaskObject(value);
    return parsed.ok ? { ok: true, task: parsed.task } : { ok: false, error: `expected {task, id?, baseDir?}; ${parsed.error}` };
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let id: string | undefined;
  let baseDir: string | undefined;
  let i = 0;
  for (; i < lines.length; i += 1) {
    const m = /^(id|baseDir):\s*(.*?)\s*$/.exec(lines[i] as string);
    if (!m) break;
    const [, key, value = ''] = m;
    if (key === 'id') {
      if (id !== undefined) return { ok: false, error: `line ${i + 1}: "id:" given twice` };
      if (!isValidTaskId(value))
        return { ok: false, error: `line ${i + 1}: id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit` };
      id = value;
    } else {
      if (baseDir !== undefined) return { ok: false, error: `line ${i + 1}: "baseDir:" given twice` };
      if (!path.isAbsolute(value))
        return { ok: false, error: `line ${i + 1}: baseDir must be an absolute path, got ${JSON.stringify(value)}` };
      baseDir = path.resolve(value);
    }
  }
  const task = lines.slice(i).join('\n').trim();
  if (task === '') return { ok: false, error: 'no task text (the file is empty apart from its headers)' };
  const result: DispatchTask = { id: id ?? taskContentId(task, baseDir), task };
  if (baseDir !== undefined) result.baseDir = baseDir;
  return { ok: true, task: result };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Hard-links `from` into `dir` under `name` or, when taken, a fresh variant of it; returns the name used. Never overwrites. */
function linkUnique(from: string, dir: string, name: string): string {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let attempt = 0; ; attempt += 1) {
    const candidate =
      attempt === 0 ? name : `${stem}.${new Date().toISOString().replace(/[-:.]/g, '')}-${crypto.randomBytes(3).toString('hex')}${ext}`;
    try {
      fs.linkSync(from, path.join(dir, candidate));
      return candidate;
    } catch (e) {
      if (errno(e) !== 'EEXIST' || attempt > 5) throw e;
    }
  }
}

export interface InboxTaskSource extends TaskSource {
  readonly dir: string;
  /** Moves files left in processing/ by a dispatcher of this host that is gone (kill -9) back to the inbox; returns their names. */
  recover(): string[];
}

export function inboxTaskSource(options: InboxSourceOptions): InboxTaskSource {
  const dir = path.resolve(options.dir);
  const watch = options.watch ?? false;
  const pollMs = options.pollMs ?? DEFAULT_INBOX_POLL_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_INBOX_MAX_BYTES;
  const alive = options.isPidAlive ?? isPidAlive;
  const hostname = options.hostname ?? os.hostname();
  const name = options.name ?? 'inbox';
  if (!Number.isInteger(pollMs) || pollMs < 1)
    throw new ConfigError(`inbox: poll interval must be a whole number of milliseconds of at least 1, got ${pollMs}`);
  const processing = path.join(dir, INBOX_DIRS.processing);
  const done = path.join(dir, INBOX_DIRS.done);
  const failed = path.join(dir, INBOX_DIRS.failed);

  const ensureDirs = (): void => {
    try {
      for (const d of [dir, processing, done, failed]) fs.mkdirSync(d, { recursive: true });
    } catch (cause) {
      throw new ConfigError(`inbox ${dir}: cannot create it or its subdirectories (${message(cause)})`, { cause });
    }
  };

  /** Waiting task files, oldest first (mtime, then name). */
  const waiting = (): string[] => {
    const entries: { file: string; mtime: number }[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isFile() || !TASK_FILE.test(entry.name)) continue;
      try {
        entries.push({ file: entry.name, mtime: fs.statSync(path.join(dir, entry.name)).mtimeMs });
      } catch {
        /* taken meanwhile */
      }
    }
    return entries.sort((a, b) => a.mtime - b.mtime || a.file.localeCompare(b.file)).map((e) => e.file);
  };

  /** Claims one file: rename into processing/ (atomic: one dispatcher wins), then note who holds it. */
  const claim = (file: string): boolean => {
    const target = path.join(processing, file);
    // A same-named file is still being processed: leave this one for a later scan.
    if (fs.existsSync(target)) return false;
    try {
      fs.renameSync(path.join(dir, file), target);
    } catch (e) {
      if (errno(e) === 'ENOENT') return false;
      throw e;
    }
    const note: Claim = { pid: process.pid, hostname, claimedAt: new Date().toISOString() };
    writeJsonReplace(path.join(processing, file + CLAIM_SUFFIX), note);
    return true;
  };

  const unlinkQuiet = (file: string): void => {
    try {
      fs.unlinkSync(file);
    } catch {
      /* already gone */
    }
  };

  /** Files a claimed task from processing/ into done/ or failed/ with its result file. */
  const settle = (file: string, into: string, result: Omit<InboxResult, 'file' | 'finishedAt'>): void => {
    const from = path.join(processing, file);
    const final = linkUnique(from, into, file);
    writeJsonReplace(path.join(into, final + RESULT_SUFFIX), {
      ...result,
      file: final,
      finishedAt: new Date().toISOString(),
    } satisfies InboxResult);
    unlinkQuiet(from);
    unlinkQuiet(from + CLAIM_SUFFIX);
  };

  /** Puts a claimed file back into the inbox (a new name only if a same-named file arrived meanwhile). */
  const putBack = (file: string): string => {
    const from = path.join(processing, file);
    const back = linkUnique(from, dir, file);
    unlinkQuiet(from);
    unlinkQuiet(from + CLAIM_SUFFIX);
    return back;
  };

  const recover = (): string[] => {
    const recovered: string[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(processing);
    } catch {
      return recovered;
    }
    for (const file of names) {
      if (!TASK_FILE.test(file) || file.endsWith(CLAIM_SUFFIX)) continue;
      const claimFile = path.join(processing, file + CLAIM_SUFFIX);
      let holder: Claim;
      try {
        holder = JSON.parse(fs.readFileSync(claimFile, 'utf8')) as Claim;
      } catch {
        continue; // being claimed right now, or not ours to judge
      }
      if (holder.hostname !== hostname || alive(holder.pid)) continue;
      // Take the recovery itself atomically: only the dispatcher that renames the claim note away moves the file.
      const mine = `${claimFile}.recovering-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
      try {
        fs.renameSync(claimFile, mine);
      } catch {
        continue;
      }
      try {
        recovered.push(putBack(file));
      } finally {
        unlinkQuiet(mine);
      }
    }
    return recovered;
  };

  const resultOf = (task: DispatchTask, outcome: DispatchOutcome): Omit<InboxResult, 'file' | 'finishedAt'> => ({
    id: task.id,
    status: outcome.status,
    runId: outcome.runId ?? null,
    merges: outcome.merges,
    tokens: outcome.tokens,
    durationMs: outcome.durationMs,
    error: outcome.error ?? null,
    duplicate: outcome.duplicate === true,
  });
  const rejected = (id: string | null, error: string): Omit<InboxResult, 'file' | 'finishedAt'> => ({
    id,
    status: 'rejected',
    runId: null,
    merges: 0,
    tokens: 0,
    durationMs: 0,
    error,
    duplicate: false,
  });

  /** Reads and parses a claimed file; a malformed one is filed in failed/ and undefined returned. */
  const load = (file: string): DispatchTask | undefined => {
    const full = path.join(processing, file);
    let text: string;
    try {
      const size = fs.statSync(full).size;
      if (size > maxBytes) {
        settle(file, failed, rejected(null, `malformed: the file is ${size} bytes; the limit is ${maxBytes}`));
        return undefined;
      }
      text = fs.readFileSync(full, 'utf8');
    } catch (e) {
      settle(file, failed, rejected(null, `malformed: cannot read the file (${message(e)})`));
      return undefined;
    }
    const parsed = parseInboxFile(file, text);
    if (!parsed.ok) {
      settle(file, failed, rejected(null, `malformed: ${parsed.error}`));
      return undefined;
    }
    return parsed.task;
  };

  const sourced = (file: string, task: DispatchTask): SourcedTask => {
    let settled = false;
    const once = (fn: () => void): Promise<void> => {
      if (settled) return Promise.resolve();
      settled = true;
      return Promise.resolve().then(fn);
    };
    return {
      ...task,
      source: name,
      ack: (outcome) => once(() => settle(file, outcome.status === 'succeeded' ? done : failed, resultOf(task, outcome))),
      fail: (reason) => once(() => settle(file, failed, rejected(task.id, reason instanceof Error ? reason.message : reason))),
      release: () => once(() => void putBack(file)),
    };
  };

  return {
    name,
    dir,
    recover: () => {
      ensureDirs();
      return recover();
    },
    async *tasks(signal: AbortSignal): AsyncGenerator<SourcedTask> {
      ensureDirs();
      for (;;) {
        if (signal.aborted) return;
        recover();
        for (const file of waiting()) {
          if (signal.aborted) return;
          if (!claim(file)) continue;
          const task = load(file);
          if (task) yield sourced(file, task);
        }
        if (!watch || signal.aborted) return;
        await sleep(pollMs, signal);
      }
    },
  };
}
