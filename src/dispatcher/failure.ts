/**
 * Which kind of failure an error that kept a task from running (or stopped it)
 * is: the dispatcher waits on `busy`, re-runs infrastructure failures, and never
 * records `config`.
 */
import { ConfigError, StoreError } from '../errors.js';
import type { OutcomeFailure } from './types.js';

const DISK_FULL = new Set(['ENOSPC', 'SQLITE_FULL', 'EDQUOT']);

function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const context = (e as { context?: { code?: unknown } }).context;
    if (context && typeof context.code === 'string') codes.push(context.code);
  }
  return codes;
}

/**
 * - `busy`: a base-dir or run lock held by another live process (the lock
 *   refusals of store/run-lock.ts carry the holder's pid in their context);
 * - `disk`: ENOSPC / SQLITE_FULL anywhere in the cause chain (or a DiskFullError);
 * - `config`: a ConfigError (no API key, no main/ in the base dir, a bad policy file);
 * - `error`: anything else that kept the run from starting.
 */
export function failureOf(error: unknown): OutcomeFailure {
  if (
    error instanceof StoreError &&
    typeof error.context.pid === 'number' &&
    (error.context.baseDir !== undefined || error.context.runId !== undefined)
  )
    return 'busy';
  if ((error as { name?: unknown } | undefined)?.name === 'DiskFullError' || codesOf(error).some((c) => DISK_FULL.has(c))) return 'disk';
  if (error instanceof ConfigError) return 'config';
  return 'error';
}
