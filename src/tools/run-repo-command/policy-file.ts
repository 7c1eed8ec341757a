/**
 * The policy data file (JSON or YAML) behind the command guard: its zod schema,
 * loading with a clear ConfigError, and a short summary for the agent's prompt.
 *
 * The file holds the data (which programs, subcommands, option names and
 * environment names); the semantics live in policy/. Some things stay denied
 * whatever the file says (enforced in policy/): the hard-blocked git
 * subcommands, the wrapper programs (`sh -c`, `env`, `xargs`, ...), program paths
 * instead of bare names, and inline interpreter code.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { packageRoot } from '../../config/config.js';
import { ConfigError } from '../../errors.js';

const names = z.array(z.string().min(1));

const packageManagerSchema = z
  .object({
    /** Subcommands allowed (e.g. test, run). */
    allowed: names.default([]),
    /** Subcommands denied with a dependency-change reason (install, add, ...). */
    denied: names.default([]),
    /** When true, a subcommand that is neither allowed nor denied is taken as a script name (`yarn build`). */
    scripts: z.boolean().default(false),
  })
  .strict();

const interpreterSchema = z
  .object({
    /** Options that run inline code or load code from elsewhere (always denied). */
    deniedOptions: names.default([]),
    /** Options allowed before the script file; anything else is denied. */
    allowedOptions: names.default([]),
    /** Options (from allowedOptions) that take a separate value. */
    valueOptions: names.default([]),
    /** `python -m <module>`: modules allowed. */
    allowedModules: names.default([]),
  })
  .strict();

const toolSchema = z
  .object({
    /** Options denied outright (they run other programs or change the tool's config). */
    deniedOptions: names.default([]),
    /** Subcommands required as the first operand (e.g. cargo: [test]); empty = any. */
    subcommands: names.default([]),
  })
  .strict();

export const policySchema = z
  .object({
    version: z.literal(1).default(1),
    description: z.string().optional(),
    /** Bare program names allowed as command words. */
    programs: names.min(1),
    /** Programs whose file operands are path-checked (cat, ls, grep, ...). */
    fileCommands: names.default(['cat', 'head', 'tail', 'ls', 'wc', 'grep', 'rg', 'find', 'diff']),
    git: z
      .object({
        allowedSubcommands: names,
        deniedSubcommands: names.default([]),
        /** Keys allowed in `git -c key=value`; `*` at the end matches any suffix (`color.*`). */
        harmlessConfigKeys: names.default([]),
      })
      .strict(),
    codex: z
      .object({
        allowedSubcommands: names.default(['exec']),
        /** Keys allowed in `codex -c key=value`; `*` at the end matches any suffix. */
        harmlessConfigKeys: names.default([]),
      })
      .strict()
      .default({ allowedSubcommands: ['exec'], harmlessConfigKeys: [] }),
    /** The only names a `VAR=value` prefix may set (and a word may expand), e.g. NODE_ENV, CI. */
    safeEnv: names.default([
      'NODE_ENV',
      'CI',
      'PYTHONDONTWRITEBYTECODE',
      'FORCE_COLOR',
      'NO_COLOR',
      'TZ',
      'LANG',
      'LC_ALL',
      'DEBUG',
      'TERM',
    ]),
    /** Names denied where variables are not allowlisted (make variables, tool overrides). */
    sensitiveEnv: z
      .object({
        names: names.default([]),
        prefixes: names.default([]),
      })
      .strict(),
    find: z
      .object({
        deniedActions: names.default([]),
      })
      .strict(),
    packageManagers: z.record(z.string(), packageManagerSchema).default({}),
    interpreters: z.record(z.string(), interpreterSchema).default({}),
    tools: z.record(z.string(), toolSchema).default({}),
    allowGitClean: z.boolean().default(false),
    allowDangerFullAccess: z.boolean().default(false),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;

/** The default policy file shipped with the package: policies/default.json. */
export function defaultPolicyPath(): string {
  return path.join(packageRoot(), 'policies', 'default.json');
}

const cache = new Map<string, { mtimeMs: number; size: number; policy: Policy }>();

/**
 * Reads and validates a policy file (JSON, or YAML for .yaml/.yml). Throws a
 * ConfigError that names the file and the offending field. Cached by path and mtime.
 */
export function loadPolicy(file: string): Policy {
  const abs = path.resolve(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch (cause) {
    throw new ConfigError(`policy file ${abs}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, {
      variable: 'ORCHESTRATOR_POLICY',
      hint: 'point ORCHESTRATOR_POLICY (or --policy) at a JSON or YAML policy file, e.g. policies/default.json',
      cause,
    });
  }
  const hit = cache.get(abs);
  if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.policy;
  const text = fs.readFileSync(abs, 'utf8');
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(abs) ? YAML.parse(text) : JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(
      `policy file ${abs}: not valid ${/\.ya?ml$/i.test(abs) ? 'YAML' : 'JSON'}: ${(cause as Error).message.split('\n')[0]}`,
      {
        variable: 'ORCHESTRATOR_POLICY',
        cause,
      },
    );
  }
  const policy = parsePolicy(raw, abs);
  cache.set(abs, { mtimeMs: stat.mtimeMs, size: stat.size, policy });
  return policy;
}

/** Validates an already-parsed policy object; `source` names it in errors. */
export function parsePolicy(raw: unknown, source = 'policy'): Policy {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let field = issue.path.map(String).join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys?: string[] }).keys ?? [];
      field = [...issue.path.map(String), keys[0] ?? ''].filter(Boolean).join('.');
      message = 'unknown field';
    }
    throw new ConfigError(`policy file ${source}: field ${field || '(root)'}: ${message}`, {
      variable: 'ORCHESTRATOR_POLICY',
      hint: 'see policies/default.json for the expected fields',
    });
  }
  return Object.freeze(parsed.data);
}

/** A few lines about the policy, for the agent's prompt. */
export function summarizePolicy(policy: Policy): string {
  const pms = Object.entries(policy.packageManagers)
    .map(([pm, r]) => `${pm} ${r.allowed.slice(0, 4).join('/')}${r.scripts ? '/<script>' : ''}`)
    .join(', ');
  return [
    `Allowed programs (bare names only): ${policy.programs.join(', ')}.`,
    `git subcommands allowed: ${policy.git.allowedSubcommands.join(', ')}; never push, remote, reset, rebase${policy.allowGitClean ? '' : ', clean'}; git -c only for ${policy.git.harmlessConfigKeys.join(', ')}.`,
    `codex: only \`codex exec ...\` (or \`codex exec resume ...\`) as the whole command line${policy.allowDangerFullAccess ? '' : '; no danger-full-access sandbox'}.`,
    `Package managers: ${pms}; no dependency changes (install/add/remove/update), no npx/dlx/exec.`,
    'Interpreters run script files inside the base dir only (no -e/-c/-p inline code). Paths and redirections must stay inside the base dir (/dev/null is fine).',
    `No sh -c, env, xargs, eval, exec, command substitution in the command word, backgrounding (&) or control flow (if/for/while); VAR= prefixes only for ${policy.safeEnv.join(', ')}.`,
    "main/ is the user's checkout: there only inspect, `git worktree add ../task-<slug> -b task-<slug>`, `git merge --no-ff task-<slug>` and `git merge --abort`; edit and commit in task worktrees. A command writes only inside its own worktree.",
  ].join('\n');
}
