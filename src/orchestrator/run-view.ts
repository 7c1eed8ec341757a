import fs from 'node:fs';
import path from 'node:path';
import type { RunReport } from './report.js';
import { runIsLive } from './run-record.js';
import { storedRunUsage, type StoredRunUsage } from './run-usage.js';
import {
  readJsonFile,
  runDir,
  runLockKey,
  type CommandRecord,
  type LockRecord,
  type MergeRecord,
  type RunRecord,
  type RunStatus,
  type Store,
  type SubtaskRecord,
  type WorkerRecord,
} from '../store/index.js';

/**
 * What a person (or a program) sees of a run: the shapes `runs list --json` and
 * `runs show --json` print and the dashboard's JSON API serves. Built from the
 * store only, in one place, so the CLI and the dashboard cannot drift apart.
 */

/** The row of `runs list --json` and `GET /api/runs`. */
export interface RunListRow {
  id: string;
  task: string;
  status: RunStatus;
  baseDir: string;
  subtasks: { done: number; total: number };
  merges: number;
  /** The run's tokens (orchestrator, review and workers together), the same as the report's `usage.total`. */
  tokens: { input: number; cachedInput: number; output: number; total: number };
  /** USD of the priced tokens; null when none has a price. */
  costUsd: number | null;
  /** Models whose tokens have no price. */
  unpriced: string[];
  createdAt: string;
  finishedAt: string | null;
  live: boolean;
}

export function runListRow(store: Store, stateDir: string, run: RunRecord): RunListRow {
  const { usage } = storedRunUsage(store, stateDir, run);
  const subtasks = store.listSubtasks(run.id);
  const merged = new Set(
    store
      .listMerges(run.id)
      .filter((m) => m.outcome === 'merged')
      .map((m) => m.branch),
  );
  return {
    id: run.id,
    task: run.task,
    status: run.status,
    baseDir: run.baseDir,
    subtasks: { done: subtasks.filter((t) => t.status === 'merged').length, total: subtasks.length },
    merges: [...merged].filter((b) => store.hasMerged(run.id, b)).length,
    tokens: { input: usage.total.input, cachedInput: usage.total.cachedInput, output: usage.total.output, total: usage.total.tokens },
    costUsd: usage.total.costUsd,
    unpriced: usage.total.unpriced,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt ?? null,
    live: runIsLive(store, run.id),
  };
}

/** The run record without the serialised conversation (large, and not for display). */
export type RunRecordView = Omit<RunRecord, 'agentState'> & { hasConversation: boolean };

export function runRecordForJson(run: RunRecord): RunRecordView {
  const { agentState, ...rest } = run;
  return { ...rest, hasConversation: Boolean(agentState) };
}

/** What `runs show --json` prints and `GET /api/runs/:id` serves. */
export interface RunDetail {
  run: RunRecordView;
  /** Tokens and cost by part (orchestrator, review, workers), and where they were read from. */
  usage: StoredRunUsage['usage'] & { source: StoredRunUsage['source'] };
  live: boolean;
  lock: LockRecord | null;
  commands: { total: number; denied: number };
  workers: WorkerRecord[];
  merges: MergeRecord[];
  subtasks: SubtaskRecord[];
  worktrees: string[];
  files: { root: string; report: string | null; events: string };
}

export function runDetail(
  store: Store,
  stateDir: string,
  run: RunRecord,
  commands: readonly CommandRecord[] = store.listCommands({ runId: run.id }),
): RunDetail {
  const lock = store.getLock(runLockKey(run.id));
  const files = runDir(stateDir, run.id);
  const { usage, source } = storedRunUsage(store, stateDir, run);
  return {
    run: runRecordForJson(run),
    usage: { ...usage, source },
    live: runIsLive(store, run.id),
    lock: lock ?? null,
    commands: { total: commands.length, denied: commands.filter((c) => !c.allowed).length },
    workers: store.listWorkers(run.id),
    merges: store.listMerges(run.id),
    subtasks: store.listSubtasks(run.id),
    worktrees: runWorktrees(store, stateDir, run),
    files: { root: files.root, report: fs.existsSync(files.report) ? files.report : null, events: files.events },
  };
}

/** Worktree directory names (directly in the base dir) that a run worked in. */
export function runWorktrees(store: Store, stateDir: string, run: RunRecord): string[] {
  const names = new Set<string>();
  for (const c of store.listCommands({ runId: run.id })) {
    if (c.worktree.startsWith('task-')) names.add(c.worktree);
    for (const m of c.command.matchAll(/worktree\s+add\s+(?:-\S+\s+)*(?:\S+\/)?(task-[A-Za-z0-9._-]+)/g)) names.add(m[1]!);
  }
  for (const t of store.listSubtasks(run.id)) if (t.worktree) names.add(path.basename(t.worktree));
  const report = readJsonFile(runDir(stateDir, run.id).report) as Partial<RunReport> | undefined;
  for (const w of report?.worktreesCreated ?? []) if (w.startsWith('task-')) names.add(w);
  return [...names].filter((n) => /^task-[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n) && !n.includes('..')).sort();
}
