import type { Command } from 'commander';
import { mergeRunNow, type MergeRunResult } from '../../../orchestrator/merge-run.js';
import { EXIT } from '../../exit-codes.js';
import { withInterrupt } from '../../interrupt.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withRun, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs merge <id>`: a stopped plan run's complete-but-unmerged subtasks merged now (no model, no workers). */
export function registerRunsMerge(runs: Command): void {
  storeOptions(
    runs
      .command('merge')
      .argument('<id>', 'run id or prefix')
      .description(
        "runs of a plan (run --plan, or a plan the orchestrator made): merge the stopped run's complete-but-unmerged subtasks now (merge queue and smoke test; no model, no workers)",
      ),
  ).action(async (id: string, opts: StoreOptions) => {
    await withRun(opts, id, async (run, store, stateDir, config) => {
      const r: MergeRunResult = await withInterrupt('the merge queue', (signal) => mergeRunNow({ store, stateDir, config, run, signal }));
      if (r.notMerged.length > 0) process.exitCode = EXIT.failed;
      if (opts.json) return printJson(r);
      if (r.candidates.length === 0) {
        printOut(
          `run ${run.id}: nothing to merge (no subtask is complete and unmerged; ${r.subtasks.map((t) => `${t.id}=${t.status}`).join(', ')})`,
        );
        return;
      }
      printOut(
        `run ${run.id}: merged ${r.merged.length} of ${r.candidates.length} complete subtask(s)${r.merged.length ? `: ${r.merged.map((m) => `${m.taskId} (${m.branch} ${m.sha.slice(0, 10)})`).join(', ')}` : ''}`,
      );
      for (const l of r.notMerged) printOut(paint('yellow', `not merged ${l.id}: ${l.reason ?? l.status}`));
    });
  });
}
