import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError } from '../errors.js';
import { ENV_VARS, type EnvVarName } from './schema.js';
import { definedProps } from '../defined-props.js';

/** The one validated, frozen configuration object every layer receives. */
export interface Config {
  /** Absolute base dir (holds main/ and task-* worktrees), or undefined when not given. */
  readonly baseDir: string | undefined;
  readonly openaiApiKey: string | undefined;
  readonly openaiBaseUrl: string | undefined;
  readonly model: string;
  readonly maxTurns: number;
  /** Model of the review agent; undefined: the orchestrator model. */
  readonly reviewModel: string | undefined;
  readonly reasoningEffort: 'minimal' | 'low' | 'medium' | 'high' | undefined;
  readonly temperature: number | undefined;
  readonly trace: boolean;
  readonly dryRun: boolean;
  /** Absolute path of the policy file. */
  readonly policyFile: string;
  /** Absolute state dir, or undefined when neither it nor the base dir is known. */
  readonly stateDir: string | undefined;
  /** Absolute command log path, or undefined when there is no state dir. */
  readonly commandLog: string | undefined;
  readonly commandTimeoutMs: number;
  readonly codexTimeoutMs: number;
  readonly outputCapBytes: number;
  readonly workerStallSeconds: number;
  /** How long the merge queue waits (once, for the whole queue) for a dirty main/. */
  readonly dirtyWaitSeconds: number;
  readonly codexArgs: readonly string[];
  readonly codexBin: string | undefined;
  readonly codexProfilesFile: string | undefined;
  readonly logLevel: string;
  /** True unless ORCHESTRATOR_TRACING=1 with the OpenAI endpoint (and OPENAI_AGENTS_DISABLE_TRACING is not set). */
  readonly disableTracing: boolean;
  /** The job queue for agents on other machines; undefined: everything runs on this machine. */
  readonly queue: QueueConfig | undefined;
  /** ORCHESTRATOR_SANDBOX: which OS sandbox confines gateway commands. */
  readonly sandbox: 'auto' | 'bwrap' | 'codex' | 'unshare' | 'off';
  /** Absolute paths hidden from sandboxed commands besides $HOME, /root, /home and /tmp. */
  readonly sandboxSecretPaths: readonly string[];
  /** Variable names passed into sandboxed commands besides the built-in allowlist. */
  readonly sandboxEnv: readonly string[];
  /** Budgets from the environment (flags override them in the CLI). */
  readonly budgets: {
    readonly maxCostUsd?: number;
    readonly totalTokens?: number;
    readonly wallMs?: number;
    readonly maxWorkers?: number;
    readonly onBudget?: 'finish' | 'stop';
  };
  /** Absolute path of the price table override (ORCHESTRATOR_PRICES), or undefined for the package's table alone. */
  readonly pricesFile: string | undefined;
  /** Stop before each plan merge until a person approves it. */
  readonly approve: boolean;
  /** Where run notifications are POSTed, and the HMAC secret that signs them. */
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  readonly webhookTimeoutMs: number;
  /** A user-level notification hook (argv, no shell). */
  readonly notifyCommand: readonly string[];
  readonly notifyDesktop: boolean;
  /** Whether the state dir and command log were given, or derived from the base dir. */
  readonly explicit: { readonly stateDir: boolean; readonly commandLog: boolean };
}

export interface QueueConfig {
  readonly url: string;
  readonly prefix: string;
  readonly lockMs: number;
  readonly stalledMs: number;
  /** A directory or URL; undefined: the orchestrator serves the artifacts itself on `artifactsListen`. */
  readonly artifacts: string | undefined;
  readonly artifactsListen: string;
  readonly artifactsToken: string | undefined;
  readonly artifactMaxBytes: number;
}

export const DEFAULTS = {
  model: 'gpt-5.1',
  maxTurns: 100,
  commandTimeoutMs: 10 * 60_000,
  codexTimeoutMs: 30 * 60_000,
  outputCapBytes: 64 * 1024,
  workerStallSeconds: 20 * 60,
  dirtyWaitSeconds: 5 * 60,
  logLevel: 'info',
  queuePrefix: 'codex-orch',
  queueLockMs: 5 * 60_000,
  queueStalledMs: 30_000,
  artifactsListen: '127.0.0.1:0',
  artifactMaxMb: 100,
  webhookTimeoutMs: 5_000,
} as const;

/** Whether the orchestrator model is OpenAI's own API (no base URL, or api.openai.com). */
export function isOpenAiBaseUrl(url: string | undefined): boolean {
  if (!url) return true;
  try {
    return new URL(url).hostname === 'api.openai.com';
  } catch {
    return false;
  }
}

/** The package root (where package.json, prompts/ and policies/ live), found from this file. */
export function packageRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'policies'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new ConfigError('cannot find the codex-orchestrator package root (package.json with policies/)');
    dir = up;
  }
}

export type ConfigOverrides = Partial<Record<EnvVarName, string | undefined>>;

export interface LoadConfigOptions {
  /** Environment to read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags or the API; they win over env and .env. */
  overrides?: ConfigOverrides;
  /** Directory whose `.env` is read (values in `env` win); default process.cwd(). Pass null to skip. */
  dotenvDir?: string | null;
}

/**
 * env + `.env` + overrides → one frozen Config. A bad value throws a ConfigError
 * whose message names the variable and what is expected, in one line.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const dotenvDir = options.dotenvDir === undefined ? process.cwd() : options.dotenvDir;
  let fileVars: Record<string, string> = {};
  if (dotenvDir) {
    const file = path.join(dotenvDir, '.env');
    if (fs.existsSync(file)) {
      try {
        fileVars = parseDotenv(fs.readFileSync(file));
      } catch (cause) {
        throw new ConfigError(`${file}: cannot be read as a .env file`, { cause });
      }
    }
  }

  const raw: Record<string, unknown> = {};
  for (const spec of ENV_VARS) {
    const value = options.overrides?.[spec.name] ?? env[spec.name] ?? fileVars[spec.name];
    // An empty variable means "not set", like an absent one.
    if (value === undefined || value.trim() === '') continue;
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? 'invalid value';
      throw new ConfigError(`${spec.name}: ${why}, got ${JSON.stringify(value)}`, {
        variable: spec.name,
        hint: spec.description,
      });
    }
    raw[spec.name] = parsed.data;
  }

  const baseDir = raw.ORCHESTRATOR_BASE_DIR as string | undefined;
  const cwd = process.cwd();
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(cwd, p));
  const stateDir =
    abs(raw.ORCHESTRATOR_STATE_DIR as string | undefined) ?? (baseDir ? path.join(baseDir, '.codex-orchestrator') : undefined);
  const commandLog =
    abs(raw.ORCHESTRATOR_COMMAND_LOG as string | undefined) ?? (stateDir ? path.join(stateDir, 'run_repo_command.log') : undefined);

  const config: Config = {
    baseDir,
    openaiApiKey: raw.OPENAI_API_KEY as string | undefined,
    openaiBaseUrl: raw.OPENAI_BASE_URL as string | undefined,
    model: (raw.ORCHESTRATOR_MODEL as string | undefined) ?? DEFAULTS.model,
    maxTurns: (raw.ORCHESTRATOR_MAX_TURNS as number | undefined) ?? DEFAULTS.maxTurns,
    reviewModel: raw.ORCHESTRATOR_REVIEW_MODEL as string | undefined,
    reasoningEffort: raw.ORCHESTRATOR_REASONING_EFFORT as Config['reasoningEffort'],
    temperature: raw.ORCHESTRATOR_TEMPERATURE as number | undefined,
    trace: (raw.ORCHESTRATOR_TRACE as boolean | undefined) ?? false,
    dryRun: (raw.ORCHESTRATOR_DRY_RUN as boolean | undefined) ?? false,
    policyFile: abs(raw.ORCHESTRATOR_POLICY as string | undefined) ?? path.join(packageRoot(), 'policies', 'default.json'),
    stateDir,
    commandLog,
    commandTimeoutMs: (raw.ORCHESTRATOR_COMMAND_TIMEOUT_MS as number | undefined) ?? DEFAULTS.commandTimeoutMs,
    codexTimeoutMs: (raw.ORCHESTRATOR_CODEX_TIMEOUT_MS as number | undefined) ?? DEFAULTS.codexTimeoutMs,
    outputCapBytes: (raw.ORCHESTRATOR_OUTPUT_CAP as number | undefined) ?? DEFAULTS.outputCapBytes,
    workerStallSeconds: (raw.ORCHESTRATOR_WORKER_STALL_SECONDS as number | undefined) ?? DEFAULTS.workerStallSeconds,
    dirtyWaitSeconds: (raw.ORCHESTRATOR_DIRTY_WAIT_SECONDS as number | undefined) ?? DEFAULTS.dirtyWaitSeconds,
    codexArgs: Object.freeze([...((raw.ORCHESTRATOR_CODEX_ARGS as string[] | undefined) ?? [])]),
    codexBin: abs(raw.CODEX_BIN as string | undefined),
    codexProfilesFile: abs(raw.ORCHESTRATOR_CODEX_PROFILES as string | undefined),
    logLevel: (raw.ORCHESTRATOR_LOG_LEVEL as string | undefined) ?? DEFAULTS.logLevel,
    queue: queueConfig(raw),
    // Traces go to OpenAI only when asked for, and never from a run against another endpoint (they would fail there).
    disableTracing:
      (raw.OPENAI_AGENTS_DISABLE_TRACING as boolean | undefined) === true ||
      (raw.ORCHESTRATOR_TRACING as boolean | undefined) !== true ||
      !isOpenAiBaseUrl(raw.OPENAI_BASE_URL as string | undefined),
    pricesFile: abs(raw.ORCHESTRATOR_PRICES as string | undefined),
    // Only the limits that are set: flags and settings are spread over these.
    budgets: Object.freeze(
      definedProps({
        maxCostUsd: raw.ORCHESTRATOR_MAX_COST as number | undefined,
        totalTokens: raw.ORCHESTRATOR_MAX_TOKENS as number | undefined,
        wallMs: raw.ORCHESTRATOR_MAX_WALL as number | undefined,
        maxWorkers: raw.ORCHESTRATOR_MAX_WORKERS as number | undefined,
        onBudget: raw.ORCHESTRATOR_ON_BUDGET as 'finish' | 'stop' | undefined,
      }),
    ),
    sandbox: (raw.ORCHESTRATOR_SANDBOX as Config['sandbox'] | undefined) ?? 'auto',
    sandboxSecretPaths: Object.freeze(
      ((raw.ORCHESTRATOR_SANDBOX_SECRET_PATHS as string[] | undefined) ?? []).map((p) =>
        p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : path.resolve(p),
      ),
    ),
    sandboxEnv: Object.freeze([...((raw.ORCHESTRATOR_SANDBOX_ENV as string[] | undefined) ?? [])]),
    approve: (raw.ORCHESTRATOR_APPROVE as boolean | undefined) ?? false,
    webhookUrl: raw.ORCHESTRATOR_WEBHOOK_URL as string | undefined,
    webhookSecret: raw.ORCHESTRATOR_WEBHOOK_SECRET as string | undefined,
    webhookTimeoutMs: (raw.ORCHESTRATOR_WEBHOOK_TIMEOUT_MS as number | undefined) ?? DEFAULTS.webhookTimeoutMs,
    notifyCommand: Object.freeze([...((raw.ORCHESTRATOR_NOTIFY_COMMAND as string[] | undefined) ?? [])]),
    notifyDesktop: (raw.ORCHESTRATOR_NOTIFY_DESKTOP as boolean | undefined) ?? false,
    explicit: Object.freeze({ stateDir: raw.ORCHESTRATOR_STATE_DIR !== undefined, commandLog: raw.ORCHESTRATOR_COMMAND_LOG !== undefined }),
  };
  return Object.freeze(config);
}

function queueConfig(raw: Record<string, unknown>): QueueConfig | undefined {
  const url = raw.ORCHESTRATOR_QUEUE as string | undefined;
  if (!url) return undefined;
  return Object.freeze({
    url,
    prefix: (raw.ORCHESTRATOR_QUEUE_PREFIX as string | undefined) ?? DEFAULTS.queuePrefix,
    lockMs: (raw.ORCHESTRATOR_QUEUE_LOCK_MS as number | undefined) ?? DEFAULTS.queueLockMs,
    stalledMs: (raw.ORCHESTRATOR_QUEUE_STALLED_MS as number | undefined) ?? DEFAULTS.queueStalledMs,
    artifacts: raw.ORCHESTRATOR_ARTIFACTS as string | undefined,
    artifactsListen: (raw.ORCHESTRATOR_ARTIFACTS_LISTEN as string | undefined) ?? DEFAULTS.artifactsListen,
    artifactsToken: raw.ORCHESTRATOR_ARTIFACTS_TOKEN as string | undefined,
    artifactMaxBytes: ((raw.ORCHESTRATOR_ARTIFACT_MAX_MB as number | undefined) ?? DEFAULTS.artifactMaxMb) * 1024 * 1024,
  });
}

/**
 * The same config for another base dir (the dispatcher runs tasks in several):
 * a state dir and command log derived from the old base dir follow the new one;
 * explicitly configured ones stay.
 */
export function withBaseDir(config: Config, baseDir: string): Config {
  const stateDir = config.explicit.stateDir ? config.stateDir : path.join(baseDir, '.codex-orchestrator');
  const commandLog = config.explicit.commandLog ? config.commandLog : stateDir ? path.join(stateDir, 'run_repo_command.log') : undefined;
  return Object.freeze({ ...config, baseDir: path.resolve(baseDir), stateDir, commandLog });
}

/** The base dir, or a ConfigError that says how to give one. */
export function requireBaseDir(config: Config): string {
  if (!config.baseDir) {
    throw new ConfigError('ORCHESTRATOR_BASE_DIR: not set; expected an absolute directory that holds main/', {
      variable: 'ORCHESTRATOR_BASE_DIR',
      hint: 'pass --base-dir <dir> or set ORCHESTRATOR_BASE_DIR',
    });
  }
  if (!fs.existsSync(config.baseDir) || !fs.statSync(config.baseDir).isDirectory()) {
    throw new ConfigError(`ORCHESTRATOR_BASE_DIR: ${config.baseDir} is not a directory`, {
      variable: 'ORCHESTRATOR_BASE_DIR',
      hint: 'create it, with your repository checked out as main/ inside it',
    });
  }
  return config.baseDir;
}

/** The state dir, or a ConfigError. */
export function requireStateDir(config: Config): string {
  if (!config.stateDir) {
    throw new ConfigError('ORCHESTRATOR_STATE_DIR: not set and no base dir to derive it from', {
      variable: 'ORCHESTRATOR_STATE_DIR',
      hint: 'pass --base-dir <dir> or set ORCHESTRATOR_STATE_DIR',
    });
  }
  return config.stateDir;
}
