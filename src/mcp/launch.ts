/**
 * Starts `codex-orch run …` / `codex-orch resume …` as a detached child: its
 * own session and process group, stdio to a log file in the state dir, so the
 * run goes on when the MCP server (or the client that started it) exits. The
 * run is an ordinary one — the child holds its store row and locks — and the
 * server only learns its id.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RunFailedError } from '../errors.js';
import { openSqliteStore, STATE_DB, runLockKey, type Store } from '../store/index.js';

/** How to start the CLI: the program and the arguments before the subcommand. */
export interface CliCommand {
  command: string;
  args: string[];
}

/** The CLI this process runs as (node + its loader flags + the entry script), so a tsx dev server starts tsx children. */
export function currentCli(): CliCommand {
  const entry = process.argv[1];
  if (!entry) throw new RunFailedError('cannot tell which codex-orch program this is (no entry script in argv)');
  return { command: process.execPath, args: [...process.execArgv, entry] };
}

export interface LaunchOptions {
  cli: CliCommand;
  /** The subcommand and its arguments, e.g. ['run', '--plan', file, '--base-dir', dir]. */
  argv: string[];
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** How long to wait for the child to record its run. Default 30 s. */
  waitMs?: number;
  /** A resume: the run id is known; wait for the child to hold its run lock. */
  runId?: string;
}

export interface Launched {
  runId: string;
  pid: number;
  log: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The run id from the progress display's first line (`codex-orchestrator run <id> on <dir>`). */
export function runIdFromLog(text: string): string | undefined {
  return /\brun ([0-9A-Za-z][0-9A-Za-z._-]*) on \//.exec(text)?.[1];
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

function storeIfAny(stateDir: string): Store | undefined {
  if (!fs.existsSync(path.join(stateDir, STATE_DB))) return undefined;
  return openSqliteStore(stateDir);
}

/**
 * Spawns the child and resolves once it has a run: its run lock is held by the
 * child's pid (found in the store), or the progress line named the run. A child
 * that exits first is an error carrying its last output lines (usage errors,
 * a busy base dir, a bad manifest read the same as on the command line).
 */
export async function launchRun(options: LaunchOptions): Promise<Launched> {
  const dir = path.join(options.stateDir, 'mcp');
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(3).toString('hex')}.log`);
  const fd = fs.openSync(log, 'a');
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const child = spawn(options.cli.command, [...options.cli.args, ...options.argv], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...options.env, NO_COLOR: '1' },
  });
  fs.closeSync(fd);
  child.on('error', (e) => (spawnError = e));
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.unref();
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  for (;;) {
    if (spawnError) throw new RunFailedError(`could not start codex-orch: ${spawnError.message}`);
    const pid = child.pid;
    if (pid !== undefined) {
      const found = findRun(options.stateDir, pid, options.runId, log);
      if (found) return { runId: found, pid, log };
    }
    if (exited) {
      const text = fs.readFileSync(log, 'utf8');
      const id = options.runId ?? runIdFromLog(text);
      // It may have finished already (a tiny plan): then the run is there to be read.
      if (id && exited.code !== 2 && pid !== undefined) return { runId: id, pid, log };
      throw new RunFailedError(
        `codex-orch ${options.argv[0]} exited with ${exited.code ?? exited.signal} before starting a run: ${lastLines(text, 3) || '(no output)'}`,
        {
          hint: `its output is in ${log}`,
        },
      );
    }
    if (Date.now() > deadline) {
      throw new RunFailedError(
        `codex-orch ${options.argv[0]} (pid ${pid}) has not started a run after ${Math.round((options.waitMs ?? 30_000) / 1000)} s`,
        {
          hint: `it may still be starting; see ${log} and list_runs`,
        },
      );
    }
    await sleep(150);
  }
}

function findRun(stateDir: string, pid: number, runId: string | undefined, log: string): string | undefined {
  const store = storeIfAny(stateDir);
  if (store) {
    try {
      if (runId !== undefined) return store.getLock(runLockKey(runId))?.pid === pid ? runId : undefined;
      const mine = store.listLocks().find((l) => l.pid === pid && l.key.startsWith('run:') && l.runId !== undefined);
      if (mine?.runId) return mine.runId;
    } finally {
      store.close();
    }
  }
  if (runId !== undefined) return undefined;
  return runIdFromLog(fs.readFileSync(log, 'utf8'));
}
