import path from 'node:path';
import type { RunSummary } from '../dispatcher/types.js';
import type { RunReport } from '../orchestrator/report/report.js';
import { readJsonFile, runDir } from '../store/index.js';

/**
 * What run `runId` did, from its report.json in `stateDir` (undefined when the
 * run wrote none): the GitHub intake's final comment reads it on the machine
 * that ran the task, and a `tasks` queue consumer attaches it to the outcome
 * it returns, so a producer on another machine has it too.
 */
export function runSummaryOf(stateDir: string, baseDir: string, runId: string | undefined): RunSummary | undefined {
  if (!runId) return undefined;
  const report = readJsonFile(runDir(stateDir, runId).report) as RunReport | undefined;
  if (!report) return undefined;
  return {
    subtasks: (report.plan?.result?.subtasks ?? []).map((s) => ({ id: s.id, status: s.status })),
    files: report.filesTouchedInMain,
    tests: report.tests.map((t) => ({ command: t.command, ok: t.ok })),
    merges: report.merges.map((m) => ({ branch: m.branch, sha: m.sha })),
    tokens: report.tokens.total,
    mainDir: path.join(baseDir, 'main'),
  };
}
