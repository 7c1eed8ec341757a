import type { Command } from 'commander';
import { approveMerge, pendingApprovals, rejectMerge, type ApprovalResult } from '../../../orchestrator/approval.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs approve|reject|approvals`: a person's answer to the merge gate of `run --approve`. */

function printResult(r: ApprovalResult): void {
  const what = r.decision === 'approved' ? paint('green', 'approved') : paint('yellow', 'rejected');
  printOut(`${what} ${r.taskId} of run ${r.runId}${r.head ? ` at ${r.head.slice(0, 10)}` : ''}${r.note ? `: ${r.note}` : ''}`);
  printOut(r.live ? r.next : paint('yellow', r.next));
}

export function registerRunsApproval(runs: Command): void {
  storeOptions(
    runs
      .command('approve')
      .argument('<id>', 'run id or prefix')
      .argument('<task>', 'subtask id or its worktree name')
      .description('let a subtask that waits for approval (run --approve) be merged'),
  ).action(async (id: string, task: string, opts: StoreOptions) => {
    await withStore(opts, async (store) => {
      const r = await approveMerge(store, id, task);
      if (opts.json) return printJson(r);
      printResult(r);
    });
  });

  storeOptions(
    runs
      .command('reject')
      .argument('<id>', 'run id or prefix')
      .argument('<task>', 'subtask id or its worktree name')
      .description('send a subtask that waits for approval back to its worker with a note; it is asked about again after the rework'),
  )
    .requiredOption('--note <text>', 'what the worker should change')
    .action(async (id: string, task: string, opts: StoreOptions & { note: string }) => {
      await withStore(opts, async (store) => {
        const r = await rejectMerge(store, id, task, opts.note);
        if (opts.json) return printJson(r);
        printResult(r);
      });
    });

  storeOptions(
    runs
      .command('approvals')
      .argument('[id]', 'run id or prefix (default: every run)')
      .description('subtasks waiting for approval before their merge'),
  ).action(async (id: string | undefined, opts: StoreOptions) => {
    await withStore(opts, (store) => {
      const pending = pendingApprovals(store, id);
      if (opts.json) return printJson({ pending });
      if (pending.length === 0) return printOut('nothing waits for approval');
      for (const p of pending) {
        printOut(
          `${p.runId}  ${paint('yellow', p.taskId)}  ${p.branch ?? '-'}${p.head ? `@${p.head.slice(0, 10)}` : ''}  ${p.title}${p.live ? '' : paint('dim', '  (run not running)')}`,
        );
      }
      const first = pending[0]!;
      printOut(
        paint('dim', `see: codex-orch runs diff ${first.runId} ${first.taskId}; then runs approve|reject ${first.runId} ${first.taskId}`),
      );
    });
  });
}
