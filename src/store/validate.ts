/** The store's input validation and its one-line errors (ids, statuses, counts, double merges). */
import { StoreError } from '../errors.js';
import {
  FINISHED_RUN_STATUSES,
  MERGE_OUTCOMES,
  RUN_STATUSES,
  SUBTASK_STATUSES,
  WORKER_STATUSES,
  type MergeOutcome,
  type RunStatus,
  type SubtaskStatus,
  type WorkerStatus,
} from './types.js';

export function nowIso(): string {
  return new Date().toISOString();
}

function oneOf<T extends string>(what: string, allowed: readonly T[], value: unknown): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new StoreError(`invalid ${what} ${JSON.stringify(value)}; expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export const checkRunStatus = (v: unknown): RunStatus => oneOf('run status', RUN_STATUSES, v);
export const checkSubtaskStatus = (v: unknown): SubtaskStatus => oneOf('subtask status', SUBTASK_STATUSES, v);
export const checkWorkerStatus = (v: unknown): WorkerStatus => oneOf('worker status', WORKER_STATUSES, v);
export const checkMergeOutcome = (v: unknown): MergeOutcome => oneOf('merge outcome', MERGE_OUTCOMES, v);

export function isFinishedStatus(status: RunStatus): boolean {
  return FINISHED_RUN_STATUSES.includes(status);
}

export function checkNonEmpty(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new StoreError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkCount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new StoreError(`${what} must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return Math.round(value);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value) ?? 'null';
}

/** Does `id` match the abbreviation `abbrev` (a prefix of the id or of its random suffix)? */
export function matchesAbbrev(id: string, abbrev: string): boolean {
  if (abbrev.length === 0) return false;
  if (id.startsWith(abbrev)) return true;
  const dash = id.lastIndexOf('-');
  return dash >= 0 && id.slice(dash + 1).startsWith(abbrev);
}

/** Picks the one candidate or explains the ambiguity. */
export function pickOne<T extends { id: string }>(abbrev: string, candidates: readonly T[]): T | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1) return candidates[0];
  const ids = candidates.map((c) => c.id).sort();
  const shown = ids.slice(0, 10).join(', ') + (ids.length > 10 ? `, … (${ids.length - 10} more)` : '');
  throw new StoreError(`run id "${abbrev}" is ambiguous: it matches ${ids.length} runs: ${shown}`, {
    hint: 'give more characters of the id',
    context: { abbrev, candidates: ids },
  });
}

export function runNotFound(idOrPrefix: string): StoreError {
  return new StoreError(`no run "${idOrPrefix}"`, {
    hint: 'see `codex-orch runs list` for the run ids',
    context: { runId: idOrPrefix },
  });
}

/** `hasMerged` over a branch's records in insertion order. */
export function mergedState(outcomes: readonly MergeOutcome[]): boolean {
  let merged = false;
  for (const o of outcomes) {
    if (o === 'merged') merged = true;
    else if (o === 'reverted') merged = false;
  }
  return merged;
}

export function doubleMerge(runId: string, branch: string): StoreError {
  return new StoreError(`branch ${branch} of run ${runId} is already merged; refusing to record a second merge`, {
    hint: 'check hasMerged() before merging; a reverted merge must be recorded as `reverted` first',
    context: { runId, branch },
  });
}

export function duplicateRun(id: string): StoreError {
  return new StoreError(`a run with id ${id} already exists`, { context: { runId: id } });
}

export function duplicateTaskKey(taskKey: string, existingRunId: string): StoreError {
  return new StoreError(`task ${taskKey} already has run ${existingRunId}`, {
    hint: 'use ensureRun() to get the existing run',
    context: { taskKey, runId: existingRunId },
  });
}

export function asyncTransaction(): StoreError {
  return new StoreError('store.transaction() needs a synchronous function; it returned a promise', {
    hint: 'do the async work outside the transaction and write the results inside it',
  });
}

export function isThenable(value: unknown): boolean {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  );
}
