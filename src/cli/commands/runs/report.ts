import type { Command } from 'commander';
import { StoreError } from '../../../errors.js';
import type { RunReport } from '../../../orchestrator/report/report.js';
import { renderReportMarkdown } from '../../../orchestrator/report/report-text.js';
import { readJsonFile, runDir } from '../../../store/index.js';
import { printJson } from '../../output.js';
import { storeOptions, withRun, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs report <id>`: the run's report.md (or report.json with --json). */
export function registerRunsReport(runs: Command): void {
  storeOptions(
    runs.command('report').argument('<id>', 'run id or prefix').description("the run's report (report.md, or report.json with --json)"),
  ).action(async (id: string, opts: StoreOptions) => {
    await withRun(opts, id, (run, _store, stateDir) => {
      const report = readJsonFile(runDir(stateDir, run.id).report) as RunReport | undefined;
      if (!report) {
        throw new StoreError(`run ${run.id} has no report yet (status ${run.status})`, {
          hint:
            run.status === 'running' ? `follow it with codex-orch runs tail ${run.id} -f` : `resume it with codex-orch resume ${run.id}`,
        });
      }
      if (opts.json) printJson(report);
      else process.stdout.write(renderReportMarkdown(report));
    });
  });
}
