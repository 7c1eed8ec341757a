import path from 'node:path';
import { UsageError } from '../errors.js';

/** A path from the command line, made absolute against the caller's working directory (undefined stays undefined). */
export function resolveFromCwd(p: string | undefined): string | undefined {
  return p === undefined || p.trim() === '' ? p : path.resolve(p);
}

/** A count flag that must be a whole number ≥ 1 (--max-parallel, --concurrency): one message for all of them. */
export function parseAtLeastOne(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
  return n;
}
