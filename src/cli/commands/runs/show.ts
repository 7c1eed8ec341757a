import type { Command } from 'commander';
import { formatUsd } from '../../../cost/index.js';
import { age } from '../../../dashboard/html.js';
import { runView } from '../../../orchestrator/run-view.js';
import { oneLine, paint, printJson, printOut } from '../../output.js';
import { statusColor } from '../../run-output.js';
import { storeOptions, withRun, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs show <id>`: one run's status, lock, usage, workers, merges, subtasks and files. */
export function registerRunsShow(runs: Command): void {
  storeOptions(
    runs.command('show').argument('<id>', 'run id or prefix').description('one run: status, lock, workers, merges, subtasks, files'),
  ).action(async (id: string, opts: StoreOptions) => {
    await withRun(opts, id, (run, store, stateDir) => {
      const shown = runView(store, stateDir, run);
      const { lock, workers, merges, subtasks, files } = shown;
      const { source: usageSource, ...usage } = shown.usage;
      if (opts.json) return printJson(shown);
      printOut(`${paint('bold', run.id)}  ${statusColor(run.status)}${shown.live && lock ? ` (pid ${lock.pid})` : ''}`);
      printOut(`task:      ${oneLine(run.task, 200)}`);
      printOut(`base dir:  ${run.baseDir}`);
      printOut(`created:   ${run.createdAt} (${age(run.createdAt)} ago)${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`);
      printOut(`model:     ${run.model ?? '-'}${run.dryRun ? ' (dry run)' : ''}`);
      const t = usage.total;
      printOut(
        `tokens:    ${t.tokens} (in ${t.input}, cached ${t.cachedInput}, out ${t.output}; orchestrator ${usage.orchestrator.tokens}, review ${usage.review.tokens}, workers ${usage.workers.tokens})` +
          `${t.costUsd !== null ? ` cost ${formatUsd(t.costUsd)}` : ''}${t.unpriced.length ? `; no price for ${t.unpriced.join(', ')}` : ''}${usageSource === 'store' ? ' — so far' : ''}`,
      );
      printOut(`commands:  ${shown.commands.total}${shown.commands.denied ? ` (${shown.commands.denied} denied)` : ''}`);
      if (run.error) printOut(`error:     ${run.error}`);
      if (subtasks.length) printOut(`subtasks:  ${subtasks.map((t) => `${t.id}=${t.status}`).join(', ')}`);
      printOut(`worktrees: ${shown.worktrees.join(', ') || 'none'}`);
      printOut(`merges:    ${merges.map((m) => `${m.branch} ${m.outcome}${m.sha ? ` ${m.sha.slice(0, 10)}` : ''}`).join(', ') || 'none'}`);
      for (const w of workers)
        printOut(
          `worker:    ${w.workerId} ${w.status}${w.threadId ? ` thread ${w.threadId}` : ''}${w.usage ? ` tokens ${w.usage.input + w.usage.output}` : ''}`,
        );
      printOut(`files:     ${files.root}`);
      for (const t of store.listSubtasks(run.id).filter((x) => x.status === 'awaiting_approval')) {
        printOut(
          paint(
            'yellow',
            `waiting for approval: ${t.id} — codex-orch runs diff ${run.id} ${t.id}; codex-orch runs approve|reject ${run.id} ${t.id}`,
          ),
        );
      }
      if (run.status === 'interrupted' || run.status === 'aborted') printOut(paint('yellow', `resume with: codex-orch resume ${run.id}`));
    });
  });
}
