import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { definedProps } from '../../defined-props.js';
import type { Logger } from '../../logging/logger.js';
import { silentLogger } from '../../logging/logger.js';
import { gitLayout, isRefState, programRefWrites, restoreRepo, snapshotRepo, unexpectedChanges } from '../../git/index.js';
import { sandboxFor, type Sandbox, type SandboxRunOptions, type SandboxRunResult } from '../../sandbox/index.js';
import { appendCommandLog } from './log.js';
import { checkCommand } from './policy/index.js';
import type { Policy } from './policy-file.js';
import { repoLockKey, withRepoLock } from './repo-lock.js';
import { runInstall } from './install.js';
import { runOnMainCopy } from './main-copy.js';
import { effectiveClass, integrityAllowance, sandboxProfile, type ProfileContext } from './sandbox-profile.js';
import type { CommandClass, CommandLogEntry, CommandRequest, CommandResult, CommandSandbox, PolicyDecision } from './types.js';
import type { CodexEvent } from '../../workers/codex/events.js';
import type { GatewayCodexOptions } from '../../workers/codex/gateway-runner.js';

/** Runs the codex words of an approved `codex exec …` line through the worker layer. */
export type CodexRunner = (codexArgs: string[], options: GatewayCodexOptions) => Promise<CommandResult>;

export interface GatewayContext {
  config: Config;
  /** Absolute base dir holding main/ and the task-* worktrees. */
  baseDir: string;
  policy: Policy;
  /** Overrides config.dryRun. */
  dryRun?: boolean;
  /** Overrides config.trace. */
  trace?: boolean;
  /** Overrides config.commandLog; null writes no log. */
  commandLog?: string | null;
  logger?: Logger;
  runId?: string;
  signal?: AbortSignal;
  /** The codex worker layer; without it `codex exec` lines are refused as unavailable. */
  runCodex?: CodexRunner;
  /** Each codex event of a `codex exec` call's worker, as it arrives (the live view). */
  onCodexEvent?: (request: CommandRequest, event: CodexEvent) => void;
  /** Called when a call arrives, before the guard decides. */
  onStart?: (request: CommandRequest) => void;
  /** Called once per call with the final result and its log entry (the run report collects these). */
  onRecord?: (request: CommandRequest, result: CommandResult, entry: CommandLogEntry) => void;
  /**
   * Dry run only: worktrees that approved `git worktree add` lines would have
   * created. Commands in them are checked as if run in main/ (their future
   * contents), so a dry run judges the whole plan, not just its first step.
   */
  plannedWorktrees?: Set<string>;
  /** `setup` for the repository's own setup commands (the guard then allows lockfile installs, class `install`). Default `model`. */
  purpose?: 'model' | 'setup' | 'person';
  /** Where trace lines go; default stderr. */
  traceStream?: NodeJS.WritableStream;
  /** The OS sandbox; default: the one probed for config.sandbox (once per process). */
  sandbox?: Sandbox;
}

/** The sandbox a gateway context runs commands in. */
export function gatewaySandbox(ctx: Pick<GatewayContext, 'config' | 'sandbox'>): Sandbox {
  return ctx.sandbox ?? sandboxFor(ctx.config.sandbox, ctx.config.codexBin);
}

/** Output lines that show the sandbox refusing something (a read-only mount, no network, a hidden path). */
const DENIAL =
  /Read-only file system|transport '[a-z0-9+-]+' not allowed|EROFS|Network is unreachable|ENETUNREACH|Could not resolve host|EAI_AGAIN|getaddrinfo|Connection refused|ECONNREFUSED|Couldn't connect to server|Operation not permitted/;

function denialLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (DENIAL.test(line) && !out.includes(line.trim())) out.push(line.trim().slice(0, 300));
    if (out.length >= 5) break;
  }
  return out;
}

function decisionResult(decision: PolicyDecision, dryRun: boolean): CommandResult {
  return {
    ok: decision.allowed,
    exitCode: null,
    stdout: '',
    stderr: '',
    durationMs: 0,
    truncated: false,
    denied: !decision.allowed,
    rule: decision.rule,
    reason: decision.reason,
    dryRun,
  };
}

function validRequest(request: unknown): request is CommandRequest {
  const r = request as Partial<CommandRequest> | null;
  return typeof r === 'object' && r !== null && typeof r.worktree === 'string' && typeof r.command === 'string';
}

/**
 * `run_repo_command` as a plain function: guard → (dry run | shell | codex worker) → log.
 * Never throws for anything the model or the command did: denials and failures are results.
 */
export async function runRepoCommand(request: CommandRequest, ctx: GatewayContext): Promise<CommandResult> {
  const config = ctx.config;
  const dryRun = ctx.dryRun ?? config.dryRun;
  const trace = ctx.trace ?? config.trace;
  const logger = ctx.logger ?? silentLogger;
  const logFile = ctx.commandLog === undefined ? config.commandLog : ctx.commandLog;
  const started = performance.now();

  let decision: PolicyDecision;
  if (validRequest(request)) ctx.onStart?.(request);
  if (!validRequest(request)) {
    decision = { allowed: false, rule: 'input', reason: 'expected {"worktree": string, "command": string}' };
    // Any value the caller sent, shown as text on purpose (it is logged as what was asked).
    /* eslint-disable @typescript-eslint/no-base-to-string */
    request = {
      worktree: String((request as { worktree?: unknown })?.worktree ?? ''),
      command: String((request as { command?: unknown })?.command ?? ''),
    };
    /* eslint-enable @typescript-eslint/no-base-to-string */
  } else {
    try {
      const planned = dryRun && ctx.plannedWorktrees?.has(request.worktree) && !fs.existsSync(path.join(ctx.baseDir, request.worktree));
      decision = checkCommand(planned ? { ...request, worktree: 'main' } : request, {
        baseDir: ctx.baseDir,
        policy: ctx.policy,
        stateDir: config.stateDir,
        standIn: planned,
        purpose: ctx.purpose,
      });
      if (planned)
        decision = {
          ...decision,
          reason: `${decision.reason} (dry run: ${request.worktree} does not exist yet; checked as a copy of main)`,
        };
      if (dryRun && decision.allowed && ctx.plannedWorktrees) {
        for (const name of decision.analysis?.worktreesAdded ?? []) ctx.plannedWorktrees.add(name);
      }
    } catch (error) {
      // The guard fails closed: an internal error is a denial, never a run.
      decision = {
        allowed: false,
        rule: 'internal',
        reason: `the guard could not analyse this line (${error instanceof Error ? error.message : String(error)})`,
      };
    }
  }

  if (trace) {
    const verdict = decision.allowed ? (dryRun ? 'ALLOW (dry run)' : 'ALLOW') : `DENY ${decision.rule}`;
    (ctx.traceStream ?? process.stderr).write(
      `[run_repo_command] ${request.worktree}$ ${request.command}\n  → ${verdict}: ${decision.reason}\n`,
    );
  }

  let result: CommandResult;
  let stdoutBytes: number | undefined;
  let stderrBytes: number | undefined;
  if (!decision.allowed || dryRun) {
    result = decisionResult(decision, dryRun);
  } else {
    const cwd = fs.realpathSync(path.join(ctx.baseDir, request.worktree));
    if (decision.codexArgs) {
      if (!ctx.runCodex) {
        result = {
          ...decisionResult(decision, false),
          ok: false,
          reason: 'codex exec is not available in this gateway (no worker layer configured)',
        };
      } else {
        result = await ctx.runCodex(decision.codexArgs, {
          cwd,
          config,
          logger,
          signal: ctx.signal,
          runId: ctx.runId || undefined,
          allowDangerFullAccess: ctx.policy.allowDangerFullAccess,
          onEvent: ctx.onCodexEvent ? (e: CodexEvent) => ctx.onCodexEvent?.(request, e) : undefined,
        });
        result = { ...result, rule: decision.rule, reason: decision.reason, denied: false, dryRun: false };
      }
    } else {
      // The guard's analysis of the line: it is parsed once.
      const words = (decision.analysis?.commands ?? []).map((c) => c.words);
      const lockKey = repoLockKey(words, ctx.baseDir);
      const cls: CommandClass = effectiveClass(decision.commandClass, words, request.worktree.split('/')[0] === 'main');
      const sandbox = gatewaySandbox(ctx);
      const at = {
        baseDir: ctx.baseDir,
        worktree: request.worktree.split('/')[0] as string,
        cwd,
        stateDir: config.stateDir,
        secretPaths: config.sandboxSecretPaths,
        extraEnv: config.sandboxEnv,
      };
      const profile = sandboxProfile(cls, at);
      const layout = gitLayout(path.join(ctx.baseDir, at.worktree));
      const mainRef = gitLayout(path.join(ctx.baseDir, 'main'))?.branchRef ?? null;
      const runOpts = { cwd, timeoutMs: config.commandTimeoutMs, outputCapBytes: config.outputCapBytes, signal: ctx.signal };
      const run = async (): Promise<{ shell: SandboxRunResult; security?: string }> => {
        const snap = layout ? snapshotRepo(layout.common) : undefined;
        const programWrites = programRefWrites();
        const runAt = (command: string, where: ProfileContext, opts: SandboxRunOptions) =>
          cls === 'install' ? runInstall(sandbox, command, where, opts) : sandbox.run(command, sandboxProfile(cls, where), opts);
        // main/ without an overlay (weaker backends): on a temporary worktree at main's HEAD instead.
        const shell =
          profile.overlay.length > 0 && sandbox.backend.name !== 'bwrap' && sandbox.backend.name !== 'none'
            ? await runOnMainCopy(request.command, at, runOpts, runAt)
            : await runAt(request.command, at, runOpts);
        if (!snap) return { shell };
        // Behind bwrap, edit/inspect/install cannot write .git at all; their refs are not compared, so the
        // program's own concurrent commits and merges are never mistaken for (and "restored" from) an attack.
        // …and when the program's own git moved refs meanwhile (a commit or merge of another subtask), ref changes
        // cannot be attributed; config, hooks and info are still checked.
        const refsConfined = (sandbox.backend.name === 'bwrap' && !profile.gitWrites) || programRefWrites() !== programWrites;
        const allow = integrityAllowance(cls, layout, mainRef);
        const changes = unexpectedChanges(snap, allow).filter((c) => !(refsConfined && isRefState(c.path)));
        if (changes.length === 0) return { shell };
        const failed = restoreRepo(snap, changes);
        const list = changes.map((c) => `${c.path} ${c.kind}`).join(', ');
        return {
          shell,
          security: `the command changed repository metadata it may not (${list}); ${failed.length ? `could NOT restore ${failed.join(', ')}` : 'restored from the snapshot'}`,
        };
      };
      const { shell, security } = lockKey ? await withRepoLock(lockKey, run) : await run();
      stdoutBytes = shell.stdoutBytes;
      stderrBytes = shell.stderrBytes;
      const sandboxInfo: CommandSandbox = {
        backend: sandbox.backend.name,
        profile: profile.name,
        denials: shell.refused ? [] : denialLines(`${shell.stderr}\n${shell.stdout}`),
        ...definedProps({ refused: shell.refused || undefined }),
      };
      if (security) logger.error({ worktree: request.worktree, command: request.command, security }, 'security event');
      result = {
        ok: shell.exitCode === 0 && !shell.timedOut && !shell.aborted && !security && !shell.refused,
        exitCode: shell.exitCode,
        stdout: shell.stdout,
        stderr: shell.timedOut
          ? `${shell.stderr}\n[timed out after ${config.commandTimeoutMs} ms; the process group was killed]`
          : shell.aborted
            ? `${shell.stderr}\n[aborted; the process group was killed]`
            : shell.refused
              ? `[the sandbox (${sandbox.backend.name}) refused to run this: ${shell.refused}]`
              : security
                ? `${shell.stderr}\n[SECURITY: ${security}]`
                : shell.stderr,
        durationMs: shell.durationMs,
        truncated: shell.truncated,
        denied: false,
        rule: null,
        reason: decision.reason,
        dryRun: false,
        sandbox: sandboxInfo,
        ...definedProps({ securityEvent: security || undefined, timedOut: shell.timedOut || undefined }),
      };
    }
  }

  if (decision.analysis) result = { ...result, analysis: decision.analysis };

  const entry: CommandLogEntry = {
    ts: new Date().toISOString(),
    worktree: request.worktree,
    command: request.command,
    allowed: decision.allowed,
    rule: decision.rule,
    reason: result.reason,
    exitCode: result.exitCode,
    durationMs: result.durationMs || Math.round(performance.now() - started),
    dryRun,
    truncated: result.truncated,
    timedOut: result.timedOut ?? false,
    ...definedProps({
      runId: ctx.runId || undefined,
      stdoutBytes,
      stderrBytes: stdoutBytes === undefined ? undefined : stderrBytes,
      workerRunDir: result.worker?.runDir,
      commandClass: decision.commandClass,
      sandbox: result.sandbox
        ? `${result.sandbox.backend}/${result.sandbox.profile}${result.sandbox.refused ? ' (refused)' : ''}`
        : undefined,
      securityEvent: result.securityEvent || undefined,
    }),
  };
  if (logFile) {
    try {
      appendCommandLog(logFile, entry);
    } catch (error) {
      logger.error({ err: error, logFile }, 'cannot append to the command log');
    }
  }
  logger.info({ cmd: entry }, decision.allowed ? 'command' : 'command denied');
  if (trace && decision.allowed && !dryRun) {
    (ctx.traceStream ?? process.stderr).write(
      `  ← exit ${result.exitCode ?? 'none'} in ${result.durationMs} ms${result.truncated ? ' (output truncated)' : ''}\n`,
    );
  }
  ctx.onRecord?.(request, result, entry);
  return result;
}
