import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { InvalidArgumentError, type Command } from 'commander';
import { parseAtLeastOne } from '../args.js';
import { liveViewFor, scopeEvent, type LiveView } from '../live/index.js';
import type { RunEvent } from '../../orchestrator/events.js';
import { loadConfig, requireStateDir, withBaseDir, type Config } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import {
  DEFAULT_INBOX_POLL_MS,
  DISPATCH_TASKS_VAR,
  DISPATCH_TOKEN_VAR,
  dispatch,
  envTaskSource,
  httpTaskSource,
  inboxTaskSource,
  ledgerSet,
  listTaskSource,
  mergeSources,
  openDispatchLedger,
  withIdempotency,
  type DispatchLedger,
  type DispatchSummary,
  type HttpTaskSource,
  type LedgerSet,
  type RunTask,
  type TaskSource,
} from '../../dispatcher/index.js';
import { DEFAULT_GITHUB_POLL_MS } from '../../dispatcher/github-source.js';
import { isPidAlive } from '../../store/index.js';
import { EXIT } from '../exit-codes.js';
import { githubIntake } from './dispatch-github.js';
import { runSummaryOf } from '../run-summary.js';
import { openDispatchQueue, type DispatchQueue } from './dispatch-queue.js';
import { printErr, printOut } from '../output.js';
import { renderDispatchEvent, renderDispatchSummary, renderShutdownLine, truncate } from '../render-dispatch.js';

/** Builds the per-task runner (in the product: one `runOrchestrator` call per task) from the loaded config. */
export type MakeRunTask = (config: Config, options?: { onEvent?: (taskId: string, event: RunEvent) => void }) => RunTask | Promise<RunTask>;

export interface DispatchCommandOptions {
  concurrency?: number;
  baseDir?: string;
  json?: boolean;
  tasks?: string;
  check?: boolean;
  /** Inbox directory of *.md / *.json task files. */
  inbox?: string;
  /** HTTP intake: a port (0 = any free one) or host:port with a loopback host. */
  http?: string;
  /** Keep polling the sources until SIGINT/SIGTERM. */
  watch?: boolean;
  /** Inbox poll interval in watch mode. */
  pollMs?: number;
  /** false (`--no-ledger`): no idempotency ledger; a task id may run again in a later dispatch. */
  ledger?: boolean;
  /** GitHub issues as tasks: `owner/repo` or `owner/repo=<base dir>`, with `label`. */
  github?: string;
  label?: string;
  /** false with --no-progress: no live view of the runs' workers, plain dispatch lines only. */
  progress?: boolean;
  /** Task ids of the ledger to run again (failed or interrupted ones). */
  retry?: string[];
  /** Redis URL of the `tasks` queue (ORCHESTRATOR_QUEUE): tasks are queued and run by every dispatcher on it. */
  queue?: string;
}

export interface DispatchCommandDeps {
  makeRunTask?: MakeRunTask;
  /** Environment to read DISPATCH_TASKS and config from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stops the dispatch; default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Directory of the `.env` file loadConfig reads; default process.cwd(), null to skip. */
  dotenvDir?: string | null;
  /** Told the HTTP intake's URL once it listens (tests). */
  onListening?: (url: string) => void;
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

Inbox (--inbox <dir>):
  Drop *.json files ({task, id?, baseDir?}) or *.md files (the task text; optional first lines
  "id: <id>" and "baseDir: /abs/dir"). Write them under another name and rename them in: only
  *.md / *.json are picked up. Each is claimed into <dir>/processing/, then moved to done/ or
  failed/ with <file>.result.json beside it (status, runId, merges, tokens, durationMs, error).
  Malformed files go to failed/ with the reason. Without --watch: takes what is there, then ends.

HTTP intake (--http <port>, 0 = any free port; implies --watch; 127.0.0.1 only):
  needs ${DISPATCH_TOKEN_VAR}; every request carries "Authorization: Bearer <token>".
  POST /tasks {task, id?, baseDir?} with "content-type: application/json" (UTF-8)
    → 202 queued, 200 already known (the existing record), 400, 401, 409, 413, 415
  GET /tasks/<id>, GET /tasks → the records (state, runId, outcome)
  Accepted tasks are kept in <stateDir>/state.db until they ran: a restarted intake runs them.

GitHub issues (--github <owner/repo[=dir]> --label <label>; needs gh logged in, GH_BIN to override):
  open issues labelled <label> by authors with write access are claimed (<label>:running), run in
  the base dir, merged into its main/ (never pushed), and answered in one status comment; then
  <label>:done or <label>:failed. With --watch, polled every --poll-ms. See docs/github.md.

Idempotency: a task id (given, or a hash of task + baseDir) runs once per state dir; a duplicate
  gets the earlier run's outcome. The ledger is in <stateDir>/state.db (--no-ledger: off); it
  records why a task failed. A task that failed for an infrastructure reason (interrupted, disk
  full, the runner broke) runs again when dropped again, and an interrupted one resumes its run;
  --retry <id> runs a failed task of the ledger again (also one whose run failed).

Scheduling:
  Up to --concurrency tasks run at once, never two on the same base dir; tasks of one base dir
  run in the order given. A base dir held by another run (another dispatcher, codex-orch run)
  is waited for, with a growing pause, never a failure. Ctrl-C / SIGTERM stops taking new tasks,
  aborts the running ones (they record their state) and waits for them; interrupted inbox tasks
  go back to the inbox. A configuration error (no OPENAI_API_KEY, a --base-dir without main/)
  stops the dispatch before any task is taken (exit 2) and is not recorded for any task.

More machines (--queue redis://host:6379, or ORCHESTRATOR_QUEUE; keys under ORCHESTRATOR_QUEUE_PREFIX):
  every dispatcher on the queue puts the tasks of its sources on the shared "tasks" queue (one job
  per task id and base dir: a task dropped into two dispatchers' inboxes runs once) and runs queued
  tasks, --concurrency at once, never two of one repository at a time on any machine (a Redis lock;
  a busy repository is waited for, not failed). The outcome goes back to the dispatcher that queued
  the task (its inbox done/ and failed/, intake records, issue comments). A dispatcher killed while
  running a task: after ORCHESTRATOR_QUEUE_LOCK_MS another takes the job and resumes the run. Every
  machine needs the task's base dir at the same path. --retry runs here, not through the queue.
  See docs/distributed.md.

Exit codes: 0 all tasks succeeded (or --watch stopped while idle); 1 a task failed; 2 bad input
  (tasks, options, config); 130 interrupted (a task was stopped or not started).

Examples:
  ${DISPATCH_TASKS_VAR}='["add a --verbose flag","document the config file"]' codex-orch dispatch --base-dir /work/app
  codex-orch dispatch --concurrency 2 --tasks '[{"task":"fix #12","baseDir":"/w/a"},{"task":"fix #3","baseDir":"/w/b"}]'
  codex-orch dispatch --check --json     # validate and list the tasks, run nothing
  codex-orch dispatch --retry fix-12 --base-dir /work/app   # run a failed task of the ledger again
  codex-orch dispatch --watch --inbox ~/tasks --base-dir /work/app
  ${DISPATCH_TOKEN_VAR}=... codex-orch dispatch --http 8750 --base-dir /work/app
  curl -H "Authorization: Bearer $${DISPATCH_TOKEN_VAR}" -H 'content-type: application/json' -d '{"task":"fix #12"}' http://127.0.0.1:8750/tasks`;

function parseConcurrency(value: string): number {
  return parseAtLeastOne('--concurrency', value);
}

function parsePollMs(value: string): number {
  if (!/^\s*\d+\s*$/.test(value) || Number.parseInt(value, 10) < 10) {
    throw new InvalidArgumentError(`expected a whole number of milliseconds of at least 10, got ${JSON.stringify(value)}`);
  }
  return Number.parseInt(value, 10);
}

/** `--http` value: `<port>` or `<host>:<port>` (the host is checked to be loopback by the intake). */
export function parseHttpAddress(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number.parseInt(m[2] as string, 10) : Number.NaN;
  if (!m || port > 65535)
    throw new UsageError(`--http: expected a port (0 = any free one) or 127.0.0.1:<port>, got ${JSON.stringify(value)}`);
  const host = (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  return { host, port };
}

/**
 * The intake token: ${DISPATCH_TOKEN_VAR} from the environment, else the `.env`
 * file (the same precedence as loadConfig, which has already validated it).
 */
function readDispatchToken(env: NodeJS.ProcessEnv, dotenvDir: string | null | undefined): string | undefined {
  const fromEnv = env[DISPATCH_TOKEN_VAR];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
  const dir = dotenvDir === undefined ? process.cwd() : dotenvDir;
  if (!dir) return undefined;
  const file = path.join(dir, '.env');
  if (!fs.existsSync(file)) return undefined;
  const value = parseDotenv(fs.readFileSync(file))[DISPATCH_TOKEN_VAR];
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
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
  const longRunning = opts.inbox !== undefined || opts.http !== undefined || opts.github !== undefined;
  if (opts.watch && !longRunning) {
    throw new UsageError('dispatch --watch: nothing to watch; give --inbox <dir>, --http <port> and/or --github <owner/repo>', {
      hint: `${DISPATCH_TASKS_VAR} and --tasks are read once`,
    });
  }
  if (opts.check && longRunning) {
    throw new UsageError('dispatch --check validates the task list (--tasks or DISPATCH_TASKS) only', {
      hint: 'leave out --inbox/--http/--github',
    });
  }
  const retrying = opts.retry !== undefined && opts.retry.length > 0;
  if (retrying && (longRunning || opts.tasks !== undefined || opts.check || opts.ledger === false)) {
    throw new UsageError('dispatch --retry runs tasks of the ledger again; leave out --tasks, --inbox, --http, --check and --no-ledger');
  }
  const watch = opts.watch === true || opts.http !== undefined;
  const hasEnvTasks = opts.tasks !== undefined || (env[DISPATCH_TASKS_VAR] ?? '').trim() !== '';
  const envSource = retrying
    ? undefined
    : opts.tasks !== undefined
      ? envTaskSource({ value: opts.tasks, variable: '--tasks' })
      : hasEnvTasks || !longRunning
        ? envTaskSourceOrUsage(env)
        : undefined;
  const config = loadConfig({
    env,
    dotenvDir: deps.dotenvDir,
    overrides: {
      ORCHESTRATOR_BASE_DIR: opts.baseDir === undefined ? undefined : path.resolve(opts.baseDir),
      ORCHESTRATOR_QUEUE: opts.queue,
    },
  });
  const defaultBaseDir = config.baseDir;

  if (opts.check) {
    const source = envSource as TaskSource;
    const tasks = [];
    for await (const t of source.tasks(new AbortController().signal))
      tasks.push({ id: t.id, task: t.task, baseDir: t.baseDir ?? defaultBaseDir ?? null });
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
  // Before any task is taken: a configuration that cannot run tasks fails the dispatch once (exit 2), recording nothing.
  // On a terminal, one live view for every run's workers (rows named <task id>/<worktree>); elsewhere the dispatch lines only.
  const live: LiveView = liveViewFor(config, { quiet: Boolean(opts.json), progress: opts.progress !== false });
  let baseRunTask: RunTask;
  try {
    baseRunTask = await deps.makeRunTask(
      config,
      live.mode === 'live' ? { onEvent: (taskId, e) => live.onEvent(scopeEvent(taskId, e)) } : {},
    );
  } catch (error) {
    live.stop();
    throw error;
  }

  // The idempotency ledger of each task's state dir (the config's, re-derived for the task's base dir).
  const ledgers: LedgerSet | undefined =
    opts.ledger === false ? undefined : ledgerSet((baseDir) => withBaseDir(config, baseDir).stateDir as string);
  let http: HttpTaskSource | undefined;
  let intakeStore: DispatchLedger | undefined;
  const sources: TaskSource[] = [];
  if (envSource) sources.push(envSource);
  if (retrying) sources.push(retrySource(opts.retry as string[], config));
  if (opts.inbox !== undefined) {
    const inbox = inboxTaskSource({ dir: path.resolve(opts.inbox), watch, pollMs: opts.pollMs ?? DEFAULT_INBOX_POLL_MS });
    const recovered = inbox.recover();
    if (recovered.length > 0)
      printErr(
        `inbox: ${recovered.length} file${recovered.length === 1 ? '' : 's'} left in processing/ by a dispatcher that is gone, put back: ${recovered.join(', ')}`,
      );
    sources.push(inbox);
  }
  if (opts.github !== undefined) {
    sources.push(
      await githubIntake({
        github: opts.github,
        label: opts.label,
        defaultBaseDir,
        config,
        env,
        watch,
        pollMs: opts.pollMs ?? DEFAULT_GITHUB_POLL_MS,
        onNotice: (line) => printErr(line),
      }),
    );
  }
  if (opts.http !== undefined) {
    const { host, port } = parseHttpAddress(opts.http);
    // Accepted tasks are kept in the dispatcher's own state dir, so a restart finds them.
    intakeStore = openDispatchLedger(requireStateDir(config));
    http = httpTaskSource({
      queue: intakeStore,
      token: readDispatchToken(env, deps.dotenvDir),
      host,
      port,
      defaultBaseDir,
      lookup: ledgers ? (id: string, baseDir: string) => ledgers.lookup(id, baseDir) : undefined,
    });
    sources.push(http);
  }

  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  // Listeners stay until the dispatch ends (`on`, not `once`): the Agents SDK's own
  // SIGTERM handler exits the process when it finds no other listener left. A
  // second signal exits at once, without waiting for running tasks.
  let signals = 0;
  const onProcessSignal = (sig: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      printErr(`dispatch: second ${sig}: exiting now; running tasks were not waited for`);
      process.exit(EXIT.aborted);
    }
    controller.abort();
  };
  const external = deps.signal;
  if (external) {
    if (external.aborted) controller.abort();
    else external.addEventListener('abort', onSignal, { once: true });
  } else {
    process.on('SIGINT', onProcessSignal);
    process.on('SIGTERM', onProcessSignal);
  }
  controller.signal.addEventListener('abort', () => http?.stopAccepting(), { once: true });

  const say = (line: string): void => (opts.json ? printErr(line) : live.note(line));
  let queue: DispatchQueue | undefined;
  let summary: DispatchSummary;
  try {
    const owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
    const localRunTask: RunTask = ledgers ? withIdempotency(baseRunTask, ledgers, owner, retrying ? { retry: true } : {}) : baseRunTask;
    // With a queue, the sources' tasks go on it and this dispatcher runs queued ones (its own and others') through localRunTask.
    if (config.queue && !retrying) {
      queue = await openDispatchQueue({
        queue: config.queue,
        runTask: localRunTask,
        concurrency: opts.concurrency ?? 1,
        signal: controller.signal,
        repoIdOf: realBaseDirKey,
        summarize: (baseDir, outcome) => runSummaryOf(withBaseDir(config, baseDir).stateDir as string, baseDir, outcome.runId),
        onLine: say,
      });
      printErr(queue.describe);
    }
    const runTask = queue?.runTask ?? localRunTask;
    // Queued tasks wait in Redis, not here: keep one per base dir queued from each source (they run in order) up to a wider limit.
    const concurrency = queue ? Math.max(16, 4 * (opts.concurrency ?? 1)) : (opts.concurrency ?? 1);
    if (http) {
      const url = await http.start();
      printErr(`http intake on ${url}: POST /tasks, GET /tasks, GET /tasks/<id> (Authorization: Bearer $${DISPATCH_TOKEN_VAR})`);
      deps.onListening?.(url);
    }
    if (opts.inbox !== undefined && watch)
      printErr(`watching ${path.resolve(opts.inbox)} every ${opts.pollMs ?? DEFAULT_INBOX_POLL_MS} ms`);
    if (watch) printErr('press Ctrl-C (or send SIGTERM) to stop taking tasks and shut down');
    summary = await dispatch(mergeSources(sources), runTask, {
      concurrency,
      defaultBaseDir,
      signal: controller.signal,
      baseDirKey: realBaseDirKey,
      allowRepeatIds: ledgers !== undefined,
      onEvent: opts.json
        ? undefined
        : (event) => {
            const line = renderDispatchEvent(event, process.stderr);
            if (line !== undefined) say(line);
          },
    });
  } finally {
    // Taken jobs: stopped by the abort (back to the queue), or run to their end.
    await queue?.close();
    live.stop();
    external?.removeEventListener('abort', onSignal);
    process.off('SIGINT', onProcessSignal);
    process.off('SIGTERM', onProcessSignal);
    await http?.close();
    intakeStore?.close();
    ledgers?.close();
  }

  if (opts.json) printOut(JSON.stringify(summary, null, 2));
  else printOut(renderDispatchSummary(summary, { width: process.stdout.columns ?? 100, stream: process.stdout }));
  if (summary.aborted) printErr(renderShutdownLine(summary, { inbox: opts.inbox !== undefined }));
  return exitCodeOf(summary, watch);
}

/**
 * 130 when the abort stopped work (a run interrupted or a task not started);
 * in watch mode an abort while idle is the normal way to stop (0, or 1 if a
 * task failed); otherwise 1 when a task failed, else 0.
 */
export function exitCodeOf(summary: DispatchSummary, watch: boolean): number {
  if (summary.aborted && (!watch || summary.interrupted > 0 || summary.skipped > 0)) return EXIT.aborted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

/**
 * The tasks of `--retry`: entries of the state dir's ledger that failed or were
 * interrupted, with their stored text and base dir. An unknown id, one that
 * succeeded, or one that is running now is a usage error naming it.
 */
function retrySource(ids: string[], config: Config): TaskSource {
  const stateDir = requireStateDir(config);
  const ledger = openDispatchLedger(stateDir);
  try {
    const tasks = ids.map((id) => {
      const entry = ledger.get(id);
      if (!entry)
        throw new UsageError(`dispatch --retry: no task "${id}" in the ledger of ${stateDir}`, {
          hint: 'pass the --base-dir (or ORCHESTRATOR_STATE_DIR) the task ran under',
        });
      if (entry.state === 'succeeded') {
        throw new UsageError(
          `dispatch --retry: task "${id}" already succeeded${entry.runId ? ` (run ${entry.runId})` : ''}; there is nothing to retry`,
        );
      }
      if (entry.state === 'running' && (entry.hostname !== os.hostname() || isPidAlive(entry.pid))) {
        throw new UsageError(
          `dispatch --retry: task "${id}" is running now (pid ${entry.pid} on ${entry.hostname}, since ${entry.claimedAt})`,
          {
            hint: 'wait for it; a task whose dispatcher died is taken over by the next dispatch',
          },
        );
      }
      return { id: entry.id, task: entry.task, baseDir: entry.baseDir };
    });
    return listTaskSource('retry', tasks);
  } finally {
    ledger.close();
  }
}

function envTaskSourceOrUsage(env: NodeJS.ProcessEnv) {
  if (env[DISPATCH_TASKS_VAR] === undefined || env[DISPATCH_TASKS_VAR]?.trim() === '') {
    throw new UsageError(`dispatch: no tasks; set ${DISPATCH_TASKS_VAR} or pass --tasks`, {
      hint: 'see codex-orch dispatch --help for the formats',
    });
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
    .summary('run tasks (a list, an inbox directory, an HTTP intake) through the orchestrator, several repositories at once')
    .description(
      `Runs each task of ${DISPATCH_TASKS_VAR} (or --tasks), of an --inbox directory and of an --http intake as its own orchestrator ` +
        'run, at most --concurrency at once and never two on the same base dir, then prints a summary table (task, status, merges, tokens, time).',
    )
    .option('-c, --concurrency <n>', 'how many tasks may run at once (on different base dirs)', parseConcurrency, 1)
    .option('-b, --base-dir <dir>', 'base dir for tasks that give none (default: ORCHESTRATOR_BASE_DIR)')
    .option('--tasks <json-or-lines>', `the task list, instead of ${DISPATCH_TASKS_VAR}`)
    .option('--check', 'validate and list the tasks, run nothing')
    .option('--inbox <dir>', 'take *.md / *.json task files from this directory (results in done/ and failed/)')
    .option('--http <port>', `HTTP intake on 127.0.0.1:<port> (0 = any free port; needs ${DISPATCH_TOKEN_VAR}; implies --watch)`)
    .option('-w, --watch', 'keep polling the sources until SIGINT/SIGTERM')
    .option(
      '--poll-ms <ms>',
      `poll interval in watch mode (default: inbox ${DEFAULT_INBOX_POLL_MS}, github ${DEFAULT_GITHUB_POLL_MS})`,
      parsePollMs,
    )
    .option(
      '--github <owner/repo[=dir]>',
      'take GitHub issues labelled --label as tasks (through gh); work merges into main/ of --base-dir or dir; nothing is pushed',
    )
    .option('--label <label>', 'with --github: the label that asks for work (then <label>:running, :done, :failed)')
    .option('--no-ledger', 'no idempotency ledger: a task id may run again in a later dispatch')
    .option('--retry <id...>', 'run failed or interrupted tasks of the ledger again (an interrupted run is resumed)')
    .option(
      '--queue <url>',
      'Redis URL of the tasks queue shared by dispatchers on several machines: queue the tasks there and run queued ones, one per repository at a time (default: ORCHESTRATOR_QUEUE)',
    )
    .option('--json', 'print the summary as JSON on stdout (no progress lines)')
    .option('--no-progress', "plain dispatch lines instead of the live view of the runs' workers")
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: DispatchCommandOptions) => {
      process.exitCode = await runDispatchCommand(opts, makeRunTask ? { makeRunTask } : {});
    });
}
