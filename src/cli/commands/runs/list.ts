import type { Command } from 'commander';
import { formatUsd } from '../../../cost/index.js';
import { age } from '../../../dashboard/html.js';
import { UsageError } from '../../../errors.js';
import { runListRow } from '../../../orchestrator/run-view.js';
import { reconcileRunStatus } from '../../../orchestrator/session/run-record.js';
import { RUN_STATUSES, type RunStatus } from '../../../store/index.js';
import { oneLine, paint, printJson, printOut, printTable } from '../../output.js';
import { statusColor } from '../../run-output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs list`: runs, newest first, as a table (or `{ runs }` with --json). */
export function registerRunsList(runs: Command): void {
  storeOptions(runs.command('list').description('runs, newest first: id, task, status, subtasks done/total, merges, tokens, age'))
    .option('--status <status>', `only runs with this status (${RUN_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most n runs')
    .action(async (opts: StoreOptions & { status?: string; limit?: string }) => {
      if (opts.status && !RUN_STATUSES.includes(opts.status as RunStatus))
        throw new UsageError(`--status ${opts.status}: expected one of ${RUN_STATUSES.join(', ')}`);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
        throw new UsageError(`--limit ${opts.limit}: expected a positive integer`);
      await withStore(opts, (store, stateDir) => {
        const rows = store
          .listRuns()
          .map((r) => reconcileRunStatus(store, r))
          .filter((r) => !opts.status || r.status === opts.status)
          .slice(0, limit)
          .map((r) => runListRow(store, stateDir, r));
        if (opts.json) return printJson({ runs: rows });
        if (rows.length === 0) return printOut('no runs');
        printTable([
          ['ID', 'STATUS', 'SUBTASKS', 'MERGES', 'TOKENS', 'COST', 'AGE', 'TASK'].map((h) => paint('bold', h)),
          ...rows.map((r) => [
            r.id,
            statusColor(r.status) + (r.awaitingApproval ? paint('yellow', ` (${r.awaitingApproval} to approve)`) : ''),
            r.subtasks.total ? `${r.subtasks.done}/${r.subtasks.total}` : '-',
            String(r.merges),
            String(r.tokens.total),
            r.costUsd !== null ? `${formatUsd(r.costUsd)}${r.unpriced.length ? '+?' : ''}` : '-',
            age(r.createdAt),
            oneLine(r.task, 60),
          ]),
        ]);
      });
    });
}
