import { loadPrices, priceRunUsage, type PriceTable, type RunUsage } from '../cost/index.js';
import { readJsonFile, runDir, type RunRecord, type Store } from '../store/index.js';
import type { RunReport } from './report/report.js';

/**
 * A run's usage for `runs list`, `runs show` and their `--json`: the report's
 * (the same numbers as report.md) once the run has one; for a run still going
 * (or cut off before its report), what the store has counted so far — the
 * orchestrator's tokens and each finished worker's, priced the same way.
 */
export interface StoredRunUsage {
  usage: RunUsage;
  /** 'report': final; 'store': a running or cut-off run, review tokens not yet counted. */
  source: 'report' | 'store';
}

export function storedRunUsage(store: Store, stateDir: string, run: RunRecord, prices: PriceTable = loadPrices()): StoredRunUsage {
  const report = readJsonFile(runDir(stateDir, run.id).report) as Partial<RunReport> | undefined;
  if (report?.usage) return { usage: report.usage, source: 'report' };
  const workers = store.listWorkers(run.id);
  const usage = priceRunUsage(
    {
      orchestrator: {
        model: run.model ?? null,
        tally: { input: run.tokens.input, cachedInput: 0, output: run.tokens.output },
        requests: 0,
      },
      review: { model: null, tally: { input: 0, cachedInput: 0, output: 0 } },
      workers: workers.map((w) => ({
        workerId: w.workerId,
        worktree: w.subtaskId ?? w.workerId,
        taskId: w.subtaskId ?? null,
        model: null,
        tally: { input: w.usage?.input ?? 0, cachedInput: w.usage?.cachedInput ?? 0, output: w.usage?.output ?? 0 },
      })),
    },
    prices,
  );
  // A report from before usage was recorded: its total is still the run's total.
  if (report?.tokens && typeof report.tokens.total === 'number' && report.tokens.total > usage.total.tokens) {
    return { usage: { ...usage, total: { ...usage.total, tokens: report.tokens.total } }, source: 'report' };
  }
  return { usage, source: 'store' };
}
