/**
 * What a resumed plan run needs from the earlier process: which subtasks were
 * complete or running when it stopped, their last worker (id sequence, codex
 * thread, and its result when it had finished), and whether a complete one's
 * rework was cut off.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ManifestTask } from '../../scheduler/index.js';
import type { Decision } from './decisions-log.js';

/**
 * The workers an earlier process of this run launched for a subtask
 * (`<runDir>/workers/<slug>-<n>`): the highest n (new workers continue after
 * it, so no worker directory is reused) and the newest codex thread id (from
 * meta.json, or the `thread.started` event when the process died before
 * meta.json had it). Threads of workers numbered `threadsAfter` or lower are
 * not offered (a retried subtask starts a new thread; its earlier ones stay
 * on disk).
 */
export function previousWorkers(runDir: string, slug: string, threadsAfter = 0): { seq: number; threadId: string | null } {
  const seqs = workerSeqs(runDir, slug);
  for (const n of seqs) {
    if (n <= threadsAfter) break;
    const dir = path.join(runDir, 'workers', `${slug}-${n}`);
    let threadId: string | null = readMeta(dir)?.threadId ?? null;
    if (!threadId) {
      try {
        const m = /"thread_id"\s*:\s*"([^"]+)"/.exec(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'));
        threadId = m?.[1] ?? null;
      } catch {
        /* no events */
      }
    }
    if (threadId) return { seq: seqs[0] ?? 0, threadId };
  }
  return { seq: seqs[0] ?? 0, threadId: null };
}

/** The n of the subtask's worker directories (`<slug>-<n>`), newest first. */
function workerSeqs(runDir: string, slug: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(runDir, 'workers'));
  } catch {
    return [];
  }
  const prefix = `${slug}-`;
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => Number(n.slice(prefix.length)))
    .sort((a, b) => b - a);
}

/** What the worker layer's meta.json says about a worker's end (see workers/codex/worker.ts). */
interface WorkerMeta {
  status?: string;
  threadId?: string | null;
  cwd?: string;
  result?: { goal_met?: unknown; summary?: unknown } | null;
  changedFiles?: string[];
  usage?: { inputTokens?: number; cachedInputTokens?: number; outputTokens?: number };
}

function readMeta(dir: string): WorkerMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as WorkerMeta;
  } catch {
    return undefined; // no meta.json yet, or a torn one
  }
}

/** A worker of an earlier process that had finished with its goal met: what a resume uses instead of running it again. */
export interface FinishedWorker {
  workerId: string;
  runDir: string;
  threadId: string | null;
  summary: string;
  changedFiles: string[];
  usage: { input: number; cachedInput: number; output: number };
}

/**
 * The subtask's newest worker of an earlier process when it had finished —
 * meta.json has the worker layer's final `complete` and a result with
 * goal_met true — in the subtask's worktree: the process stopped (killed, a
 * full disk) after the worker ended but before the run recorded what came
 * next. Anything else (no meta.json, a worker cut off, an error, goal not
 * met, another directory, a worker of an attempt a retry set aside) is null: the subtask's worker runs again.
 */
export function finishedWorker(runDir: string, slug: string, worktree: string, after = 0): FinishedWorker | null {
  const newest = workerSeqs(runDir, slug)[0];
  // Workers numbered `after` or lower belong to an attempt a retry set aside.
  if (newest === undefined || newest <= after) return null;
  const workerId = `${slug}-${newest}`;
  const dir = path.join(runDir, 'workers', workerId);
  const meta = readMeta(dir);
  if (meta?.status !== 'complete' || meta.result?.goal_met !== true || !meta.cwd) return null;
  if (path.resolve(meta.cwd) !== path.resolve(worktree)) return null;
  return {
    workerId,
    runDir: dir,
    threadId: meta.threadId ?? null,
    summary: typeof meta.result.summary === 'string' ? meta.result.summary : '',
    changedFiles: meta.changedFiles ?? [],
    usage: { input: meta.usage?.inputTokens ?? 0, cachedInput: meta.usage?.cachedInputTokens ?? 0, output: meta.usage?.outputTokens ?? 0 },
  };
}

/**
 * A saved manifest from a run that stopped (killed, aborted, out of budget):
 * merged work stays merged; complete work (accepted and reviewed, committed on
 * its branch) goes to the merge queue without a worker; running work is
 * restarted on its branch, resuming its codex thread. In merge-only mode only
 * complete work is touched. Both become `pending` for the scheduler.
 */
export function markResumed(tasks: Iterable<ManifestTask>, mergeOnly: boolean): { complete: Set<string>; running: Set<string> } {
  const complete = new Set<string>();
  const running = new Set<string>();
  for (const t of tasks) {
    // awaiting_approval is written by the approval gate to the store only; a manifest that has it means complete.
    if (t.status === 'complete' || t.status === 'awaiting_approval') {
      complete.add(t.id);
      t.reason = 'resumed: it was complete when an earlier run stopped; its branch goes to the merge queue';
      t.status = 'pending';
    } else if (t.status === 'running' && !mergeOnly) {
      running.add(t.id);
      t.reason = 'restarted: it was running when an earlier run stopped';
      t.status = 'pending';
    }
  }
  return { complete, running };
}

/**
 * What a subtask that was `complete` when an earlier process stopped still
 * needs before it can be merged, read from that process's decisions: the
 * last merge outcome after it became complete. A failed smoke test (its merge
 * was reverted in main) or a conflict means its rework was cut off and is
 * done again (both git preparations are idempotent); otherwise its branch
 * only waits for the queue.
 */
export function pendingRework(prior: readonly Decision[], id: string): { kind: 'smoke'; revertSha: string } | { kind: 'conflict' } | null {
  let from = -1;
  prior.forEach((d, i) => {
    if (d.taskId === id && d.kind === 'schedule' && d.action === 'completed') from = i;
  });
  const outcomes = prior
    .slice(from + 1)
    .filter((d) => d.taskId === id && d.kind === 'merge' && ['merged', 'conflict', 'smoke-failed'].includes(d.action));
  const last = outcomes[outcomes.length - 1];
  if (last?.action === 'smoke-failed' && typeof last.data?.sha === 'string') return { kind: 'smoke', revertSha: last.data.sha };
  if (last?.action === 'conflict') return { kind: 'conflict' };
  return null;
}
