import type { Command } from 'commander';
import { loadConfig, requireBaseDir } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { createLogger } from '../../logging/logger.js';
import { runRepoCommand } from '../../tools/run-repo-command/gateway.js';
import { loadPolicy } from '../../tools/run-repo-command/policy-file.js';
import { runCodexFromGateway } from '../../workers/codex/index.js';
import { EXIT } from '../exit-codes.js';
import { paint } from '../output.js';

interface ExecOptions {
  baseDir?: string;
  worktree: string;
  dryRun?: boolean;
  json?: boolean;
  policy?: string;
  trace?: boolean;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .summary('run one command line through the run_repo_command gateway')
    .description(
      'Runs one shell command line through run_repo_command exactly as the agent would: policy, command log, trace, and codex routing.\n' +
        "Exit code: the command's own; 3 when the policy denies it; 2 for usage errors.",
    )
    .argument('<command>', 'the shell command line, as one argument')
    .requiredOption('-w, --worktree <name>', 'worktree directory inside the base dir, e.g. main')
    .option('-b, --base-dir <dir>', 'base dir holding main/ and task-* worktrees (default: ORCHESTRATOR_BASE_DIR)')
    .option('--policy <file>', 'policy file (default: ORCHESTRATOR_POLICY or policies/default.json)')
    .option('--dry-run', 'check and log, execute nothing')
    .option('--trace', 'print the decision to stderr')
    .option('--json', 'print the structured result as JSON')
    .action(async (command: string, opts: ExecOptions) => {
      if (command.trim() === '') throw new UsageError('exec: the command line is empty');
      const config = loadConfig({
        overrides: {
          ORCHESTRATOR_BASE_DIR: opts.baseDir,
          ORCHESTRATOR_POLICY: opts.policy,
          ORCHESTRATOR_DRY_RUN: opts.dryRun ? '1' : undefined,
          ORCHESTRATOR_TRACE: opts.trace ? '1' : undefined,
        },
      });
      const baseDir = requireBaseDir(config);
      const policy = loadPolicy(config.policyFile);
      const logger = createLogger({ stateDir: config.stateDir, level: config.logLevel });
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await runRepoCommand(
          { worktree: opts.worktree, command },
          { config, baseDir, policy, logger, signal: controller.signal, runCodex: runCodexFromGateway, purpose: 'person' },
        );
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else if (result.denied) {
          process.stderr.write(`${paint('red', 'denied', process.stderr)} (rule ${result.rule}): ${result.reason}\n`);
        } else if (result.dryRun) {
          process.stderr.write(`${paint('yellow', 'dry run', process.stderr)}: allowed, not executed\n`);
        } else {
          if (result.stdout) process.stdout.write(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
          if (result.stderr) process.stderr.write(result.stderr.endsWith('\n') ? result.stderr : `${result.stderr}\n`);
        }
        if (controller.signal.aborted) process.exitCode = EXIT.aborted;
        else if (result.denied) process.exitCode = EXIT.denied;
        else if (result.dryRun) process.exitCode = EXIT.ok;
        else process.exitCode = result.exitCode ?? EXIT.failed;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
