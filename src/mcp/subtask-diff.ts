/**
 * The diff of one subtask of a run, for `get_diff`: what its merge brought into
 * main (merge commit against its first parent) once merged, else its branch
 * against the point where it forked from main. Read-only git.
 */
import path from 'node:path';
import { StoreError, UsageError } from '../errors.js';
import { runGit } from '../git/index.js';
import type { RunRecord, Store } from '../store/index.js';

export interface SubtaskDiff {
  runId: string;
  task: string;
  branch: string;
  /** `merged`: the merge commit's changes to main; `branch`: the unmerged branch since it forked. */
  source: 'merged' | 'branch';
  base: string;
  head: string;
  files: { path: string; additions: number | null; deletions: number | null }[];
  diff: string;
  truncated: boolean;
}

const MAX_DIFF_BYTES = 200_000;

export async function subtaskDiff(store: Store, run: RunRecord, task: string): Promise<SubtaskDiff> {
  const subtask = store.getSubtask(run.id, task);
  const merges = store.listMerges(run.id);
  const branch = subtask?.branch ?? merges.find((m) => m.subtaskId === task)?.branch ?? `task-${task}`;
  if (!subtask && !merges.some((m) => m.branch === branch)) {
    const known = store.listSubtasks(run.id).map((t) => t.id);
    throw new UsageError(`run ${run.id} has no subtask ${JSON.stringify(task)}`, {
      hint: known.length ? `its subtasks: ${known.join(', ')}` : 'it has no subtasks (not a plan run?)',
    });
  }
  const main = path.join(run.baseDir, 'main');
  const merged = [...merges].reverse().find((m) => m.branch === branch && m.outcome === 'merged' && m.sha);
  let base: string;
  let head: string;
  let range: string[];
  if (merged?.sha) {
    head = merged.sha;
    base = (await runGit(main, ['rev-parse', '--verify', '--quiet', `${merged.sha}^1`])).stdout.trim();
    range = [base, head];
  } else {
    const tip = await runGit(main, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { allowFail: true });
    if (tip.exitCode !== 0)
      throw new StoreError(`subtask ${task} of run ${run.id} has no branch ${branch} in ${main} and no merge`, {
        hint: 'it has not produced a commit yet',
      });
    head = tip.stdout.trim();
    base = (await runGit(main, ['merge-base', 'HEAD', head])).stdout.trim();
    range = [base, head];
  }
  const numstat = await runGit(main, ['diff', '--numstat', '-M', '--end-of-options', ...range]);
  const files = numstat.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [a, d, ...p] = line.split('\t');
      return { path: p.join('\t'), additions: a === '-' ? null : Number(a), deletions: d === '-' ? null : Number(d) };
    });
  const full = (await runGit(main, ['diff', '-M', '--no-color', '--no-ext-diff', '--end-of-options', ...range])).stdout;
  const truncated = Buffer.byteLength(full) > MAX_DIFF_BYTES;
  const diff = truncated
    ? `${full.slice(0, full.lastIndexOf('\n', MAX_DIFF_BYTES))}\n[diff truncated at ${MAX_DIFF_BYTES} bytes; ${files.length} file(s) changed]\n`
    : full;
  return { runId: run.id, task, branch, source: merged ? 'merged' : 'branch', base, head, files, diff, truncated };
}
