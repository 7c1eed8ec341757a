import type { Command } from 'commander';
import { cleanRun } from '../../../orchestrator/housekeeping/clean-run.js';
import { EXIT } from '../../exit-codes.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs clean <id>`: the run's task worktrees removed (and, with --branches, its merged branches deleted). */
export function registerRunsClean(runs: Command): void {
  storeOptions(
    runs
      .command('clean')
      .argument('<id>', 'run id or prefix')
      .description("remove the run's task worktrees (never ones with uncommitted changes); keeps branches unless --branches"),
  )
    .option('--branches', 'also delete their branches when merged (git branch -d; unmerged branches are kept)')
    .action(async (id: string, opts: StoreOptions & { branches?: boolean }) => {
      await withStore(opts, async (store, stateDir) => {
        const run = store.requireRun(id);
        const r = await cleanRun(store, stateDir, run, { branches: Boolean(opts.branches) });
        if (opts.json) printJson(r);
        else {
          printOut(`run ${run.id}: removed ${r.removed.length} worktree(s)${r.removed.length ? `: ${r.removed.join(', ')}` : ''}`);
          for (const k of r.kept) printOut(paint('yellow', `kept ${k.worktree}: ${k.reason}`));
          if (opts.branches) {
            if (r.branchesDeleted.length) printOut(`deleted branches: ${r.branchesDeleted.join(', ')}`);
            for (const b of r.branchesKept) printOut(paint('yellow', `kept branch ${b.branch}: ${b.reason}`));
          }
        }
        if (r.kept.length > 0) process.exitCode = EXIT.failed;
      });
    });
}
