import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../logging/logger.js';
import type { CommandResult } from '../../tools/run-repo-command/types.js';
import type { SandboxMode } from './capabilities.js';
import type { ProfileName } from './profiles.js';
import type { CodexEvent } from './events.js';
import { runCodexWorker, type WorkerRun } from './worker.js';

/** What a seed-style `codex exec …` line asks for, independent of the installed build. */
export interface SeedCodexRequest {
  resume: string | null;
  prompt: string;
  fullAuto: boolean;
  model?: string;
  sandbox?: SandboxMode;
  cd?: string;
  profile?: ProfileName;
  /** `-c key=value` pairs given on the line. */
  config: string[];
}

export class SeedArgsError extends Error {}

const SANDBOXES: readonly string[] = ['read-only', 'workspace-write', 'danger-full-access'];
/** Flags accepted and ignored: the worker always sets them itself. */
const IGNORED_FLAGS = new Set(['--json', '--experimental-json', '--skip-git-repo-check', '--ephemeral']);

/**
 * Interprets the words after `codex` as written by the seed or a model:
 * `exec [--full-auto] [-m M] [-s MODE] [-C DIR] [--] "<prompt>"` or
 * `exec resume <thread-id> "<prompt>"`. Throws SeedArgsError for anything else.
 */
export function parseSeedCodexArgs(words: readonly string[]): SeedCodexRequest {
  const w = [...words];
  if (w[0] !== 'exec' && w[0] !== 'e') throw new SeedArgsError(`only \`codex exec …\` runs as a worker, got \`codex ${w[0] ?? ''}\``);
  w.shift();
  const req: SeedCodexRequest = { resume: null, prompt: '', fullAuto: false, config: [] };
  const positional: string[] = [];
  let resume = false;
  let endOfFlags = false;
  for (let i = 0; i < w.length; i++) {
    const word = w[i] as string;
    if (endOfFlags || !word.startsWith('-') || word === '-') {
      if (!resume && positional.length === 0 && word === 'resume' && !endOfFlags) {
        resume = true;
        continue;
      }
      positional.push(word);
      continue;
    }
    if (word === '--') {
      endOfFlags = true;
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    const value = (): string => {
      if (eq > 0) return word.slice(eq + 1);
      const v = w[++i];
      if (v === undefined) throw new SeedArgsError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--full-auto':
        req.fullAuto = true;
        break;
      case '-m':
      case '--model':
        req.model = value();
        break;
      case '-s':
      case '--sandbox': {
        const v = value();
        if (!SANDBOXES.includes(v)) throw new SeedArgsError(`--sandbox ${v}: expected one of ${SANDBOXES.join(', ')}`);
        req.sandbox = v as SandboxMode;
        break;
      }
      case '--dangerously-bypass-approvals-and-sandbox':
      case '--yolo':
        req.sandbox = 'danger-full-access';
        break;
      case '-C':
      case '--cd':
        req.cd = value();
        break;
      case '-c':
      case '--config':
        req.config.push(value());
        break;
      case '--profile':
      case '-p': {
        const v = value();
        if (v !== 'fast' && v !== 'deep' && v !== 'review') throw new SeedArgsError(`--profile ${v}: the worker profiles are fast, deep and review`);
        req.profile = v;
        break;
      }
      default:
        if (IGNORED_FLAGS.has(name)) break;
        throw new SeedArgsError(`codex flag ${name} is not supported through the gateway`);
    }
  }
  if (resume) {
    const id = positional.shift();
    if (!id) throw new SeedArgsError('`codex exec resume` needs a thread id (--last is not supported)');
    req.resume = id;
  }
  req.prompt = positional.join(' ').trim();
  if (req.prompt === '') throw new SeedArgsError('`codex exec` needs a prompt');
  return req;
}

function tokens(run: WorkerRun): string {
  const u = run.usage;
  return `input ${u.inputTokens} (cached ${u.cachedInputTokens}), output ${u.outputTokens}`;
}

/** The compact text the model sees: outcome, not the event stream. */
export function renderWorkerRun(run: WorkerRun): string {
  const lines = [`codex worker: ${run.status}${run.exitCode !== null ? ` (exit ${run.exitCode})` : ''} in ${(run.durationMs / 1000).toFixed(1)} s, ${run.attempts} attempt(s), profile ${run.profile}`];
  if (run.result) {
    lines.push(`goal_met: ${run.result.goal_met}`);
    lines.push(`summary: ${run.result.summary}`);
    if (run.result.followup_prompt) lines.push(`followup_prompt: ${run.result.followup_prompt}`);
    if (run.result.notes) lines.push(`notes: ${run.result.notes}`);
  } else {
    lines.push('goal_met: unknown (no valid result)');
  }
  if (run.reason) lines.push(`reason: ${run.reason.split('\n')[0]}`);
  lines.push(run.changedFiles.length > 0 ? `changed files (git status --porcelain): ${run.changedFiles.join(', ')}` : 'changed files: none');
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
  return { ok: false, exitCode: 2, stdout: '', stderr: `${reason}\n`, durationMs: Date.now() - started, truncated: false, denied: false, rule: null, reason, dryRun: false };
}

/**
 * Runs a policy-approved `codex …` line (the words after `codex`) as a worker:
 * interprets the seed's flags, rebuilds argv for the installed codex, and
 * returns a CommandResult with `worker` filled and a compact stdout.
 */
export async function runCodexFromGateway(
  codexArgs: string[],
  options: { cwd: string; config: Config; signal?: AbortSignal; logger?: Logger; runId?: string; allowDangerFullAccess?: boolean; onEvent?: (event: CodexEvent) => void },
): Promise<CommandResult> {
  const started = Date.now();
  let req: SeedCodexRequest;
  try {
    req = parseSeedCodexArgs(codexArgs);
  } catch (error) {
    if (error instanceof SeedArgsError) return refused(error.message, started);
    throw error;
  }
  if (req.sandbox === 'danger-full-access' && !options.allowDangerFullAccess) {
    return { ...refused('sandbox danger-full-access is not allowed by the policy', started), denied: true, rule: 'codex' };
  }
  for (const kv of req.config) {
    if (/^\s*(sandbox|approval|dangerously)/i.test(kv) && !options.allowDangerFullAccess) {
      return { ...refused(`-c ${kv.split('=')[0]} is not allowed through the gateway (use -s/--sandbox)`, started), denied: true, rule: 'codex' };
    }
  }
  let cwd = options.cwd;
  if (req.cd !== undefined) {
    const target = path.resolve(options.cwd, req.cd);
    const real = fs.existsSync(target) ? fs.realpathSync(target) : target;
    const base = fs.realpathSync(options.cwd);
    if (real !== base && !real.startsWith(`${base}${path.sep}`)) return { ...refused(`-C ${req.cd} leaves the worktree`, started), denied: true, rule: 'codex' };
    cwd = real;
  }
  const config: Config = req.config.length > 0 ? Object.freeze({ ...options.config, codexArgs: Object.freeze([...options.config.codexArgs, ...req.config.flatMap((kv) => ['-c', kv])]) }) : options.config;
  const run = await runCodexWorker({
    prompt: req.prompt,
    cwd,
    config,
    profile: req.profile ?? 'fast',
    escalate: false,
    ...(req.resume ? { threadId: req.resume } : {}),
    ...(req.model ? { model: req.model } : {}),
    ...(req.sandbox ? { sandbox: req.sandbox } : {}),
    ...(req.fullAuto ? { fullAuto: true } : {}),
    ...(options.allowDangerFullAccess ? { allowDangerFullAccess: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.runId ? { runId: options.runId } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
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
    ...(run.status === 'stuck' ? { timedOut: true } : {}),
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
