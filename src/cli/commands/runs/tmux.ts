import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../../errors.js';
import { RUN_ID_PATTERN, runDir } from '../../../store/index.js';
import { insideTmux, type TmuxTarget } from '../../../tmux/tmux.js';
import { printJson, printOut } from '../../output.js';
import { addWorkerWindows, ensureRunSession, followWorker, requireTmux, runStatusWindow } from '../../tmux-run.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs attach <id>`: the run's tmux session (made on first use), then attach to it. */

type TmuxOptions = StoreOptions & { socket?: string; attach?: boolean };

export function registerRunsTmux(runs: Command): void {
  storeOptions(
    runs
      .command('attach')
      .argument('<id>', 'run id or prefix')
      .description(
        "open the run's tmux session: a status window and a window per worker with its events live (made now if the run was started without --tmux)",
      ),
  )
    .option('--socket <name>', 'a named tmux server (tmux -L name) instead of the default one')
    .option('--no-attach', 'only make the session and print its name')
    .action(async (id: string, opts: TmuxOptions) => {
      requireTmux();
      const target: TmuxTarget = { socket: opts.socket };
      await withStore(opts, async (store, stateDir) => {
        // A run the store does not hold (a plan run before the store had every run) still has its run directory.
        const run =
          store.getRun(id) ?? (RUN_ID_PATTERN.test(id) && fs.existsSync(runDir(stateDir, id).root) ? { id } : store.requireRun(id));
        const { session, created } = await ensureRunSession({ target, runId: run.id, stateDir });
        const windows = await addWorkerWindows({ target, runId: run.id, stateDir });
        if (opts.json) return printJson({ runId: run.id, session, created, windowsAdded: windows });
        const attachArgs = [
          ...(opts.socket ? ['-L', opts.socket] : []),
          insideTmux() ? 'switch-client' : 'attach-session',
          '-t',
          `=${session}`,
        ];
        if (opts.attach === false || !process.stdout.isTTY) {
          printOut(`${created ? 'made' : 'found'} tmux session ${session}; attach with: tmux ${attachArgs.join(' ')}`);
          return;
        }
        const r = spawnSync('tmux', attachArgs, { stdio: 'inherit' });
        if (r.status !== 0)
          throw new UsageError(`tmux ${attachArgs.join(' ')} failed`, { hint: `attach yourself: tmux ${attachArgs.join(' ')}` });
      });
    });

  // The processes inside the session's windows (started by the commands above).
  runs
    .command('tmux-status', { hidden: true })
    .description("what runs in the status window of a run's tmux session: the run, its subtasks and workers, redrawn until it ends")
    .argument('<id>', 'run id')
    .requiredOption('--state-dir <dir>', 'state dir holding state.db')
    .option('--socket <name>', 'the named tmux server of the session (tmux -L name)')
    .action(async (id: string, opts: { stateDir: string; socket?: string }) => {
      await runStatusWindow({ target: { socket: opts.socket }, runId: id, stateDir: opts.stateDir });
    });
  runs
    .command('tmux-worker', { hidden: true })
    .description("what runs in a worker's window of a run's tmux session: its codex events as readable lines, until it ends")
    .argument('<id>', 'run id')
    .argument('<worker>', 'worker id')
    .requiredOption('--state-dir <dir>', 'state dir holding the run directory')
    .action(async (id: string, worker: string, opts: { stateDir: string }) => {
      await followWorker(opts.stateDir, id, worker, (line) => printOut(line));
    });
}
