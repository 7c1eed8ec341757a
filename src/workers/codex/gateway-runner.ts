import type { Config } from '../../config/config.js';
import { definedProps } from '../../defined-props.js';
import type { Logger } from '../../logging/logger.js';
import type { CommandResult } from '../../tools/run-repo-command/types.js';
import type { CodexEvent } from './events.js';
import { parseSeedCodexArgs, SeedArgsError, seedRequestProblem, seedWorkdir, type SeedCodexRequest } from './seed-args.js';
import { codexChoices, runCodexWorker, type WorkerRun } from './worker.js';

export { parseSeedCodexArgs, SeedArgsError, type SeedCodexRequest } from './seed-args.js';

function tokens(run: WorkerRun): string {
  const u = run.usage;
  return `input ${u.inputTokens} (cached ${u.cachedInputTokens}), output ${u.outputTokens}`;
}

/** The compact text the model sees: outcome, not the event stream. */
export function renderWorkerRun(run: WorkerRun): string {
  const lines = [
    `codex worker: ${run.status}${run.exitCode !== null ? ` (exit ${run.exitCode})` : ''} in ${(run.durationMs / 1000).toFixed(1)} s, ${run.attempts} attempt(s), profile ${run.profile}`,
  ];
  if (run.result) {
    lines.push(`goal_met: ${run.result.goal_met}`);
    lines.push(`summary: ${run.result.summary}`);
    if (run.result.followup_prompt) lines.push(`followup_prompt: ${run.result.followup_prompt}`);
    if (run.result.notes) lines.push(`notes: ${run.result.notes}`);
  } else {
    lines.push('goal_met: unknown (no valid result)');
  }
  if (run.reason) lines.push(`reason: ${run.reason.split('\n')[0]}`);
  lines.push(
    run.changedFiles.length > 0 ? `changed files (git status --porcelain): ${run.changedFiles.join(', ')}` : 'changed files: none',
  );
  lines.push(`tokens: ${tokens(run)}`);
  lines.push(`thread: ${run.threadId ?? 'none'}${run.threadId ? ` (continue with: codex exec resume ${run.threadId} "<prompt>")` : ''}`);
  lines.push(`run dir: ${run.runDir}`);
  return `${lines.join('\n')}\n`;
}

/** Exit code for the gateway: codex's own when it failed, else 124 for stuck and 1 for other errors. */
export function gatewayExitCode(run: WorkerRun): number {
  if (run.status === 'complete') return 0;
  if (run.status === 'stuck') return 124;
  return run.exitCode !== null && run.exitCode !== 0 ? run.exitCode : 1;
}

function refused(reason: string, started: number): CommandResult {
  return {
    ok: false,
    exitCode: 2,
    stdout: '',
    stderr: `${reason}\n`,
    durationMs: Date.now() - started,
    truncated: false,
    denied: false,
    rule: null,
    reason,
    dryRun: false,
  };
}

/** How the gateway runs one approved `codex exec …` line (the gateway's CodexRunner takes the same). */
export interface GatewayCodexOptions {
  cwd: string;
  config: Config;
  signal?: AbortSignal;
  logger?: Logger;
  runId?: string;
  allowDangerFullAccess?: boolean;
  onEvent?: (event: CodexEvent) => void;
}

/**
 * Runs a policy-approved `codex …` line (the words after `codex`) as a worker:
 * interprets the seed's flags, rebuilds argv for the installed codex, and
 * returns a CommandResult with `worker` filled and a compact stdout.
 */
export async function runCodexFromGateway(codexArgs: string[], options: GatewayCodexOptions): Promise<CommandResult> {
  const started = Date.now();
  let req: SeedCodexRequest;
  try {
    req = parseSeedCodexArgs(codexArgs);
  } catch (error) {
    if (error instanceof SeedArgsError) return refused(error.message, started);
    throw error;
  }
  const problem = seedRequestProblem(req, { cwd: options.cwd, allowDangerFullAccess: options.allowDangerFullAccess });
  if (problem) return { ...refused(problem, started), denied: true, rule: 'codex' };
  const cwd = seedWorkdir(req, options.cwd) ?? options.cwd;
  const config: Config =
    req.config.length > 0
      ? Object.freeze({
          ...options.config,
          codexArgs: Object.freeze([...options.config.codexArgs, ...req.config.flatMap((kv) => ['-c', kv])]),
        })
      : options.config;
  const run = await runCodexWorker({
    prompt: req.prompt,
    cwd,
    config,
    profile: req.profile ?? 'fast',
    escalate: false,
    threadId: req.resume || undefined,
    ...codexChoices({ ...req, allowDangerFullAccess: options.allowDangerFullAccess }),
    signal: options.signal,
    logger: options.logger,
    runId: options.runId || undefined,
    onEvent: options.onEvent,
  });
  const ok = run.status === 'complete';
  return {
    ok,
    exitCode: gatewayExitCode(run),
    stdout: renderWorkerRun(run),
    stderr: ok ? '' : `${run.reason ?? run.status}\n`,
    durationMs: Date.now() - started,
    truncated: false,
    denied: false,
    rule: null,
    reason: ok ? 'codex worker complete' : `codex worker ${run.status}${run.reason ? `: ${run.reason.split('\n')[0]}` : ''}`,
    dryRun: false,
    ...definedProps({ timedOut: run.status === 'stuck' || undefined }),
    worker: {
      status: run.status,
      runDir: run.runDir,
      threadId: run.threadId,
      goalMet: run.result ? run.result.goal_met : null,
      summary: run.result?.summary ?? run.reason ?? '',
      changedFiles: run.changedFiles,
      usage: run.usage,
    },
  };
}
