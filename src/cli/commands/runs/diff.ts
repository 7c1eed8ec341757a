import type { Command } from 'commander';
import type { FileDiff } from '../../../git/index.js';
import { subtaskDiffs } from '../../../orchestrator/subtask-diffs.js';
import { paint, printJson, printOut } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/**
 * `codex-orch runs diff <run> [<task>]`: what a subtask's branch changes
 * against the base it forked from — before the merge (what an approval lets
 * in) or, once merged, what its merge commit brought in.
 */

function totals(files: FileDiff[]): { additions: number; deletions: number } {
  return files.reduce((a, f) => ({ additions: a.additions + f.additions, deletions: a.deletions + f.deletions }), {
    additions: 0,
    deletions: 0,
  });
}

function fileLabel(f: FileDiff): string {
  return f.status === 'renamed' || f.status === 'copied' ? `${f.oldPath} => ${f.path}` : f.path;
}

/** `git diff --stat`-like lines: path | n ++--, then the summary. */
export function statLines(files: FileDiff[], width = 40): string[] {
  const labels = files.map(fileLabel);
  const pad = Math.max(0, ...labels.map((l) => l.length));
  const most = Math.max(1, ...files.map((f) => f.additions + f.deletions));
  const lines = files.map((f, i) => {
    const n = f.additions + f.deletions;
    const scale = most > width ? width / most : 1;
    const plus = Math.round(f.additions * scale);
    const minus = Math.round(f.deletions * scale);
    const bar = f.binary
      ? 'Bin'
      : `${String(n).padStart(String(most).length)} ${paint('green', '+'.repeat(plus))}${paint('red', '-'.repeat(minus))}`;
    return ` ${labels[i]!.padEnd(pad)} | ${bar}`;
  });
  const t = totals(files);
  lines.push(
    ` ${files.length} file${files.length === 1 ? '' : 's'} changed, ${t.additions} insertion${t.additions === 1 ? '' : 's'}(+), ${t.deletions} deletion${t.deletions === 1 ? '' : 's'}(-)`,
  );
  return lines;
}

/** The unified diff rebuilt from the parsed files, coloured when the terminal takes colour. */
export function diffLines(files: FileDiff[]): string[] {
  const lines: string[] = [];
  for (const f of files) {
    lines.push(paint('bold', `--- ${f.status === 'added' ? '/dev/null' : `a/${f.oldPath}`}`));
    lines.push(paint('bold', `+++ ${f.status === 'deleted' ? '/dev/null' : `b/${f.path}`}`));
    if (f.binary) lines.push(paint('dim', `binary file ${f.status}`));
    for (const h of f.hunks) {
      lines.push(paint('cyan', h.header));
      for (const l of h.lines) {
        if (l.kind === 'add') lines.push(paint('green', `+${l.text}`));
        else if (l.kind === 'del') lines.push(paint('red', `-${l.text}`));
        else if (l.kind === 'note') lines.push(paint('dim', `\\ ${l.text}`));
        else lines.push(` ${l.text}`);
      }
    }
  }
  return lines;
}

export function registerRunsDiff(runs: Command): void {
  storeOptions(
    runs
      .command('diff')
      .argument('<id>', 'run id or prefix')
      .argument('[task]', 'subtask id or its worktree name (default: every subtask with a branch)')
      .description("a subtask's changes against the base it forked from (its merge commit once merged); --json gives files and hunks"),
  )
    .option('--stat', 'only the changed files with their line counts')
    .action(async (id: string, task: string | undefined, opts: StoreOptions & { stat?: boolean }) => {
      await withStore(opts, async (store) => {
        const run = store.requireRun(id);
        const diffs = await subtaskDiffs(store, run, task);
        if (opts.json) return printJson({ runId: run.id, subtasks: diffs.map((d) => ({ ...d, ...totals(d.files) })) });
        for (const d of diffs) {
          const t = totals(d.files);
          printOut(
            paint(
              'bold',
              `subtask ${d.taskId} (${d.branch}, ${d.status}): ${d.files.length} file(s), +${t.additions} -${t.deletions}, ${d.merged ? 'as merged' : 'against its base'} ${d.base.slice(0, 10)}..${d.head.slice(0, 10)}`,
            ),
          );
          for (const line of opts.stat ? statLines(d.files) : diffLines(d.files)) printOut(line);
          if (diffs.length > 1) printOut('');
        }
      });
    });
}
