import type { Command } from 'commander';
import { UsageError } from '../../../errors.js';
import { pruneRuns } from '../../../orchestrator/housekeeping/prune-runs.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs prune`: worktrees of finished runs, stale locks, and old runs removed. */
export function registerRunsPrune(runs: Command): void {
  storeOptions(
    runs.command('prune').description('remove worktrees of finished runs, stale locks, and runs finished more than --older-than days ago'),
  )
    .option('--older-than <days>', 'delete run records and directories of runs finished more than this many days ago (default 30)')
    .action(async (opts: StoreOptions & { olderThan?: string }) => {
      const days = Number(opts.olderThan ?? 30);
      if (!(Number.isFinite(days) && days >= 0)) throw new UsageError(`--older-than ${opts.olderThan}: expected a number of days`);
      await withStore(opts, async (store, stateDir) => {
        const r = await pruneRuns(store, stateDir, { olderThanDays: days });
        if (opts.json) return printJson(r);
        printOut(
          `removed ${r.worktreesRemoved.length} worktree(s), ${r.locksRemoved.length} stale lock(s), ${r.runsDeleted.length + r.dirsDeleted.length} old run(s)`,
        );
        for (const k of r.worktreesKept) printOut(paint('yellow', `kept ${k.worktree} of ${k.runId}: ${k.reason}`));
      });
    });
}
