import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import type { Config } from '../../config/config.js';
import { checkWorktreePointer } from '../../git/git-hardening.js';
import { gitEnv } from '../../git/repo.js';
import { WorkerError, isOrchestratorError, describeError } from '../../errors.js';
import { definedProps } from '../../defined-props.js';
import { silentLogger, type Logger } from '../../logging/logger.js';
import { resolveCodexBinary, type CodexBinary } from './binary.js';
import { detectCapabilities, filterExtraArgs, mapIntents, type CodexCapabilities, type SandboxMode } from './capabilities.js';
import type { CodexEvent } from './events.js';
import { runCodexProcess, zeroUsage, type CodexProcessOutcome, type WorkerUsage } from './process.js';
import { loadProfiles, tomlOverride, type ProfileName, type ProfilesConfig } from './profiles.js';
import { parseWorkerResult, repairPrompt, RESULT_INSTRUCTIONS, WORKER_RESULT_JSON_SCHEMA, type WorkerResult } from './result.js';
import { ensureWorkerDir, newRunId, newWorkerId, workerStateDir, writeJsonAtomic } from './worker-dir.js';

/** Seed 002 statuses. */
/** How one codex process ended (the store keeps a finer `WorkerStatus` per worker record). */
export type WorkerProcessStatus = 'pending' | 'running' | 'stuck' | 'error' | 'complete';

export interface WorkerAttempt {
  n: number;
  kind: 'initial' | 'resume' | 'repair' | 'escalation';
  profile: ProfileName;
  argv: string[];
  pid: number | null;
  threadId: string | null;
  exitCode: number | null;
  exitSignal: string | null;
  killedFor: string | null;
  startedAt: string;
  endedAt: string;
  usage: WorkerUsage;
  resultValid: boolean | null;
  resultError: string | null;
}

export interface WorkerRun {
  status: WorkerProcessStatus;
  result: WorkerResult | null;
  threadId: string | null;
  runDir: string;
  usage: WorkerUsage;
  exitCode: number | null;
  durationMs: number;
  /** Why the worker is stuck or in error (absent when complete). */
  reason?: string;
  /** Number of codex invocations (first run, repairs, escalations). */
  attempts: number;
  /** Changed paths from `git status --porcelain` after the run (relative to cwd). */
  changedFiles: string[];
  /** The profile of the last attempt. */
  profile: ProfileName;
  /** Capabilities the build lacks and extra flags it did not list (dropped). */
  warnings: string[];
}

export interface RunCodexWorkerOptions {
  prompt: string;
  cwd: string;
  config: Config;
  profile?: ProfileName;
  runId?: string;
  workerId?: string;
  /** Resume this codex thread instead of starting a new one. */
  threadId?: string;
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: (e: CodexEvent) => void;
  /** Escalate fast → deep on goal_met:false, up to the profiles' maxAttempts (default true). */
  escalate?: boolean;
  allowDangerFullAccess?: boolean;
  /** Model for every attempt; wins over ORCHESTRATOR_CODEX_ARGS and the profile. */
  model?: string;
  /** Sandbox for every attempt; wins over the profile. */
  sandbox?: SandboxMode;
  /** The seed's `--full-auto` intent (workspace-write; `--full-auto` where the build lists it). */
  fullAuto?: boolean;
  /** Overrides config.workerStallSeconds (ms). */
  stallMs?: number;
  /** Overrides config.codexTimeoutMs. */
  timeoutMs?: number;
  /** TERM → KILL grace, default 3000 ms. */
  killGraceMs?: number;
  /** Extra environment for codex (on top of process.env). */
  env?: NodeJS.ProcessEnv;
  /** Called once the run directory exists. */
  onStart?: (info: { runDir: string; runId: string; workerId: string }) => void;
}

interface Meta {
  status: WorkerProcessStatus;
  reason?: string;
  runId: string;
  workerId: string;
  cwd: string;
  bin: string;
  binSource: string;
  codexVersion: string;
  profile: ProfileName;
  profilesSource: string;
  pid: number | null;
  threadId: string | null;
  startedAt: string;
  endedAt: string | null;
  exitCode: number | null;
  usage: WorkerUsage;
  attempts: WorkerAttempt[];
  result: WorkerResult | null;
  changedFiles: string[];
  warnings: string[];
  malformedLines: number;
  unknownEvents: number;
}

function addUsage(a: WorkerUsage, b: WorkerUsage): void {
  a.inputTokens += b.inputTokens;
  a.cachedInputTokens += b.cachedInputTokens;
  a.outputTokens += b.outputTokens;
}

function hasModelFlag(args: readonly string[]): boolean {
  return args.some((a) => a === '-m' || a === '--model' || a.startsWith('--model='));
}

/** Paths `git status --porcelain` reports in `cwd` (empty outside a repository), minus `exclude`. */
export async function changedFilesIn(cwd: string, exclude: string[] = []): Promise<string[]> {
  // node's execFile, not execa: this runs after every worker and execa costs a few ms more.
  // A worker may have rewritten its worktree's .git pointer: that is not followed (the subtask fails on its next git step).
  try {
    checkWorktreePointer(cwd);
  } catch {
    return [];
  }
  const stdout = await new Promise<string | null>((resolve) => {
    execFile(
      'git',
      ['status', '--porcelain', '--untracked-files=all', '-z'],
      { cwd, env: gitEnv(cwd), maxBuffer: 64 * 1024 * 1024 },
      (error, out) => resolve(error ? null : out),
    );
  });
  if (stdout === null) return [];
  const parts = stdout.split('\0');
  const files: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const entry = parts[i] as string;
    if (entry.length < 4) continue;
    const code = entry.slice(0, 2);
    files.push(entry.slice(3));
    if (code.includes('R') || code.includes('C')) i++; // -z: the source path follows
  }
  return files.filter((f) => !exclude.some((x) => f === x || f.startsWith(`${x}/`)));
}

interface AttemptPlan {
  kind: WorkerAttempt['kind'];
  profile: ProfileName;
  prompt: string;
  threadId: string | null;
}

/** What a caller may choose for codex: model, sandbox, --full-auto, danger-full-access (an empty name is no choice). */
export interface CodexChoices {
  model?: string | undefined;
  sandbox?: SandboxMode | undefined;
  fullAuto?: boolean | undefined;
  allowDangerFullAccess?: boolean | undefined;
}

/** The choices of `o`, as runCodexWorker and buildArgv take them. */
export function codexChoices(o: CodexChoices): CodexChoices {
  return {
    model: o.model || undefined,
    sandbox: o.sandbox || undefined,
    fullAuto: o.fullAuto,
    allowDangerFullAccess: o.allowDangerFullAccess,
  };
}

/** Build argv for one invocation against this build's capabilities. */
export function buildArgv(
  caps: CodexCapabilities,
  plan: { mode: 'exec' | 'resume'; threadId: string | null; prompt: string; cwd: string },
  opts: {
    profiles: ProfilesConfig;
    profile: ProfileName;
    extraArgs: readonly string[];
    model?: string;
    sandbox?: SandboxMode;
    fullAuto?: boolean;
    allowDangerFullAccess?: boolean;
    outputSchemaFile?: string;
    outputLastMessageFile?: string;
  },
): { argv: string[]; warnings: string[] } {
  const profile = opts.profiles.profiles[opts.profile];
  const config: string[] = [];
  if (profile.reasoningEffort) config.push(tomlOverride('model_reasoning_effort', profile.reasoningEffort));
  if (opts.profiles.baseUrl) config.push(tomlOverride('openai_base_url', opts.profiles.baseUrl));
  for (const [k, v] of Object.entries(opts.profiles.config)) config.push(tomlOverride(k, v));
  for (const [k, v] of Object.entries(profile.config ?? {})) config.push(tomlOverride(k, v));
  const model = opts.model ?? (hasModelFlag(opts.extraArgs) ? undefined : profile.model);
  const sandbox = opts.sandbox ?? (opts.fullAuto ? undefined : profile.sandbox);
  const mapped = mapIntents(caps, {
    mode: plan.mode,
    json: true,
    fullAuto: opts.fullAuto,
    sandbox: sandbox || undefined,
    allowDangerFullAccess: opts.allowDangerFullAccess,
    cd: plan.mode === 'exec' ? plan.cwd : undefined,
    skipGitRepoCheck: true,
    model: model || undefined,
    config,
    outputSchemaFile: opts.outputSchemaFile || undefined,
    outputLastMessageFile: opts.outputLastMessageFile || undefined,
  });
  const extra = filterExtraArgs(
    caps,
    plan.mode,
    opts.extraArgs,
    mapped.args.filter((a) => a.startsWith('-')),
  );
  const warnings = [
    ...mapped.missing.map((m) => `codex ${caps.version} lacks ${m}`),
    ...extra.unlisted.map((f) => `ORCHESTRATOR_CODEX_ARGS: ${f} is not listed by codex ${caps.version} ${plan.mode}; dropped`),
  ];
  const argv = [
    'exec',
    ...(plan.mode === 'resume' ? ['resume'] : []),
    ...mapped.args,
    ...extra.args,
    '--',
    ...(plan.mode === 'resume' && plan.threadId ? [plan.threadId] : []),
    plan.prompt,
  ];
  return { argv, warnings };
}

/**
 * Runs one codex worker to a structured result: run directory, typed events,
 * liveness, one repair by resume on invalid output, escalation fast → deep on
 * goal_met:false. Never throws for what codex does (a crash is `error`, a stall
 * is `stuck`); throws a WorkerError/ConfigError only when it cannot start at all.
 */
export async function runCodexWorker(options: RunCodexWorkerOptions): Promise<WorkerRun> {
  const started = Date.now();
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const stateDir = workerStateDir(config);
  const runId = options.runId ?? newRunId();
  const workerId = options.workerId ?? newWorkerId();
  const runDir = ensureWorkerDir(stateDir, runId, workerId);
  const log = logger.child({ component: 'codex-worker', runId, workerId });
  options.onStart?.({ runDir, runId, workerId });

  const files = {
    prompt: path.join(runDir, 'prompt.md'),
    events: path.join(runDir, 'events.jsonl'),
    stderr: path.join(runDir, 'stderr.log'),
    last: path.join(runDir, 'last_message.json'),
    meta: path.join(runDir, 'meta.json'),
    schema: path.join(runDir, 'output_schema.json'),
  };
  fs.writeFileSync(files.prompt, options.prompt.endsWith('\n') ? options.prompt : `${options.prompt}\n`);
  fs.writeFileSync(files.events, '', { flag: 'a' });
  fs.writeFileSync(files.stderr, '', { flag: 'a' });
  writeJsonAtomic(files.schema, WORKER_RESULT_JSON_SCHEMA);

  let profile: ProfileName = options.profile ?? 'fast';
  const meta: Meta = {
    status: 'pending',
    runId,
    workerId,
    cwd: options.cwd,
    bin: '',
    binSource: '',
    codexVersion: '',
    profile,
    profilesSource: '',
    pid: null,
    threadId: options.threadId ?? null,
    startedAt: new Date(started).toISOString(),
    endedAt: null,
    exitCode: null,
    usage: zeroUsage(),
    attempts: [],
    result: null,
    changedFiles: [],
    warnings: [],
    malformedLines: 0,
    unknownEvents: 0,
  };
  const saveMeta = () => writeJsonAtomic(files.meta, meta);
  saveMeta();

  const finish = async (status: WorkerProcessStatus, reason?: string): Promise<WorkerRun> => {
    meta.status = status;
    if (reason !== undefined) meta.reason = reason;
    else delete meta.reason;
    meta.endedAt = new Date().toISOString();
    const rel = path.relative(options.cwd, stateDir);
    const exclude = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? [rel] : [];
    meta.changedFiles = await changedFilesIn(options.cwd, exclude).catch(() => []);
    saveMeta();
    const run: WorkerRun = {
      status,
      result: meta.result,
      threadId: meta.threadId,
      runDir,
      usage: meta.usage,
      exitCode: meta.exitCode,
      durationMs: Date.now() - started,
      ...definedProps({ reason }),
      attempts: meta.attempts.length,
      changedFiles: meta.changedFiles,
      profile,
      warnings: meta.warnings,
    };
    log.info(
      { status, reason, threadId: run.threadId, attempts: run.attempts, usage: run.usage, durationMs: run.durationMs },
      'codex worker finished',
    );
    return run;
  };

  let bin: CodexBinary;
  let caps: CodexCapabilities;
  let profiles: ProfilesConfig;
  try {
    if (!fs.existsSync(options.cwd) || !fs.statSync(options.cwd).isDirectory()) {
      throw new WorkerError(`worker directory ${options.cwd} does not exist`);
    }
    bin = resolveCodexBinary(config);
    caps = await detectCapabilities(bin.path);
    profiles = loadProfiles(config);
  } catch (error) {
    const reason = describeError(error);
    fs.appendFileSync(files.stderr, `${reason}\n`);
    return finish('error', reason);
  }
  meta.bin = bin.path;
  meta.binSource = bin.source;
  meta.codexVersion = caps.version;
  meta.profilesSource = profiles.source;

  const stallMs = options.stallMs ?? config.workerStallSeconds * 1000;
  const deadline = started + (options.timeoutMs ?? config.codexTimeoutMs);
  const env: NodeJS.ProcessEnv = { ...process.env, ...definedProps({ CODEX_HOME: profiles.codexHome || undefined }), ...options.env };
  const escalate = options.escalate ?? true;
  const maxWorkAttempts = escalate ? profiles.maxAttempts : 1;

  const runAttempt = async (plan: AttemptPlan): Promise<{ outcome: CodexProcessOutcome; attempt: WorkerAttempt }> => {
    const mode = plan.threadId ? 'resume' : 'exec';
    const { argv, warnings } = buildArgv(
      caps,
      { mode, threadId: plan.threadId, prompt: plan.prompt, cwd: options.cwd },
      {
        profiles,
        profile: plan.profile,
        extraArgs: config.codexArgs,
        ...codexChoices(options),
        outputSchemaFile: files.schema,
        outputLastMessageFile: files.last,
      },
    );
    for (const w of warnings) if (!meta.warnings.includes(w)) meta.warnings.push(w);
    fs.rmSync(files.last, { force: true });
    const attempt: WorkerAttempt = {
      n: meta.attempts.length + 1,
      kind: plan.kind,
      profile: plan.profile,
      argv,
      pid: null,
      threadId: plan.threadId,
      exitCode: null,
      exitSignal: null,
      killedFor: null,
      startedAt: new Date().toISOString(),
      endedAt: '',
      usage: zeroUsage(),
      resultValid: null,
      resultError: null,
    };
    meta.attempts.push(attempt);
    meta.status = 'running';
    meta.profile = plan.profile;
    fs.appendFileSync(files.stderr, `--- attempt ${attempt.n} (${plan.kind}, ${plan.profile}) ${attempt.startedAt}\n`);
    log.info({ attempt: attempt.n, kind: plan.kind, profile: plan.profile, argv }, 'starting codex');
    const outcome = await runCodexProcess({
      bin: bin.path,
      args: argv,
      cwd: options.cwd,
      env,
      eventsFile: files.events,
      stderrFile: files.stderr,
      stallMs,
      timeoutMs: Math.max(1, deadline - Date.now()),
      killGraceMs: options.killGraceMs ?? 3000,
      signal: options.signal,
      logger: log,
      onEvent: options.onEvent,
      onSpawn: (pid) => {
        attempt.pid = pid ?? null;
        meta.pid = pid ?? null;
        saveMeta();
      },
    });
    attempt.threadId = outcome.threadId ?? plan.threadId;
    attempt.exitCode = outcome.exitCode;
    attempt.exitSignal = outcome.exitSignal;
    attempt.killedFor = outcome.killedFor;
    attempt.endedAt = outcome.endedAt;
    attempt.usage = outcome.usage;
    addUsage(meta.usage, outcome.usage);
    meta.threadId = attempt.threadId ?? meta.threadId;
    meta.exitCode = outcome.exitCode;
    meta.malformedLines += outcome.malformedLines;
    meta.unknownEvents += outcome.unknownEvents;
    // Builds without -o: write the final message from the event stream.
    if (!fs.existsSync(files.last) && outcome.lastAgentMessage !== null) fs.writeFileSync(files.last, outcome.lastAgentMessage);
    saveMeta();
    return { outcome, attempt };
  };

  const lastMessage = (outcome: CodexProcessOutcome): string | null => {
    try {
      return fs.readFileSync(files.last, 'utf8');
    } catch {
      return outcome.lastAgentMessage;
    }
  };

  const failure = (o: CodexProcessOutcome): { status: WorkerProcessStatus; reason: string } | null => {
    if (o.killedFor === 'abort') return { status: 'error', reason: 'aborted' };
    if (o.killedFor === 'stall')
      return { status: 'stuck', reason: `no event from codex for ${Math.round(stallMs / 1000)} s (stall timeout); process group killed` };
    if (o.killedFor === 'timeout')
      return {
        status: 'stuck',
        reason: `wall-clock budget of ${Math.round((options.timeoutMs ?? config.codexTimeoutMs) / 1000)} s used up; process group killed`,
      };
    const tail = o.stderrTail.trim().split('\n').slice(-8).join('\n');
    if (o.spawnError) return { status: 'error', reason: `codex could not be started: ${o.spawnError}` };
    if (o.exitCode !== 0) {
      const why = o.turnFailed ?? o.errors.at(-1);
      return {
        status: 'error',
        reason: `codex exited with ${o.exitCode === null ? `signal ${o.exitSignal ?? '?'}` : `code ${o.exitCode}`}${why ? `: ${why}` : ''}${tail ? `\nstderr tail:\n${tail}` : ''}`,
      };
    }
    if (o.turnFailed) return { status: 'error', reason: `codex turn failed: ${o.turnFailed}` };
    return null;
  };

  let threadId: string | null = options.threadId ?? null;
  let plan: AttemptPlan = { kind: threadId ? 'resume' : 'initial', profile, prompt: `${options.prompt}${RESULT_INSTRUCTIONS}`, threadId };
  let workAttempts = 0;
  try {
    for (;;) {
      workAttempts++;
      profile = plan.profile;
      let { outcome, attempt } = await runAttempt(plan);
      threadId = attempt.threadId;
      let fail = failure(outcome);
      if (fail) return await finish(fail.status, fail.reason);
      let check = parseWorkerResult(lastMessage(outcome));
      attempt.resultValid = check.ok;
      attempt.resultError = check.ok ? null : check.error;
      if (!check.ok) {
        if (!threadId || !caps.hasResume) {
          saveMeta();
          return await finish(
            'error',
            `${check.error}; no repair possible (${threadId ? 'this codex has no exec resume' : 'no thread id'})`,
          );
        }
        log.warn({ error: check.error }, 'invalid structured result; one repair by resume');
        ({ outcome, attempt } = await runAttempt({ kind: 'repair', profile: plan.profile, prompt: repairPrompt(check.error), threadId }));
        threadId = attempt.threadId ?? threadId;
        fail = failure(outcome);
        if (fail) return await finish(fail.status, fail.reason);
        check = parseWorkerResult(lastMessage(outcome));
        attempt.resultValid = check.ok;
        attempt.resultError = check.ok ? null : check.error;
        if (!check.ok) {
          saveMeta();
          return await finish('error', `${check.error} (still invalid after one repair)`);
        }
      }
      meta.result = check.result;
      saveMeta();
      const canEscalate = escalate && !check.result.goal_met && plan.profile !== 'review' && workAttempts < maxWorkAttempts;
      if (!canEscalate) return await finish('complete');
      const next: ProfileName = 'deep';
      const followup = check.result.followup_prompt.trim() || options.prompt;
      log.info({ from: plan.profile, to: next, attempt: workAttempts + 1 }, 'goal not met; escalating');
      plan =
        caps.hasResume && threadId
          ? { kind: 'escalation', profile: next, prompt: `${followup}${RESULT_INSTRUCTIONS}`, threadId }
          : {
              kind: 'escalation',
              profile: next,
              prompt: `${options.prompt}\n\nA previous attempt did not finish. ${followup}${RESULT_INSTRUCTIONS}`,
              threadId: null,
            };
    }
  } catch (error) {
    const reason = isOrchestratorError(error) ? error.toLine() : `unexpected: ${(error as Error).message}`;
    fs.appendFileSync(files.stderr, `${reason}\n`);
    return await finish('error', reason);
  }
}
