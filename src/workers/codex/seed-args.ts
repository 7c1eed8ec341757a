/**
 * The one reader of the codex flags a seed-style line may carry: the command guard
 * checks a `codex exec …` line with it and the gateway runs the same reading, so the
 * two never disagree about what a line means.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxMode } from './capabilities.js';
import type { ProfileName } from './profiles.js';

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
        if (v !== 'fast' && v !== 'deep' && v !== 'review')
          throw new SeedArgsError(`--profile ${v}: the worker profiles are fast, deep and review`);
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

/**
 * What no seed line may ask for whatever the caller: danger-full-access (unless
 * allowed), sandbox/approval settings through -c, a -C that leaves the worktree.
 * Returns the reason, or null. `cwd` is the worktree's real path.
 */
export function seedRequestProblem(req: SeedCodexRequest, options: { cwd: string; allowDangerFullAccess?: boolean }): string | null {
  if (req.sandbox === 'danger-full-access' && !options.allowDangerFullAccess)
    return 'sandbox danger-full-access is not allowed by the policy';
  for (const kv of req.config) {
    if (/^\s*["']?(sandbox|approval|dangerously)/i.test(kv) && !options.allowDangerFullAccess)
      return `-c ${kv.split('=')[0]} is not allowed through the gateway (use -s/--sandbox)`;
    if (/danger-full-access/.test(kv) && !options.allowDangerFullAccess)
      return `-c ${kv} sets danger-full-access, which the policy does not allow`;
  }
  if (req.cd !== undefined && seedWorkdir(req, options.cwd) === null) return `-C ${req.cd} leaves the worktree`;
  return null;
}

/** The directory the worker runs in: the worktree, or its `-C` subdirectory; null when `-C` leaves it. */
export function seedWorkdir(req: SeedCodexRequest, cwd: string): string | null {
  if (req.cd === undefined) return cwd;
  const target = path.resolve(cwd, req.cd);
  const real = fs.existsSync(target) ? fs.realpathSync(target) : target;
  const base = fs.realpathSync(cwd);
  if (real !== base && !real.startsWith(`${base}${path.sep}`)) return null;
  return real;
}
