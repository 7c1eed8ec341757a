import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigOverrides } from '../../config/config.js';
import { parseAtLeastOne, resolveFromCwd } from '../args.js';
import { UsageError } from '../../errors.js';
import { runOrchestrator } from '../../orchestrator/run.js';
import { loadManifestFile } from '../../orchestrator/plan/manifest-file.js';
import { runPlanManifest, type ExistingPlanRun } from '../../orchestrator/run-plan.js';
import type { RunRecord } from '../../store/index.js';
import { createInterface } from 'node:readline/promises';
import { createReviewer } from '../../orchestrator/review/reviewer.js';
import { exitCodesHelp } from '../exit-codes.js';
import { paint, printErr } from '../output.js';
import { budgetOptions, budgetOverrides, budgetsOf, type BudgetFlags } from '../budget-flags.js';
import { printReport } from '../run-output.js';
import { preflight, type PreflightNeeds } from '../../orchestrator/preflight.js';
import { liveViewFor } from '../live/index.js';
import { withInterrupt } from '../interrupt.js';
import { startNotifier } from '../notifications.js';
import { openRunSession } from '../tmux-run.js';
import type { RunEvent } from '../../orchestrator/events.js';

export interface RunCommandOptions extends BudgetFlags {
  baseDir?: string;
  model?: string;
  dryRun?: boolean;
  maxTurns?: string;
  json?: boolean;
  taskFile?: string;
  quiet?: boolean;
  plan?: string;
  maxParallel?: string;
  /** false with --no-review. */
  review?: boolean;
  /** false with --no-progress. */
  progress?: boolean;
  resume?: boolean;
  new?: boolean;
  dirtyWait?: string;
  /** Stop before each merge until a person approves it. */
  approve?: boolean;
  /** Desktop notifications (notify-send). */
  desktop?: boolean;
  /** A tmux session for the run (`runs attach`), on this tmux server socket when given. */
  tmux?: boolean;
  tmuxSocket?: string;
}

/**
 * `--tmux`: once the run has an id, its tmux session is made (detached; the
 * windows follow the run by themselves) and the attach command printed.
 */
function tmuxOpener(
  opts: RunCommandOptions,
  stateDir: string | undefined,
  note: (line: string) => void,
): { onEvent: (e: RunEvent) => void; done: () => Promise<void> } {
  let pending: Promise<void> = Promise.resolve();
  return {
    onEvent: (e) => {
      if (!opts.tmux || e.type !== 'run.started' || !stateDir) return;
      pending = openRunSession(stateDir, e.runId, opts.tmuxSocket).then(
        (session) =>
          note(
            `codex-orch: tmux session ${session}: codex-orch runs attach ${e.runId}${opts.tmuxSocket ? ` --socket ${opts.tmuxSocket}` : ''}`,
          ),
        (error: unknown) => note(`codex-orch: no tmux session: ${(error as Error).message}`),
      );
    },
    done: () => pending,
  };
}

/** Stop before each merge, notifications, tmux: the steering flags of run (their config overrides). */
function steerOverrides(opts: RunCommandOptions): ConfigOverrides {
  return opts.approve ? { ORCHESTRATOR_APPROVE: '1' } : {};
}

function parseDirtyWait(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(`--dirty-wait must be a whole number of seconds (0: do not wait), got ${JSON.stringify(value)}`);
  return value.trim();
}

function parseMaxParallel(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseAtLeastOne('--max-parallel', value);
}

/** The checks before the first worker: a failure throws (nothing started), a warning is one line on stderr. */
export async function preflightOrExplain(config: Config, needs: PreflightNeeds, quiet: boolean): Promise<void> {
  const warnings = await preflight(config, needs);
  if (!quiet) for (const w of warnings) printErr(paint('yellow', `warning: ${w.detail}${w.hint ? ` (${w.hint})` : ''}`, process.stderr));
}

/** What watches a run from the terminal (the live view, notifications, tmux): one listener, and one teardown. */
function runWatchers(
  config: Config,
  opts: RunCommandOptions,
): { onEvent: (e: RunEvent) => void; stopView: () => void; finish: () => Promise<void> } {
  const progress = liveViewFor(config, { quiet: Boolean(opts.quiet), progress: opts.progress !== false });
  const notifier = startNotifier(config, { quiet: Boolean(opts.quiet), desktop: Boolean(opts.desktop), note: (l) => progress.note(l) });
  const tmux = tmuxOpener(opts, config.stateDir, (l) => (opts.quiet ? printErr(l) : progress.note(l)));
  return {
    onEvent: (e) => {
      progress.onEvent(e);
      notifier.onEvent(e);
      tmux.onEvent(e);
    },
    stopView: () => progress.stop(),
    finish: async () => {
      progress.stop();
      await tmux.done();
      await notifier.flush();
    },
  };
}

export function readTask(words: string[], taskFile: string | undefined): string {
  if (taskFile) {
    if (words.length > 0) throw new UsageError('give the task either as an argument or with --task-file, not both');
    let text: string;
    try {
      text = fs.readFileSync(path.resolve(taskFile), 'utf8');
    } catch {
      throw new UsageError(`--task-file ${taskFile}: cannot be read`);
    }
    if (text.trim() === '') throw new UsageError(`--task-file ${taskFile} is empty`);
    return text.trim();
  }
  const task = words.join(' ').trim();
  if (task === '') throw new UsageError('no task given', { hint: 'codex-orch run "<task>" or codex-orch run --task-file task.md' });
  return task;
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .summary('run the Orchestrator Agent on a task (also: yarn orchestrator "<task>")')
    .description(
      'Plans the task, creates task-<slug> worktrees beside main/, runs Codex workers in parallel, tests, and merges into main one branch at a time. Never pushes.\n' +
        'Before the first worker it checks what the run needs (model endpoint and key, git identity, main/, policy); on a terminal it shows one live line per worker.' +
        exitCodesHelp(['ok', 'failed', 'usage', 'modelApi', 'worker', 'git', 'store', 'aborted']),
    )
    .argument('[task...]', 'the task, in your words')
    .option('-b, --base-dir <dir>', 'base dir holding main/ (default: ORCHESTRATOR_BASE_DIR)')
    .option('-m, --model <name>', 'orchestrator model (default: ORCHESTRATOR_MODEL)')
    .option('--dry-run', 'check and log every command, execute none')
    .option('--max-turns <n>', 'maximum orchestrator model turns (default: ORCHESTRATOR_MAX_TURNS)')
    .option('--task-file <path>', 'read a long task from a file')
    .option('--json', 'print one JSON report object on stdout instead of the human report')
    .option('-q, --quiet', 'no progress display')
    .option('--no-progress', 'plain progress lines instead of the live view (also: not a terminal, CI, NO_COLOR)')
    .option('--plan <manifest.json>', 'run your own plan (a manifest) with no planning model; exit 0 only when every subtask merged')
    .option('--max-parallel <n>', 'with --plan: most subtasks running at once (default 3)')
    .option(
      '--approve',
      'stop before each merge until you approve it: codex-orch runs approve|reject <run> <task> (default: ORCHESTRATOR_APPROVE, or "approve" in .codex-orchestrator.json)',
    )
    .option(
      '--desktop',
      'desktop notifications with notify-send when the run ends, stalls or needs approval (default: ORCHESTRATOR_NOTIFY_DESKTOP)',
    )
    .option('--tmux', 'also open a tmux session for the run: a status window and a live window per worker (codex-orch runs attach <id>)')
    .option('--tmux-socket <name>', 'with --tmux: a named tmux server (tmux -L name)')
    .option(
      '--no-review',
      'with --plan: merge on the acceptance command alone, no review agent (then no model is called at all); without it, -m names the review model',
    )
    .option('--resume', 'with --plan: an unfinished run of the same plan on this commit exists — continue it')
    .option(
      '--new',
      'with --plan: an unfinished run of the same plan exists — start a new run anyway (subtasks already in main are not redone)',
    )
    .option(
      '--dirty-wait <seconds>',
      'how long the merge queue waits, once, for uncommitted changes in main/ before it stops (default: ORCHESTRATOR_DIRTY_WAIT_SECONDS, 300)',
    );
  budgetOptions(cmd).action(async (words: string[], opts: RunCommandOptions) => {
    if (opts.plan !== undefined) {
      await runPlanCommand(words, opts);
      return;
    }
    if (opts.maxParallel !== undefined || opts.review === false)
      throw new UsageError('--max-parallel and --no-review go with --plan <manifest.json>');
    if (opts.resume || opts.new)
      throw new UsageError('--resume and --new go with --plan <manifest.json>', {
        hint: 'continue an agent run with codex-orch runs resume <id>',
      });
    const task = readTask(words, opts.taskFile);
    const config = loadConfig({
      overrides: {
        ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir),
        ORCHESTRATOR_MODEL: opts.model,
        ORCHESTRATOR_MAX_TURNS: opts.maxTurns,
        ORCHESTRATOR_DIRTY_WAIT_SECONDS: parseDirtyWait(opts.dirtyWait),
        ORCHESTRATOR_DRY_RUN: opts.dryRun ? '1' : undefined,
        ...budgetOverrides(opts),
        ...steerOverrides(opts),
      },
    });
    const budgets = budgetsOf(config);
    await preflightOrExplain(config, { orchestrator: true, review: true, workers: !config.dryRun }, Boolean(opts.quiet));
    const watch = runWatchers(config, opts);
    try {
      const report = await withInterrupt('the run', (signal) =>
        runOrchestrator({
          task,
          config,
          signal,
          budgets,
          onEvent: watch.onEvent,
        }),
      );
      watch.stopView();
      printReport(report, Boolean(opts.json));
    } finally {
      await watch.finish();
    }
  });
}

/** Asks on the terminal what to do with an unfinished run of the same plan: resume it (default), start a new one, or stop. */
async function askAboutExistingRun(run: RunRecord): Promise<ExistingPlanRun> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (
      await rl.question(
        `codex-orch: this plan was already started as run ${run.id} (${run.status}) and has not finished. Resume it? [Y]es / [n]ew run / [q]uit: `,
      )
    )
      .trim()
      .toLowerCase();
    if (answer === '' || answer === 'y' || answer === 'yes') return 'resume';
    if (answer === 'n' || answer === 'new') return 'new';
    return 'refuse';
  } finally {
    rl.close();
  }
}

/** `run --plan <manifest.json>`: the user's own plan, no planning model. */
async function runPlanCommand(words: string[], opts: RunCommandOptions): Promise<void> {
  if (words.length > 0 || opts.taskFile)
    throw new UsageError('give either a task or --plan <manifest.json>, not both', { hint: 'the manifest has its own "task"' });
  if (opts.dryRun)
    throw new UsageError('--dry-run does not apply to --plan', { hint: 'check a manifest by running it on a copy of the repository' });
  if (opts.maxTurns !== undefined) throw new UsageError('--max-turns is for the planning model; --plan runs without one');
  if (opts.model !== undefined && opts.review === false)
    throw new UsageError('--model names the review model; with --no-review no model is called');
  if (opts.resume && opts.new) throw new UsageError('give --resume or --new, not both');
  const maxParallel = parseMaxParallel(opts.maxParallel);
  const manifest = loadManifestFile(path.resolve(opts.plan as string));
  const config = loadConfig({
    overrides: {
      ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir),
      ORCHESTRATOR_MODEL: opts.model,
      ORCHESTRATOR_DIRTY_WAIT_SECONDS: parseDirtyWait(opts.dirtyWait),
      ...budgetOverrides(opts),
      ...steerOverrides(opts),
    },
  });
  const budgets = budgetsOf(config);
  // The review agent (a model); --no-review merges on the acceptance command alone and calls no model at all.
  await preflightOrExplain(config, { orchestrator: false, review: opts.review !== false, workers: true }, Boolean(opts.quiet));
  const review = opts.review === false ? undefined : createReviewer(config);
  const watch = runWatchers(config, opts);
  try {
    const { report } = await withInterrupt('the plan', (signal) =>
      runPlanManifest({
        manifest,
        config,
        planFile: path.resolve(opts.plan as string),
        existing: opts.resume ? 'resume' : opts.new ? 'new' : 'refuse',
        // At a terminal, without --resume/--new, the person is asked; elsewhere the run is refused with both commands.
        askExisting: !opts.resume && !opts.new && process.stdin.isTTY && process.stderr.isTTY ? askAboutExistingRun : undefined,
        review,
        maxParallel,
        budgets,
        signal,
        onEvent: watch.onEvent,
      }),
    );
    watch.stopView();
    printReport(report, Boolean(opts.json));
  } finally {
    await watch.finish();
  }
}
