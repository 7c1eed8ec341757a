import { DiskFullError, asDiskFull, isOrchestratorError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { printErr } from './output.js';

/**
 * The one line and exit code for an error that reached the top: an
 * OrchestratorError says what to do; a full disk (ENOSPC, SQLITE_FULL from
 * anywhere) is a DiskFullError (exit 7); anything else is unexpected.
 */
export function fatalLine(error: unknown): { lines: string[]; code: number } {
  const mapped = asDiskFull(error, (error as { path?: string } | null)?.path ?? 'the state dir');
  if (mapped instanceof DiskFullError || isOrchestratorError(mapped)) {
    return { lines: [`codex-orch: ${mapped.toLine()}`], code: exitCodeFor(mapped.kind) };
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return {
    lines: [`codex-orch: unexpected error: ${message}`, '  (this is a bug; the log file in the state directory has the details)'],
    code: EXIT.failed,
  };
}

/**
 * A stray rejected promise or thrown callback anywhere in the program ends it
 * with the same kind of line as any other error and a non-zero exit — never
 * Node's stack dump or "Unhandled rejection object".
 */
export function installProcessHandlers(): void {
  const die = (error: unknown) => {
    const { lines, code } = fatalLine(error);
    for (const l of lines) printErr(l);
    process.exit(code === EXIT.ok ? EXIT.failed : code);
  };
  process.on('unhandledRejection', die);
  process.on('uncaughtException', die);
}
