import type { Command } from 'commander';
import { runDemo } from '../../demo/run-demo.js';
import { withInterrupt } from '../interrupt.js';
import { exitCodesHelp } from '../exit-codes.js';
import { paint, printErr } from '../output.js';
import { liveViewFor } from '../live/index.js';
import { resolveFromCwd } from '../args.js';
import { printReport } from '../run-output.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('run the whole scenario on a bundled sample repository, offline')
    .description(
      'Creates a small sample repository under a temp base dir and runs the example scenario on it: the Orchestrator Agent plans two subtasks, ' +
        'creates two worktrees, runs two real codex workers in parallel, commits, tests, and merges both branches into main one at a time.\n' +
        'Offline (default): scripted model servers on 127.0.0.1 stand in for the models; no API key, no network. --live: the real models.' +
        exitCodesHelp(['ok', 'failed', 'usage', 'modelApi', 'worker', 'git', 'aborted']),
    )
    .option('--live', 'use the real models: OPENAI_API_KEY for the orchestrator, your codex login for the workers')
    .option('-b, --base-dir <dir>', 'create the sample here (an empty or new directory) instead of a temp dir')
    .option('--json', 'print the JSON report on stdout')
    .option('-q, --quiet', 'no progress display')
    .option('--no-progress', 'plain progress lines instead of the live view')
    .action(async (opts: { live?: boolean; baseDir?: string; json?: boolean; quiet?: boolean; progress?: boolean }) => {
      const progress = liveViewFor(undefined, { quiet: Boolean(opts.quiet), progress: opts.progress !== false });
      try {
        const { report, baseDir } = await withInterrupt('the demo', (signal) =>
          runDemo({
            live: opts.live,
            baseDir: opts.baseDir ? resolveFromCwd(opts.baseDir) : undefined,
            signal,
            onEvent: (e) => progress.onEvent(e),
          }),
        );
        progress.stop();
        printReport(report, Boolean(opts.json), { resumable: false });
        if (!opts.json) {
          printErr(
            `\n${paint('bold', 'Result:', process.stderr)} ${baseDir}/main (try: git -C ${baseDir}/main log --oneline --graph)\n` +
              `Command log: ${baseDir}/.codex-orchestrator/run_repo_command.log`,
          );
        }
      } finally {
        progress.stop();
      }
    });
}
