#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { fatalLine, installProcessHandlers } from './process-handlers.js';
import { printErr } from './output.js';
import { registerExec } from './commands/exec.js';
import { registerWorker } from './commands/worker.js';
import { registerDoctor } from './commands/doctor.js';
import { registerPolicy } from './commands/policy.js';
import { registerRun } from './commands/run.js';
import { registerDemo } from './commands/demo.js';
import { registerDispatch } from './commands/dispatch.js';
import { registerRuns } from './commands/runs/index.js';
import { registerAgent } from './commands/agent.js';
import { registerServe } from './commands/serve.js';
import { registerMcp } from './commands/mcp.js';
import { makeRunTask } from '../orchestrator/run-task.js';
import { startNotifier } from './notifications.js';

/**
 * `codex-orch`: one program, a subcommand per job. Every subcommand has --help;
 * the ones that report take --json. Errors are mapped to exit codes here only.
 */
export function buildProgram(): Command {
  const program = new Command('codex-orch')
    .description('Hand a large coding task to a team of Codex CLI workers and get back merged, tested work.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerExec(program);
  registerWorker(program);
  registerDoctor(program);
  registerPolicy(program);
  registerRun(program);
  registerDemo(program);
  // Each dispatched run notifies like a run (webhook, hooks, tmux); the dispatch prints its own lines.
  registerDispatch(program, (config, options) => makeRunTask(config, { ...options, observe: (c) => startNotifier(c, { quiet: true }) }));
  registerRuns(program);
  registerAgent(program);
  registerServe(program);
  registerMcp(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with 2.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { lines, code } = fatalLine(error);
    for (const l of lines) printErr(l);
    return code;
  }
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  installProcessHandlers();
  // A closed pipe (`codex-orch … | head`) ends the program quietly, like other CLIs.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      printErr(`codex-orch: ${String(error)}`);
      process.exitCode = EXIT.failed;
    },
  );
}
