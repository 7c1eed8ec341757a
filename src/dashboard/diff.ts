import path from 'node:path';
import { currentBranch, runGit } from '../git/index.js';
import { taskWorktreeName } from '../scheduler/index.js';
import type { Store, SubtaskRecord } from '../store/index.js';

export interface SubtaskDiff {
  taskId: string;
  /** `merged`: the merge commit's own changes; `branch`: the branch against main's merge base. */
  source: 'merged' | 'branch';
  base: string;
  head: string;
  diff: string;
  truncated: boolean;
}

export const MAX_DIFF_BYTES = 512 * 1024;

/**
 * A subtask's changes: once merged, what its merge commit brought into main
 * (first parent to merge); before that, its branch against the merge base with
 * main. Undefined when it has neither yet.
 */
export async function subtaskDiff(
  store: Store,
  baseDir: string,
  subtask: SubtaskRecord,
  maxBytes = MAX_DIFF_BYTES,
): Promise<SubtaskDiff | undefined> {
  const main = path.join(baseDir, 'main');
  const branch = subtask.branch ?? taskWorktreeName(subtask.id);
  const merges = store.listMerges(subtask.runId).filter((m) => m.branch === branch || m.subtaskId === subtask.id);
  const merged = store.hasMerged(subtask.runId, branch) ? [...merges].reverse().find((m) => m.outcome === 'merged' && m.sha) : undefined;
  let base: string;
  let head: string;
  let source: SubtaskDiff['source'];
  if (merged?.sha) {
    base = `${merged.sha}^1`;
    head = merged.sha;
    source = 'merged';
  } else {
    const exists = await runGit(main, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { allowFail: true });
    if (exists.exitCode !== 0) return undefined;
    const mainBranch = (await currentBranch(main)) ?? 'HEAD';
    const mb = await runGit(main, ['merge-base', mainBranch, branch], { allowFail: true });
    if (mb.exitCode !== 0) return undefined;
    base = mb.stdout.trim();
    head = branch;
    source = 'branch';
  }
  const out = await runGit(main, ['diff', '-M', '--no-color', '--no-ext-diff', base, head, '--']);
  const truncated = Buffer.byteLength(out.stdout) > maxBytes;
  const diff = truncated ? `${out.stdout.slice(0, out.stdout.lastIndexOf('\n', maxBytes))}\n` : out.stdout;
  return { taskId: subtask.id, source, base, head, diff, truncated };
}
