import type { Command } from 'commander';
import { loadConfig } from '../../../config/config.js';
import { resumeRun } from '../../../orchestrator/resume.js';
import { resolveFromCwd } from '../../args.js';
import { budgetOptions, budgetOverrides, budgetsOf, type BudgetFlags } from '../../budget-flags.js';
import { exitCodesHelp } from '../../exit-codes.js';
import { withInterrupt } from '../../interrupt.js';
import { liveViewFor } from '../../live/index.js';
import { startNotifier } from '../../notifications.js';
import { printErr } from '../../output.js';
import { printReport } from '../../run-output.js';
import { storeOptions, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs resume <id>` and its alias `codex-orch resume <id>`: continue a run whose process died or was stopped. */

type ResumeCommandOptions = StoreOptions & BudgetFlags & { quiet?: boolean; maxTurns?: string; model?: string; progress?: boolean };

async function resumeCommand(id: string, opts: ResumeCommandOptions): Promise<void> {
  const config = loadConfig({
    overrides: {
      ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir),
      ORCHESTRATOR_STATE_DIR: resolveFromCwd(opts.stateDir),
      ORCHESTRATOR_MODEL: opts.model,
      ORCHESTRATOR_MAX_TURNS: opts.maxTurns,
      ...budgetOverrides(opts),
    },
  });
  const budgets = budgetsOf(config);
  const progress = liveViewFor(config, { quiet: Boolean(opts.quiet), progress: opts.progress !== false });
  const notifier = startNotifier(config, { quiet: Boolean(opts.quiet), note: (l) => progress.note(l) });
  try {
    if (!opts.quiet) printErr(`codex-orch: resuming run ${id}`);
    const report = await withInterrupt('the run', (signal) =>
      resumeRun({
        runId: id,
        config,
        signal,
        budgets,
        onEvent: (e) => {
          progress.onEvent(e);
          notifier.onEvent(e);
        },
      }),
    );
    progress.stop();
    printReport(report, Boolean(opts.json));
  } finally {
    progress.stop();
    await notifier.flush();
  }
}

function resumeOptions(cmd: Command): Command {
  return budgetOptions(
    storeOptions(cmd)
      .option('-m, --model <name>', 'orchestrator model (default: ORCHESTRATOR_MODEL)')
      .option('--max-turns <n>', 'maximum orchestrator model turns for this process')
      .option('-q, --quiet', 'no progress display')
      .option('--no-progress', 'plain progress lines instead of the live view'),
  ).addHelpText(
    'after',
    `\nBudgets given here start from zero for this process: a new budget for what is left.${exitCodesHelp(['ok', 'failed', 'usage', 'modelApi', 'worker', 'git', 'store', 'aborted'], { store: 'run store (unknown id, or held by a live process)' })}`,
  );
}

export function registerRunsResume(runs: Command): void {
  resumeOptions(
    runs
      .command('resume')
      .argument('<id>', 'run id or prefix')
      .description('continue a run whose process died or was stopped (same as codex-orch resume)'),
  ).action(resumeCommand);
}

/** `codex-orch resume <id>`, on the program itself. */
export function registerResumeAlias(program: Command): void {
  resumeOptions(
    program
      .command('resume')
      .argument('<id>', 'run id or prefix')
      .summary('continue a run whose process died or was stopped (alias of runs resume)')
      .description(
        'Continue a run whose process died or was stopped: its conversation, workers and merges are picked up from the run store; nothing done is done twice. Same as codex-orch runs resume.',
      ),
  ).action(resumeCommand);
}
