import fs from 'node:fs';
import path from 'node:path';
import type { CommandLogEntry } from './types.js';

/**
 * The command log: one JSON line per call (allowed, denied or dry-run),
 * appended synchronously with O_APPEND so concurrent calls never interleave
 * within a line and a killed process loses nothing already decided.
 */
export function appendCommandLog(file: string, entry: CommandLogEntry): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify(entry)}\n`, { encoding: 'utf8', flag: 'a' });
}

export function readCommandLog(file: string): CommandLogEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CommandLogEntry);
}
