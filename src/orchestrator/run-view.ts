/**
 * What a run looks like to someone outside it: the shape of `runs show --json`
 * and of a `runs list --json` row, built from the store and the run dir. The
 * CLI prints these and the MCP server returns them, so both say the same.
 */
import fs from 'node:fs';
import { runDir, runLockKey, type RunRecord, type RunStatus, type Store } from '../store/index.js';
import { runWorktrees } from './housekeeping/run-worktrees.js';
import { runIsLive } from './session/run-record.js';
import { storedRunUsage } from './run-usage.js';

/** The row of `runs list --json`. */
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
  /** Subtasks waiting for a person's approval before their merge (run --approve). */
  awaitingApproval: number;
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
    awaitingApproval: subtasks.filter((t) => t.status === 'awaiting_approval').length,
  };
}

/** The run record without the (large, internal) serialised agent state. */
export function runRecordForJson(run: RunRecord): Omit<RunRecord, 'agentState'> & { hasConversation: boolean } {
  const { agentState, ...rest } = run;
  return { ...rest, hasConversation: Boolean(agentState) };
}

/** `runs show --json`: the record, usage and cost (the report's, or from the store while running), liveness, lock, command counts, workers, merges, subtasks, worktrees, files. */
export function runView(store: Store, stateDir: string, run: RunRecord) {
  const lock = store.getLock(runLockKey(run.id));
  const files = runDir(stateDir, run.id);
  const commands = store.listCommands({ runId: run.id });
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

export type RunView = ReturnType<typeof runView>;
