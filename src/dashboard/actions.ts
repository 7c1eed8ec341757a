import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { retrySubtask, type RetryResult } from '../orchestrator/retry.js';
import { runIsLive } from '../orchestrator/session/run-record.js';
import { ensureRunDir, runLockKey, type RunRecord } from '../store/index.js';
import { HttpError } from './http-kit.js';
import type { DashboardSource } from './sources.js';

/**
 * The dashboard's stop, resume, retry and submit: the same programs a person
 * runs in a terminal. Resume, retry (after it is recorded) and submit start `codex-orch runs resume` / `codex-orch
 * dispatch` as detached processes (they outlive the dashboard, take the run
 * locks and write the store like any run); stop sends SIGTERM to the process
 * holding the run lock, which the CLI treats as Ctrl-C (abort, record, exit).
 */

/** How to start the CLI: argv before the subcommand. */
export type CliCommand = readonly string[];

/** The CLI as this process was started (`node [--import tsx] <entry>`). */
export function defaultCliCommand(): CliCommand {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? 'codex-orch'];
}

export interface Started {
  pid: number;
  log: string;
  argv: string[];
}

function startDetached(cli: CliCommand, args: string[], log: string, env: NodeJS.ProcessEnv): Started {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  try {
    const argv = [...cli, ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: process.cwd(),
      env: { ...env, NO_COLOR: '1' },
    });
    child.unref();
    if (child.pid === undefined) throw new HttpError(500, `could not start ${argv.join(' ')}`);
    return { pid: child.pid, log, argv };
  } finally {
    fs.closeSync(fd);
  }
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

export function stopRun(source: DashboardSource, run: RunRecord): { pid: number; signal: 'SIGTERM' } {
  const lock = source.store.getLock(runLockKey(run.id));
  if (!lock || !runIsLive(source.store, run.id))
    throw new HttpError(409, `run ${run.id} is not running (status ${run.status}); nothing to stop`);
  if (lock.hostname !== os.hostname())
    throw new HttpError(409, `run ${run.id} is driven on ${lock.hostname} (pid ${lock.pid}); stop it there`);
  if (lock.pid === process.pid) throw new HttpError(409, `run ${run.id} is driven by the dashboard's own process; stop it from its caller`);
  try {
    process.kill(lock.pid, 'SIGTERM');
  } catch (e) {
    throw new HttpError(409, `cannot signal pid ${lock.pid} of run ${run.id}: ${(e as Error).message}`);
  }
  return { pid: lock.pid, signal: 'SIGTERM' };
}

export function resumeRunDetached(
  source: Pick<DashboardSource, 'store' | 'stateDir'>,
  run: RunRecord,
  cli: CliCommand,
  env: NodeJS.ProcessEnv,
): Started {
  if (runIsLive(source.store, run.id)) throw new HttpError(409, `run ${run.id} is already running`);
  if (run.status === 'succeeded') throw new HttpError(409, `run ${run.id} succeeded; there is nothing to resume`);
  const log = path.join(ensureRunDir(source.stateDir, run.id).root, `resume-${stamp()}.log`);
  return startDetached(cli, ['runs', 'resume', run.id, '--base-dir', run.baseDir, '--state-dir', source.stateDir, '--quiet'], log, env);
}

/** `retrySubtask` of the orchestrator (the same as `codex-orch runs retry`), then the run resumed in the background. */
export function retrySubtaskDetached(
  source: Pick<DashboardSource, 'store' | 'stateDir'>,
  run: RunRecord,
  taskId: string,
  cli: CliCommand,
  env: NodeJS.ProcessEnv,
): Promise<RetryResult<Started>> {
  return retrySubtask({
    store: source.store,
    stateDir: source.stateDir,
    runId: run.id,
    taskId,
    resume: (r) => resumeRunDetached(source, r, cli, env),
  });
}

export interface SubmittedTask {
  id: string;
  task: string;
  baseDir: string;
}

/** A task through the dispatcher (its validation, idempotency ledger and run), in a process of its own. */
export function submitTaskDetached(source: DashboardSource, task: SubmittedTask, cli: CliCommand, env: NodeJS.ProcessEnv): Started {
  const log = path.join(source.stateDir, 'dashboard', `submit-${task.id}-${stamp()}.log`);
  return startDetached(cli, ['dispatch', '--tasks', JSON.stringify([task]), '--base-dir', task.baseDir, '--json'], log, env);
}
