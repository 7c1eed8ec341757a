import type { Command } from 'commander';
import { defaultCliCommand, resumeRunDetached, type Started } from '../../../dashboard/actions.js';
import { retrySubtask, type RetryResult } from '../../../orchestrator/retry.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/**
 * `codex-orch runs retry <id> <task>`: a failed or stuck subtask of a stopped
 * plan run starts again from main (orchestrator/retry.ts); then the run is
 * resumed in the background, as the dashboard's Retry does (`--no-resume`:
 * only recorded, for a `codex-orch runs resume <id>` in the foreground).
 */

function printResult(r: RetryResult<Started>): void {
  printOut(
    `${paint('green', 'retrying')} ${r.taskId} of run ${r.runId} (it was ${r.previous}${r.previousReason ? `: ${r.previousReason.split('\n')[0]}` : ''})`,
  );
  if (r.unblocked.length) printOut(`runnable again: ${r.unblocked.join(', ')}`);
  if (r.resumed) {
    printOut(`resuming in the background: pid ${r.resumed.pid}, log ${r.resumed.log}`);
    printOut(paint('dim', `follow it: codex-orch runs tail ${r.runId}`));
  } else printOut(paint('yellow', r.next));
}

export function registerRunsRetry(runs: Command): void {
  storeOptions(
    runs
      .command('retry')
      .argument('<id>', 'run id or prefix')
      .argument('<task>', 'subtask id or its worktree name')
      .description(
        'start a failed or stuck subtask of a stopped plan run again from main (a new branch and codex thread; the earlier branch is kept as task-<slug>-attempt-<n>), then resume the run in the background',
      ),
  )
    .option('--no-resume', 'only record the retry; continue the run yourself with codex-orch runs resume <id>')
    .action(async (id: string, task: string, opts: StoreOptions & { resume: boolean }) => {
      await withStore(opts, async (store, stateDir) => {
        const cli = defaultCliCommand();
        const r = await retrySubtask<Started>({
          store,
          stateDir,
          runId: id,
          taskId: task,
          resume: opts.resume ? (run) => resumeRunDetached({ store, stateDir }, run, cli, process.env) : undefined,
        });
        if (opts.json) return printJson(r);
        printResult(r);
      });
    });
}
