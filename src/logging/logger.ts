import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The program's structured log: pino, written synchronously to
 * `<stateDir>/codex-orchestrator.log` so a killed process loses nothing.
 * Human output goes to the terminal through `src/cli/output.ts`, never here.
 */
export function createLogger(options: { stateDir?: string | undefined; level?: string; file?: string }): Logger {
  const file = options.file ?? (options.stateDir ? path.join(options.stateDir, 'codex-orchestrator.log') : undefined);
  if (!file) return pino({ level: 'silent' });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const dest = pino.destination({ dest: file, sync: true, mkdir: true });
  // A log line that cannot be written (a full disk) is dropped: the log must never be what crashes a run.
  dest.on('error', () => undefined);
  return pino({ level: options.level ?? 'info', base: { pid: process.pid } }, dest);
}

/** A logger that writes nothing (tests, library callers who pass none). */
export const silentLogger: Logger = pino({ level: 'silent' });
