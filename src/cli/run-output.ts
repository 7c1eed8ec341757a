/** How a run reads on the terminal: its status in colour, and a finished run's report with its outcome line and exit code. */
import type { RunReport } from '../orchestrator/report/report.js';
import { renderReportMarkdown } from '../orchestrator/report/report-text.js';
import type { RunStatus } from '../store/index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { paint, printErr, printJson } from './output.js';

export function statusColor(status: RunStatus): string {
  const style =
    status === 'succeeded'
      ? 'green'
      : status === 'running'
        ? 'cyan'
        : status === 'interrupted'
          ? 'yellow'
          : status === 'pending'
            ? 'dim'
            : 'red';
  return paint(style, status);
}

/** Exit code of a finished run: 0 when it succeeded, else by the kind of error. */
export function exitCodeOfReport(report: RunReport): number {
  if (report.status === 'succeeded') return EXIT.ok;
  if (report.status === 'aborted') return EXIT.aborted;
  return report.error ? exitCodeFor(report.error.kind as Parameters<typeof exitCodeFor>[0]) : EXIT.failed;
}

export function interruptedLine(report: RunReport, options: { resumable?: boolean } = {}): string {
  const resumable = options.resumable ?? true;
  const done = `${report.commands.length} commands ran, ${report.merges.length} merge(s) into main`;
  const kept = report.worktreesCreated.filter((w) => !(report.worktreesRemoved ?? []).includes(w));
  const left = kept.length ? `worktrees kept for inspection${resumable ? ' or resume' : ''}: ${kept.join(', ')}` : 'no worktrees were left';
  const next = resumable ? `; continue with: codex-orch resume ${report.runId}` : '';
  return `interrupted: ${done}; running commands and workers were stopped; ${left}; nothing was pushed. Report: ${report.runDir}/report.md${next}`;
}

/** Prints a finished run's report (JSON on stdout, or Markdown), its one-line outcome on stderr, and sets the exit code. */
export function printReport(report: RunReport, json: boolean, options: { resumable?: boolean } = {}): void {
  if (json) printJson(report);
  else process.stdout.write(renderReportMarkdown(report));
  if (report.status === 'aborted') printErr(interruptedLine(report, options));
  else if (report.error) printErr(`codex-orch: ${report.error.message}`);
  process.exitCode = exitCodeOfReport(report);
}
