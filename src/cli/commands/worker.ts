import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { createLogger } from '../../logging/logger.js';
import { runCodexWorker, workerStateDir, type ProfileName, type WorkerRun } from '../../workers/codex/index.js';
import { EXIT } from '../exit-codes.js';
import { paint, printErr, printOut } from '../output.js';

interface WorkerOptions {
  cwd?: string;
  profile: ProfileName;
  json?: boolean;
  resume?: string;
  escalate: boolean;
  runId?: string;
  stateDir?: string;
}

function profileArg(value: string): ProfileName {
  if (value !== 'fast' && value !== 'deep' && value !== 'review') throw new InvalidArgumentError('expected fast, deep or review');
  return value;
}

/** The `--json` object: exactly these keys. */
export function workerJson(run: WorkerRun): Record<string, unknown> {
  return {
    status: run.status,
    result: run.result,
    threadId: run.threadId,
    runDir: run.runDir,
    usage: run.usage,
    exitCode: run.exitCode,
    durationMs: run.durationMs,
  };
}

function printHuman(run: WorkerRun): void {
  const colour = run.status === 'complete' ? (run.result?.goal_met ? 'green' : 'yellow') : 'red';
  printOut(
    `${paint(colour, run.status)}${run.result ? ` · goal_met ${run.result.goal_met}` : ''} · ${(run.durationMs / 1000).toFixed(1)} s · ${run.attempts} attempt(s) · profile ${run.profile}`,
  );
  if (run.result) {
    printOut(`summary:  ${run.result.summary}`);
    if (run.result.followup_prompt) printOut(`followup: ${run.result.followup_prompt}`);
    if (run.result.notes) printOut(`notes:    ${run.result.notes}`);
  }
  if (run.reason) printOut(`reason:   ${run.reason}`);
  if (run.changedFiles.length > 0) printOut(`changed:  ${run.changedFiles.join(', ')}`);
  printOut(`tokens:   input ${run.usage.inputTokens} (cached ${run.usage.cachedInputTokens}), output ${run.usage.outputTokens}`);
  if (run.threadId) printOut(`thread:   ${run.threadId}`);
  printOut(`run dir:  ${run.runDir}`);
  for (const w of run.warnings) printErr(`${paint('yellow', 'warning', process.stderr)}: ${w}`);
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .summary('run one codex worker and print its structured result')
    .description(
      'Runs one codex worker in a directory: run directory, events, liveness, structured result, repair and escalation.\n' +
        'State dir: ORCHESTRATOR_STATE_DIR, else <ORCHESTRATOR_BASE_DIR>/.codex-orchestrator, else ~/.codex-orchestrator.\n' +
        'Exit code: 0 when the worker is complete; 5 when it is stuck or in error; 2 for usage errors.',
    )
    .argument('<prompt>', 'the task for codex')
    .option('--cwd <dir>', 'directory codex works in (default: the current directory)')
    .option('--profile <name>', 'fast, deep or review', profileArg, 'fast' as ProfileName)
    .option('--resume <thread-id>', 'continue this codex thread')
    .option('--no-escalate', 'do not escalate fast → deep when the goal is not met')
    .option('--run-id <id>', 'group the run directory under this run id')
    .option('--state-dir <dir>', 'state dir (default: see above)')
    .option('--json', 'print { status, result, threadId, runDir, usage, exitCode, durationMs }')
    .action(async (prompt: string, opts: WorkerOptions) => {
      if (prompt.trim() === '') throw new UsageError('worker: the prompt is empty');
      const config = loadConfig({ overrides: { ORCHESTRATOR_STATE_DIR: opts.stateDir } });
      const cwd = path.resolve(opts.cwd ?? process.cwd());
      const logger = createLogger({ stateDir: workerStateDir(config), level: config.logLevel });
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const run = await runCodexWorker({
          prompt,
          cwd,
          config,
          profile: opts.profile,
          escalate: opts.escalate,
          signal: controller.signal,
          logger,
          threadId: opts.resume || undefined,
          runId: opts.runId || undefined,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(workerJson(run))}\n`);
        else printHuman(run);
        if (controller.signal.aborted) process.exitCode = EXIT.aborted;
        else process.exitCode = run.status === 'complete' ? EXIT.ok : EXIT.worker;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
