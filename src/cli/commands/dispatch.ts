import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import {
  DISPATCH_TASKS_VAR,
  dispatch,
  envTaskSource,
  type DispatchSummary,
  type RunTask,
} from '../../dispatcher/index.js';
import { EXIT } from '../exit-codes.js';
import { printErr, printOut } from '../output.js';
import { renderDispatchEvent, renderDispatchSummary, truncate } from '../render-dispatch.js';

/** Builds the per-task runner (in the product: one `runOrchestrator` call per task) from the loaded config. */
export type MakeRunTask = (config: Config) => RunTask | Promise<RunTask>;

export interface DispatchCommandOptions {
  concurrency?: number;
  baseDir?: string;
  json?: boolean;
  tasks?: string;
  check?: boolean;
}

export interface DispatchCommandDeps {
  makeRunTask?: MakeRunTask;
  /** Environment to read DISPATCH_TASKS and config from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stops the dispatch; default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Directory of the `.env` file loadConfig reads; default process.cwd(), null to skip. */
  dotenvDir?: string | null;
}

const HELP_AFTER = `
Tasks (--tasks, else ${DISPATCH_TASKS_VAR}):
  a JSON array of strings        ["add a --verbose flag", "fix the flaky date test"]
  a JSON array of objects        [{"id": "verbose", "task": "add a --verbose flag", "baseDir": "/work/app"}]
                                 (task required; id optional: 1-64 of A-Z a-z 0-9 . _ -, default a
                                 content hash; baseDir optional, absolute, default --base-dir)
  one task per non-empty line    when the value does not start with "["
  A malformed value is an error naming the position, e.g. ${DISPATCH_TASKS_VAR}[2]; a task listed twice
  (same id, or same text and baseDir) is an error too.

Scheduling:
  Up to --concurrency tasks run at once, never two on the same base dir; tasks of one base dir
  run in the order given. Ctrl-C stops taking new tasks and waits for running ones to stop.

Exit codes: 0 all tasks succeeded; 1 a task failed; 2 bad input (tasks, options, config); 130 interrupted.

Examples:
  ${DISPATCH_TASKS_VAR}='["add a --verbose flag","document the config file"]' codex-orch dispatch --base-dir /work/app
  codex-orch dispatch --concurrency 2 --tasks '[{"task":"fix #12","baseDir":"/w/a"},{"task":"fix #3","baseDir":"/w/b"}]'
  codex-orch dispatch --check --json     # validate and list the tasks, run nothing`;

function parseConcurrency(value: string): number {
  if (!/^\s*\d+\s*$/.test(value) || Number.parseInt(value, 10) < 1) {
    throw new InvalidArgumentError(`expected a whole number of at least 1, got ${JSON.stringify(value)}`);
  }
  return Number.parseInt(value, 10);
}

/** Two spellings of one directory (symlinks, `..`) share a key; a missing dir falls back to its resolved path. */
function realBaseDirKey(dir: string): string {
  try {
    return fs.realpathSync.native(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** The command's work, separated from commander so it can be tested; resolves with the exit code. */
export async function runDispatchCommand(opts: DispatchCommandOptions, deps: DispatchCommandDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const source =
    opts.tasks !== undefined ? envTaskSource({ value: opts.tasks, variable: '--tasks' }) : envTaskSourceOrUsage(env);
  const config = loadConfig({
    env,
    dotenvDir: deps.dotenvDir,
    overrides: { ORCHESTRATOR_BASE_DIR: opts.baseDir === undefined ? undefined : path.resolve(opts.baseDir) },
  });
  const defaultBaseDir = config.baseDir;

  if (opts.check) {
    const tasks = [];
    for await (const t of source.tasks(new AbortController().signal)) tasks.push({ id: t.id, task: t.task, baseDir: t.baseDir ?? defaultBaseDir ?? null });
    if (opts.json) {
      printOut(JSON.stringify({ source: source.name, tasks }, null, 2));
    } else {
      for (const t of tasks) printOut(`${t.id}  ${t.baseDir ?? '(no base dir)'}  ${truncate(t.task, 80)}`);
      printErr(`${tasks.length} task${tasks.length === 1 ? '' : 's'} from ${source.name}; nothing run (--check)`);
    }
    return tasks.some((t) => t.baseDir === null) ? EXIT.usage : EXIT.ok;
  }

  if (!deps.makeRunTask) {
    throw new UsageError('dispatch: this build has no orchestrator to run tasks with', { hint: 'use --check to validate the task list' });
  }
  const runTask = await deps.makeRunTask(config);

  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  const external = deps.signal;
  if (external) {
    if (external.aborted) controller.abort();
    else external.addEventListener('abort', onSignal, { once: true });
  } else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let summary: DispatchSummary;
  try {
    summary = await dispatch(source, runTask, {
      concurrency: opts.concurrency ?? 1,
      defaultBaseDir,
      signal: controller.signal,
      baseDirKey: realBaseDirKey,
      onEvent: opts.json
        ? undefined
        : (event) => {
            const line = renderDispatchEvent(event, process.stderr);
            if (line !== undefined) printErr(line);
          },
    });
  } finally {
    external?.removeEventListener('abort', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (opts.json) printOut(JSON.stringify(summary, null, 2));
  else printOut(renderDispatchSummary(summary, { width: process.stdout.columns ?? 100, stream: process.stdout }));
  if (summary.aborted) return EXIT.aborted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

function envTaskSourceOrUsage(env: NodeJS.ProcessEnv) {
  if (env[DISPATCH_TASKS_VAR] === undefined || env[DISPATCH_TASKS_VAR]?.trim() === '') {
    throw new UsageError(`dispatch: no tasks; set ${DISPATCH_TASKS_VAR} or pass --tasks`, { hint: 'see codex-orch dispatch --help for the formats' });
  }
  return envTaskSource({ env });
}

/**
 * `codex-orch dispatch` (`yarn dispatcher`): runs every task of DISPATCH_TASKS
 * (or --tasks) through the orchestrator. `makeRunTask` is the orchestrator
 * adapter; without it only `--check` works.
 */
export function registerDispatch(program: Command, makeRunTask?: MakeRunTask): Command {
  return program
    .command('dispatch')
    .summary('run a list of tasks through the orchestrator, several repositories at once')
    .description(
      `Runs each task of ${DISPATCH_TASKS_VAR} (or --tasks) as its own orchestrator run, at most --concurrency at once and never two ` +
        'on the same base dir, then prints a summary table (task, status, merges, tokens, time).',
    )
    .option('-c, --concurrency <n>', 'how many tasks may run at once (on different base dirs)', parseConcurrency, 1)
    .option('-b, --base-dir <dir>', 'base dir for tasks that give none (default: ORCHESTRATOR_BASE_DIR)')
    .option('--tasks <json-or-lines>', `the task list, instead of ${DISPATCH_TASKS_VAR}`)
    .option('--check', 'validate and list the tasks, run nothing')
    .option('--json', 'print the summary as JSON on stdout (no progress lines)')
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: DispatchCommandOptions) => {
      process.exitCode = await runDispatchCommand(opts, makeRunTask ? { makeRunTask } : {});
    });
}
