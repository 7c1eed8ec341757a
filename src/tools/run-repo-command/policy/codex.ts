/**
 * `codex exec …` alone on its line: read by the worker layer's own flag reader
 * (parseSeedCodexArgs), so what the guard allows is exactly what the gateway runs.
 */
import { parseSeedCodexArgs, SeedArgsError, seedRequestProblem } from '../../../workers/codex/seed-args.js';
import type { ShCommand } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { matchConfigKey } from './options.js';

export function checkCodex(cmd: ShCommand, env: Env, single: boolean): Check {
  const p = env.policy;
  if (!single || cmd.assignments.length > 0) {
    return new Deny(
      'codex',
      '`codex exec` must be run alone: one command, no chaining, pipes, redirections, substitutions or VAR= prefixes',
    );
  }
  for (const w of cmd.args) {
    if (w.dynamic || w.brace || w.glob)
      return new Deny(
        'dynamic',
        `codex argument ${q(w.text)} is built at run time or expanded by the shell; the prompt must be quoted literal text`,
      );
    if (w.tilde) return new Deny('path', `codex argument ${q(w.text)} uses home (~) expansion`);
  }
  const words = cmd.args.map((w) => w.value);
  const sub = words[0];
  if (sub === undefined)
    return new Deny('codex', 'codex needs the exec subcommand (`codex exec "<prompt>"`); interactive codex is not allowed');
  const canonical = sub === 'e' ? 'exec' : sub;
  if (!p.codex.allowedSubcommands.includes(canonical)) {
    return new Deny(
      'codex',
      `codex ${sub} is not allowed (only ${p.codex.allowedSubcommands.map((s) => `codex ${s}`).join(', ')}, with codex's options after the subcommand)`,
    );
  }
  let req;
  try {
    req = parseSeedCodexArgs(words);
  } catch (e) {
    if (e instanceof SeedArgsError) return new Deny('codex', e.message);
    throw e;
  }
  const problem = seedRequestProblem(req, { cwd: env.cwd, allowDangerFullAccess: p.allowDangerFullAccess });
  if (problem) return new Deny('codex', problem);
  // A person who starts a worker in main/ themselves (codex-orch exec) decides so, as if they ran codex there; a model never does.
  if (env.isMain && req.sandbox !== 'read-only' && env.purpose !== 'person') {
    return new Deny(
      'main-write',
      "a codex worker in main/ would edit the user's checkout; run it in a task worktree, or in main/ with `-s read-only` to only look",
    );
  }
  for (const kv of req.config) {
    const key = kv.split('=')[0]!.trim();
    if (!matchConfigKey(key, p.codex.harmlessConfigKeys))
      return new Deny(
        'codex',
        `codex -c ${q(key)} is not an allowed configuration key (allowed: ${p.codex.harmlessConfigKeys.join(', ')})`,
      );
  }
  return verdict('codex');
}
