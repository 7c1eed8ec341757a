/**
 * The one place that runs the GitHub CLI (`gh`, from PATH or GH_BIN) for the
 * GitHub task source: argv in, stdout out, failures classified (not installed,
 * not logged in, rate limited, other). Issue text only ever travels as stdin or
 * as a JSON value gh prints; it is never part of an argv.
 */
import { execFile } from 'node:child_process';
import { ConfigError, OrchestratorError } from '../errors.js';

export const GH_BIN_VAR = 'GH_BIN';

export type GhFailureKind = 'missing' | 'auth' | 'rate-limit' | 'failed';

export class GhError extends OrchestratorError {
  constructor(
    readonly failure: GhFailureKind,
    message: string,
    options: { hint?: string; context?: Record<string, unknown> } = {},
  ) {
    super(failure === 'missing' || failure === 'auth' ? 'config' : 'run', message, options);
  }
}

export interface GhResult {
  stdout: string;
  stderr: string;
}

/** Runs one gh invocation; rejects with a GhError. */
export type GhRunner = (args: readonly string[], stdin?: string) => Promise<GhResult>;

const RATE_LIMIT = /rate limit|secondary rate|abuse detection|HTTP 429/i;
const AUTH = /not logged in|gh auth login|authentication required|HTTP 401|bad credentials/i;

function firstLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

/** Classifies a failed gh call by its output. */
export function classifyGhFailure(stderr: string): GhFailureKind {
  if (RATE_LIMIT.test(stderr)) return 'rate-limit';
  if (AUTH.test(stderr)) return 'auth';
  return 'failed';
}

export function ghRunner(options: { bin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): GhRunner {
  const env = options.env ?? process.env;
  const bin = options.bin ?? (env[GH_BIN_VAR]?.trim() || 'gh');
  return (args, stdin) =>
    new Promise<GhResult>((resolve, reject) => {
      const child = execFile(
        bin,
        [...args],
        { env, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000 },
        (error, stdout, stderr) => {
          if (!error) return resolve({ stdout, stderr });
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            return reject(
              new GhError('missing', `the GitHub CLI (${bin}) was not found`, {
                hint: `install gh (https://cli.github.com) or set ${GH_BIN_VAR} to its path`,
              }),
            );
          }
          const text = stderr || stdout || error.message;
          const failure = classifyGhFailure(text);
          const what = `gh ${args.slice(0, 2).join(' ')}`;
          reject(new GhError(failure, `${what} failed: ${firstLine(text) || `exit ${String(code)}`}`, { context: { args, stderr } }));
        },
      );
      child.stdin?.on('error', () => undefined);
      if (stdin !== undefined) child.stdin?.end(stdin);
      else child.stdin?.end();
    });
}

/** `gh auth status`, up front: a clear message instead of a failure on the first issue. */
export async function checkGhAuth(gh: GhRunner): Promise<void> {
  try {
    await gh(['auth', 'status']);
  } catch (error) {
    if (error instanceof GhError && error.failure === 'missing') throw error;
    throw new ConfigError(`gh is not logged in to GitHub: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'run gh auth login (or set GH_TOKEN), then try again',
    });
  }
}
