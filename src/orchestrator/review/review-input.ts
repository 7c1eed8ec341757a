import type { ReviewInput } from './types.js';

/** How much of a subtask's material the reviewer model is shown. */
export interface ReviewLimits {
  /** Characters of diff (cut at a line boundary; default 60,000 ≈ 15k tokens). */
  maxDiffChars: number;
  /** Characters of acceptance log, kept from the END, where test runners summarise (default 8,000). */
  maxLogChars: number;
  /** Files listed by name (default 300; the rest are counted). */
  maxFiles: number;
}

export const DEFAULT_REVIEW_LIMITS: ReviewLimits = { maxDiffChars: 60_000, maxLogChars: 8_000, maxFiles: 300 };

/** The first `max` characters of `text`, cut at a line boundary, and whether it was cut. */
export function headByLines(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  const slice = text.slice(0, max);
  const nl = slice.lastIndexOf('\n');
  return { text: nl > 0 ? slice.slice(0, nl + 1) : slice, cut: true };
}

/** The last `max` characters of `text`, starting at a line boundary, and whether it was cut. */
export function tailByLines(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  const slice = text.slice(text.length - max);
  const nl = slice.indexOf('\n');
  return { text: nl >= 0 && nl < slice.length - 1 ? slice.slice(nl + 1) : slice, cut: true };
}

/** A fence longer than any backtick run inside `text`, so the block cannot be closed early by its content. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

function block(text: string, lang = ''): string {
  const f = fence(text);
  return `${f}${lang}\n${text.endsWith('\n') || text === '' ? text : `${text}\n`}${f}`;
}

/**
 * The user message of one review: the subtask, the worker's summary, the
 * acceptance result and log, the complete-or-counted file list and the
 * bounded diff. Pure; the same input gives the same text (stable for caching
 * and for tests).
 */
export function formatReviewInput(input: ReviewInput, limits: ReviewLimits = DEFAULT_REVIEW_LIMITS): string {
  const t = input.subtask;
  const lines: string[] = [];
  lines.push(`# Review round ${input.round}`, '');
  lines.push('## Subtask');
  lines.push(`- id: ${t.id}`, `- title: ${t.title}`, `- kind: ${t.kind}`);
  lines.push(`- expected files: ${t.files.map((f) => `\`${f}\``).join(', ') || '(none given)'}`);
  lines.push(`- depends on: ${t.dependsOn.length ? t.dependsOn.join(', ') : '(nothing)'}`);
  lines.push(`- acceptance command: ${t.acceptance ? `\`${t.acceptance}\`` : '(none)'}`);
  lines.push('', '### Instructions the worker was given', block(t.prompt), '');

  lines.push(
    "## The worker's summary",
    input.workerSummary.trim() === '' ? '(the worker gave no summary)' : block(input.workerSummary.trim()),
    '',
  );

  lines.push('## Acceptance');
  if (input.acceptancePassed === null) {
    lines.push(t.acceptance ? 'The acceptance command did not run.' : 'This subtask has no acceptance command.');
  } else {
    lines.push(`Result: ${input.acceptancePassed ? 'PASSED' : 'FAILED'}`);
  }
  if (input.acceptanceLog.trim() !== '') {
    const log = tailByLines(input.acceptanceLog, limits.maxLogChars);
    if (log.cut) lines.push(`(log cut: only its last ${log.text.length} of ${input.acceptanceLog.length} characters are shown)`);
    lines.push(block(log.text));
  }
  lines.push('');

  const files = input.diff.files;
  lines.push(`## Changed files (${files.length})`);
  if (files.length === 0) lines.push('(none: the branch has no committed changes against main)');
  for (const f of files.slice(0, limits.maxFiles)) {
    const counts = f.additions !== undefined || f.deletions !== undefined ? ` +${f.additions ?? 0} -${f.deletions ?? 0}` : '';
    lines.push(`- ${f.status} ${f.path}${counts}`);
  }
  if (files.length > limits.maxFiles) lines.push(`- … and ${files.length - limits.maxFiles} more files`);
  lines.push('');

  lines.push('## Diff against main');
  const diff = headByLines(input.diff.diff, limits.maxDiffChars);
  if (input.diff.truncated || diff.cut) {
    lines.push('(the diff is cut short for size; the file list above is complete)');
  }
  lines.push(diff.text.trim() === '' ? '(empty)' : block(diff.text, 'diff'));
  return `${lines.join('\n')}\n`;
}
