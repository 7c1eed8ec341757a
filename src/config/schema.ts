import path from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable the program reads, with its zod schema and the
 * one-line description used in `.env.example`, the README table and errors.
 * Values arrive as strings (env, .env, CLI flags) and are normalised here.
 */

const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['', '0', '1', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(v), {
    message: 'expected 1/0, true/false, yes/no or on/off',
  })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const absolutePath = z
  .string()
  .trim()
  .min(1, 'expected an absolute path, got an empty value')
  .refine((v) => path.isAbsolute(v), { message: 'expected an absolute path' })
  .transform((v) => path.resolve(v));

const anyPath = z.string().trim().min(1, 'expected a path, got an empty value');

function positiveInt(what: string) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `expected a whole number of ${what}`)
    .transform((v) => Number.parseInt(v, 10))
    .refine((n) => n > 0, { message: `expected a positive number of ${what}` });
}

const wholeSeconds = z
  .string()
  .trim()
  .regex(/^\d+$/, 'expected a whole number of seconds (0: do not wait)')
  .transform((v) => Number.parseInt(v, 10));

const stringArrayJson = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === '') return [] as string[];
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
    } catch {
      /* reported below */
    }
    ctx.addIssue({ code: 'custom', message: 'expected a JSON array of strings, e.g. ["-m","gpt-5.3-codex"]' });
    return z.NEVER;
  });

const pathList = z
  .string()
  .trim()
  .transform((v) =>
    v
      .split(':')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .refine((xs) => xs.every((x) => path.isAbsolute(x) || x.startsWith('~/')), {
    message: 'expected absolute paths (or ~/…) separated by ":"',
  });

const envNameList = z
  .string()
  .trim()
  .transform((v) => v.split(/[\s,]+/).filter(Boolean))
  .refine((xs) => xs.every((x) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(x)), { message: 'expected variable names separated by commas' });

const money = z
  .string()
  .trim()
  .regex(/^\$?\d+(\.\d+)?$/, 'expected an amount in US dollars, e.g. 5 or 0.50')
  .transform((v) => Number(v.replace(/^\$/, '')))
  .refine((n) => n > 0, { message: 'expected an amount above 0' });

/** 90s, 45m, 2h, 1.5h; a bare number is minutes. → milliseconds. */
export function parseWallTime(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|min|h)?$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'h' ? 3_600_000 : 60_000);
  return n > 0 ? Math.round(n) : null;
}

const wallTime = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const ms = parseWallTime(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as 90s, 45m or 2h (a bare number is minutes)' });
      return z.NEVER;
    }
    return ms;
  });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export interface EnvVarSpec {
  name: string;
  description: string;
  example: string;
  schema: z.ZodType;
}

export const ENV_VARS = [
  {
    name: 'ORCHESTRATOR_BASE_DIR',
    description: 'Absolute directory that holds main/ and the task-* worktrees beside it.',
    example: '/home/me/work/myrepo',
    schema: absolutePath,
  },
  {
    name: 'OPENAI_API_KEY',
    description:
      'API key for the orchestrator model (any non-empty value works with a custom OPENAI_BASE_URL). Codex workers use your own codex login unless you point them elsewhere.',
    example: 'sk-...',
    schema: z.string().trim().min(1, 'expected a non-empty key'),
  },
  {
    name: 'OPENAI_BASE_URL',
    description: 'OpenAI-compatible endpoint for the orchestrator model (Responses API). Empty: the OpenAI default.',
    example: 'http://127.0.0.1:8080/v1',
    schema: z.string().trim().url('expected a URL such as http://127.0.0.1:8080/v1'),
  },
  { name: 'ORCHESTRATOR_MODEL', description: 'Model of the Orchestrator Agent.', example: 'gpt-5.1', schema: z.string().trim().min(1) },
  {
    name: 'ORCHESTRATOR_REVIEW_MODEL',
    description: 'Model of the review agent that approves or sends back each plan subtask. Empty: the orchestrator model.',
    example: 'gpt-5.1',
    schema: z.string().trim().min(1),
  },
  {
    name: 'ORCHESTRATOR_REASONING_EFFORT',
    description:
      'Reasoning effort for the orchestrator model, for models that take one (minimal, low, medium, high). Empty: the model default.',
    example: 'medium',
    schema: z.enum(['minimal', 'low', 'medium', 'high']),
  },
  {
    name: 'ORCHESTRATOR_TEMPERATURE',
    description: 'Sampling temperature for the orchestrator model, for models that take one (0 to 2). Empty: the model default.',
    example: '0.2',
    schema: z
      .string()
      .trim()
      .regex(/^\d+(\.\d+)?$/, 'expected a number from 0 to 2')
      .transform(Number)
      .refine((n) => n >= 0 && n <= 2, { message: 'expected a number from 0 to 2' }),
  },
  {
    name: 'ORCHESTRATOR_MAX_TURNS',
    description: 'Maximum model turns of one orchestrator run (the SDK default of 10 is too low).',
    example: '100',
    schema: positiveInt('turns'),
  },
  {
    name: 'ORCHESTRATOR_TRACE',
    description: 'Set to 1 to print every run_repo_command call and decision to stderr as it happens.',
    example: '0',
    schema: flag,
  },
  { name: 'ORCHESTRATOR_DRY_RUN', description: 'Set to 1 to check and log every command but execute none.', example: '0', schema: flag },
  {
    name: 'ORCHESTRATOR_POLICY',
    description: 'Command policy file (JSON or YAML). Default: policies/default.json of this package.',
    example: './policies/default.json',
    schema: anyPath,
  },
  {
    name: 'ORCHESTRATOR_COMMAND_LOG',
    description: 'JSON Lines log of every run_repo_command call. Default: <stateDir>/run_repo_command.log.',
    example: '/tmp/run_repo_command.log',
    schema: anyPath,
  },
  {
    name: 'ORCHESTRATOR_STATE_DIR',
    description: 'Run state (logs, run directories, reports). Default: <baseDir>/.codex-orchestrator/.',
    example: '/home/me/work/myrepo/.codex-orchestrator',
    schema: anyPath,
  },
  {
    name: 'ORCHESTRATOR_COMMAND_TIMEOUT_MS',
    description: 'Timeout of one non-codex command run by the gateway, in milliseconds.',
    example: '600000',
    schema: positiveInt('milliseconds'),
  },
  {
    name: 'ORCHESTRATOR_CODEX_TIMEOUT_MS',
    description: 'Wall-clock budget of one codex worker run, in milliseconds.',
    example: '1800000',
    schema: positiveInt('milliseconds'),
  },
  {
    name: 'ORCHESTRATOR_OUTPUT_CAP',
    description: 'Bytes of stdout/stderr kept per command (head and tail; the middle is cut and counted).',
    example: '65536',
    schema: positiveInt('bytes'),
  },
  {
    name: 'ORCHESTRATOR_WORKER_STALL_SECONDS',
    description: 'A codex worker that emits no event for this long is killed and marked stuck.',
    example: '1200',
    schema: positiveInt('seconds'),
  },
  {
    name: 'ORCHESTRATOR_DIRTY_WAIT_SECONDS',
    description:
      'How long the merge queue waits, once for the whole queue, for uncommitted changes in main/ to go before it stops (the complete subtasks stay complete; runs merge <id> merges them later). 0: do not wait.',
    example: '300',
    schema: wholeSeconds,
  },
  {
    name: 'ORCHESTRATOR_CODEX_ARGS',
    description: 'JSON array of extra arguments appended to every codex exec (model, provider, -c overrides).',
    example: '["-m","gpt-5.3-codex"]',
    schema: stringArrayJson,
  },
  {
    name: 'ORCHESTRATOR_CODEX_PROFILES',
    description: 'Codex worker profiles file (fast/deep/review: model, reasoning effort, sandbox). Default: built-in profiles.',
    example: './codex-profiles.json',
    schema: anyPath,
  },
  { name: 'ORCHESTRATOR_LOG_LEVEL', description: 'Level of the pino log file in the state dir.', example: 'info', schema: logLevel },
  {
    name: 'ORCHESTRATOR_DISPATCH_TOKEN',
    description:
      'Bearer token of the dispatcher HTTP intake (dispatch --http); the intake refuses to start without it. At least 16 characters, e.g. openssl rand -hex 32.',
    example: 'change-me-to-a-long-random-secret',
    schema: z.string().trim().min(16, 'expected a token of at least 16 characters'),
  },
  {
    name: 'ORCHESTRATOR_QUEUE',
    description:
      'Redis URL of the job queue (BullMQ). Set it to run plan subtasks on `codex-orch agent` machines, and for `dispatch` to share whole tasks with every dispatcher on it (one run per repository at a time); empty: everything runs here.',
    example: 'redis://127.0.0.1:6379',
    schema: z
      .string()
      .trim()
      .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL'),
  },
  {
    name: 'ORCHESTRATOR_QUEUE_PREFIX',
    description: 'Namespace of every queue key in Redis (one Redis can serve several setups).',
    example: 'codex-orch',
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, dot, dash or underscore'),
  },
  {
    name: 'ORCHESTRATOR_QUEUE_LOCK_MS',
    description:
      'How long an agent (or a dispatcher, for a queued task and its repository lock) holds a job without renewing it before the job counts as stalled, in milliseconds.',
    example: '300000',
    schema: positiveInt('milliseconds'),
  },
  {
    name: 'ORCHESTRATOR_QUEUE_STALLED_MS',
    description: 'How often agents and dispatchers look for stalled jobs (of a dead one) to retry, in milliseconds.',
    example: '30000',
    schema: positiveInt('milliseconds'),
  },
  {
    name: 'ORCHESTRATOR_ARTIFACTS',
    description:
      "Where branch bundles travel between machines: a directory every machine mounts, or the http:// URL of the orchestrator's artifact endpoint. Empty: the orchestrator serves one on ORCHESTRATOR_ARTIFACTS_LISTEN.",
    example: 'http://10.0.0.5:7421',
    schema: z.string().trim().min(1),
  },
  {
    name: 'ORCHESTRATOR_ARTIFACTS_LISTEN',
    description: "host:port the orchestrator's artifact endpoint listens on (agents on other machines must reach it).",
    example: '127.0.0.1:0',
    schema: z
      .string()
      .trim()
      .regex(/^[^\s:]+:\d+$/, 'expected host:port'),
  },
  {
    name: 'ORCHESTRATOR_ARTIFACTS_TOKEN',
    description: 'Bearer token of the artifact endpoint; the same value on the orchestrator and every agent. At least 16 characters.',
    example: 'change-me-to-a-long-random-secret',
    schema: z.string().trim().min(16, 'expected a token of at least 16 characters'),
  },
  {
    name: 'ORCHESTRATOR_ARTIFACT_MAX_MB',
    description: 'Largest bundle accepted, in MiB (a warning is logged above a quarter of it).',
    example: '100',
    schema: positiveInt('MiB'),
  },
  {
    name: 'ORCHESTRATOR_DASHBOARD_TOKEN',
    description:
      'Token of the web dashboard (codex-orch serve); required when --host is not loopback. At least 16 characters, e.g. openssl rand -hex 32.',
    example: 'change-me-to-a-long-random-secret',
    schema: z.string().trim().min(16, 'expected a token of at least 16 characters'),
  },
  {
    name: 'ORCHESTRATOR_SANDBOX',
    description:
      'OS sandbox of every command the gateway runs: auto (strongest available: bwrap, codex sandbox, unshare), bwrap, codex, unshare, or off (commands run unconfined; reports say so).',
    example: 'auto',
    schema: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['auto', 'bwrap', 'codex', 'unshare', 'off'])),
  },
  {
    name: 'ORCHESTRATOR_SANDBOX_SECRET_PATHS',
    description: 'Extra paths hidden from sandboxed commands, separated by ":" ($HOME, /root, /home and /tmp are always hidden).',
    example: '/etc/ssl/private:/srv/secrets',
    schema: pathList,
  },
  {
    name: 'ORCHESTRATOR_SANDBOX_ENV',
    description:
      'Extra environment variables passed into sandboxed commands, comma separated (keys, tokens and the SSH agent are never passed).',
    example: 'NODE_ENV,DATABASE_URL',
    schema: envNameList,
  },
  {
    name: 'ORCHESTRATOR_APPROVE',
    description:
      'Set to 1 to stop before each plan merge until a person approves it (codex-orch runs approve|reject); same as run --approve or "approve": true in .codex-orchestrator.json.',
    example: '0',
    schema: flag,
  },
  {
    name: 'ORCHESTRATOR_WEBHOOK_URL',
    description:
      'URL that gets a JSON POST when a run ends, a worker is stuck or crashed, a budget is reached or an approval is needed (3 retries; never blocks the run).',
    example: 'https://hooks.example.com/codex-orch',
    schema: z.string().trim().url('expected a URL such as https://hooks.example.com/codex-orch'),
  },
  {
    name: 'ORCHESTRATOR_WEBHOOK_SECRET',
    description: 'Secret for the webhook signature: X-Codex-Orch-Signature: sha256=<HMAC-SHA256 of the body, hex>. Empty: unsigned.',
    example: 'change-me',
    schema: z.string().min(1),
  },
  {
    name: 'ORCHESTRATOR_WEBHOOK_TIMEOUT_MS',
    description: 'Timeout of one webhook attempt, in milliseconds.',
    example: '5000',
    schema: positiveInt('milliseconds'),
  },
  {
    name: 'ORCHESTRATOR_NOTIFY_COMMAND',
    description:
      'User-level notification hook: a JSON argv array run without a shell, the event payload as JSON on stdin (the repository settings\' "notify" runs too).',
    example: '["/usr/local/bin/notify-chat","--channel","builds"]',
    schema: stringArrayJson,
  },
  {
    name: 'ORCHESTRATOR_NOTIFY_DESKTOP',
    description: 'Set to 1 to also send desktop notifications with notify-send when it is installed (same as --desktop).',
    example: '0',
    schema: flag,
  },
  {
    name: 'CODEX_BIN',
    description: 'The codex executable. Default: codex on PATH, else the one bundled with the @openai/codex dependency.',
    example: '/usr/local/bin/codex',
    schema: anyPath,
  },
  {
    name: 'ORCHESTRATOR_MAX_COST',
    description:
      'Budget: US dollars of worker and review tokens (at the price table) after which no new worker starts (same as --max-cost).',
    example: '5',
    schema: money,
  },
  {
    name: 'ORCHESTRATOR_MAX_TOKENS',
    description: 'Budget: worker and review tokens after which no new worker starts (same as --max-tokens).',
    example: '2000000',
    schema: positiveInt('tokens'),
  },
  {
    name: 'ORCHESTRATOR_MAX_WALL',
    description: 'Budget: wall time of a plan, e.g. 90s, 45m, 2h (a bare number is minutes; same as --max-wall).',
    example: '2h',
    schema: wallTime,
  },
  {
    name: 'ORCHESTRATOR_MAX_WORKERS',
    description: 'Budget: codex worker launches (first runs, self-heals and reworks each count one; same as --max-workers).',
    example: '20',
    schema: positiveInt('workers'),
  },
  {
    name: 'ORCHESTRATOR_ON_BUDGET',
    description: 'When a budget is used up: stop kills running workers, finish lets them end (same as --on-budget). Default stop.',
    example: 'stop',
    schema: z.enum(['finish', 'stop']),
  },
  {
    name: 'ORCHESTRATOR_PRICES',
    description:
      'Price table file (JSON, USD per million tokens per model) merged over pricing/models.json of this package. Models in neither show tokens only.',
    example: './prices.json',
    schema: anyPath,
  },
  {
    name: 'ORCHESTRATOR_TRACING',
    description: 'Set to 1 to export Agents SDK traces to OpenAI (off by default; never with a non-OpenAI OPENAI_BASE_URL).',
    example: '0',
    schema: flag,
  },
  {
    name: 'OPENAI_AGENTS_DISABLE_TRACING',
    description: "The Agents SDK's own switch: 1 exports no traces to OpenAI.",
    example: '1',
    schema: flag,
  },
] as const satisfies readonly EnvVarSpec[];

export type EnvVarName = (typeof ENV_VARS)[number]['name'];
