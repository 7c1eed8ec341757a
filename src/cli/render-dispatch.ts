import type { DispatchEvent, DispatchSummary, DispatchSummaryRow } from '../dispatcher/index.js';
import { paint } from './output.js';

/** 850ms, 12.3s, 4m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes}m ${String(totalSeconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

const formatCount = (n: number): string => n.toLocaleString('en-US');

/** The first line of `text`, cut to `width` characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const oneLine = firstLine.length < text.trimEnd().length ? `${firstLine} …` : firstLine;
  const chars = [...oneLine];
  if (chars.length <= width) return oneLine;
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

type Stream = NodeJS.WriteStream;

function statusCell(status: DispatchSummaryRow['status'], stream: Stream): string {
  const text = (status === 'interrupted' ? 'stopped' : status).padEnd(9);
  if (status === 'succeeded') return paint('green', text, stream);
  if (status === 'failed') return paint('red', text, stream);
  return paint('yellow', text, stream);
}

export interface RenderOptions {
  /** Terminal width; the task column takes what is left. Default 100. */
  width?: number;
  /** Where the text goes, to decide on colour (NO_COLOR, TTY). Default process.stdout. */
  stream?: Stream;
}

/**
 * The dispatch summary as a table (id, task, status, merges, tokens, time),
 * a total line, and one line per failed or skipped task with its reason.
 */
export function renderDispatchSummary(summary: DispatchSummary, options: RenderOptions = {}): string {
  const stream = options.stream ?? process.stdout;
  const width = Math.max(60, options.width ?? 100);
  const idWidth = Math.min(16, Math.max(2, ...summary.rows.map((r) => r.id.length)));
  const fixed = idWidth + 2 + 9 + 2 + 6 + 2 + 9 + 2 + 8 + 2;
  const taskWidth = Math.max(16, width - fixed);
  const lines: string[] = [];
  const header = [
    'id'.padEnd(idWidth),
    'task'.padEnd(taskWidth),
    'status'.padEnd(9),
    'merges'.padStart(6),
    'tokens'.padStart(9),
    'time'.padStart(8),
  ].join('  ');
  lines.push(paint('bold', header, stream));
  for (const row of summary.rows) {
    lines.push(
      [
        truncate(row.id, idWidth).padEnd(idWidth),
        truncate(row.task, taskWidth).padEnd(taskWidth),
        statusCell(row.status, stream),
        String(row.merges).padStart(6),
        formatCount(row.tokens).padStart(9),
        (row.status === 'skipped' ? '-' : formatDuration(row.durationMs)).padStart(8),
      ].join('  '),
    );
  }
  const parts = [`${summary.succeeded} succeeded`];
  if (summary.failed > 0) parts.push(paint('red', `${summary.failed} failed`, stream));
  if (summary.interrupted > 0) parts.push(paint('yellow', `${summary.interrupted} interrupted`, stream));
  if (summary.skipped > 0) parts.push(paint('yellow', `${summary.skipped} not started`, stream));
  const duplicates = summary.rows.filter((r) => r.duplicate).length;
  if (duplicates > 0) parts.push(`${duplicates} already run before (earlier outcome shown)`);
  const noun = summary.total === 1 ? 'task' : 'tasks';
  lines.push(
    '',
    `${summary.total} ${noun}: ${parts.join(', ')}; ${summary.merges} merges, ${formatCount(summary.tokens)} tokens, ${formatDuration(summary.durationMs)}` +
      (summary.aborted ? paint('yellow', ' (aborted)', stream) : ''),
  );
  const problems = summary.rows.filter((r) => r.status !== 'succeeded' && r.error);
  for (const row of problems) {
    const where = row.baseDir ? ` in ${row.baseDir}` : '';
    lines.push(`  ${paint(row.status === 'failed' ? 'red' : 'yellow', row.id, stream)}${where}: ${row.error}`);
  }
  for (const error of summary.sourceErrors) lines.push(`  ${paint('yellow', 'source', stream)}: ${error}`);
  return lines.join('\n');
}

/**
 * The line printed when a dispatch was stopped (SIGINT/SIGTERM): what was done
 * and what was left, and where the left-over tasks are.
 */
export function renderShutdownLine(summary: DispatchSummary, options: { inbox?: boolean } = {}): string {
  const finished = summary.succeeded + summary.failed;
  const done = `${finished} finished (${summary.succeeded} succeeded, ${summary.failed} failed)`;
  const left: string[] = [];
  if (summary.interrupted > 0) {
    const runs = summary.rows.filter((r) => r.status === 'interrupted' && r.runId).map((r) => r.runId as string);
    left.push(
      `${summary.interrupted} interrupted (state recorded${runs.length > 0 ? `; runs ${runs.join(', ')}` : ''}; they run again when offered again${options.inbox ? ', inbox files are back in the inbox' : ''})`,
    );
  }
  if (summary.skipped > 0) left.push(`${summary.skipped} not started (handed back to their source)`);
  return `stopped: ${done}; ${left.length > 0 ? left.join('; ') : 'nothing left running'}`;
}

/** One progress line for stderr, or undefined for events not worth a line. */
export function renderDispatchEvent(event: DispatchEvent, stream: Stream = process.stderr): string | undefined {
  switch (event.type) {
    case 'task-started':
      return `${paint('cyan', 'start', stream)}  ${event.id}  ${event.baseDir}  ${truncate(event.task, 60)}`;
    case 'task-finished': {
      const { row } = event;
      const word =
        row.status === 'succeeded'
          ? paint('green', 'done ', stream)
          : row.status === 'interrupted'
            ? paint('yellow', 'stop ', stream)
            : paint('red', 'fail ', stream);
      const tail =
        row.status === 'succeeded'
          ? `${row.merges} merge${row.merges === 1 ? '' : 's'}, ${formatDuration(row.durationMs)}`
          : (row.error ?? row.status);
      return `${word}  ${row.id}  ${tail}${row.duplicate ? ' (already run before: earlier outcome)' : ''}`;
    }
    case 'task-waiting':
      return `${paint('yellow', 'wait ', stream)}  ${event.id}  ${event.reason}; trying again in ${formatDuration(event.retryInMs)}`;
    case 'task-rejected':
      return `${paint('red', 'skip ', stream)}  ${event.row.id}  ${event.row.error ?? ''}`;
    case 'source-error':
      return `${paint('yellow', 'warn ', stream)}  ${event.id}  ${event.operation} failed: ${event.error}`;
    case 'aborting':
      return `${paint('yellow', 'stopping', stream)}: no new tasks will start; waiting for ${event.running} running, ${event.pending} not started`;
    default:
      return undefined;
  }
}
