/**
 * npm, yarn, pnpm (and pip for setup): scripts run, dependencies do not change,
 * except for the repository's own `setup` lines, which may install from the lockfile.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ShCommand, ShWord } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { checkPathValue, resolveReal } from './paths.js';
import { checkToolArgs } from './tools.js';

const PM_VALUE_OPTS = new Set([
  '--prefix',
  '-C',
  '--cwd',
  '--dir',
  '-w',
  '--workspace',
  '--filter',
  '-F',
  '--loglevel',
  '--reporter',
  '--cache-folder',
]);
const PM_PATH_OPTS = new Set(['--prefix', '-C', '--cwd', '--dir', '-w', '--workspace']);
const PM_DENIED_OPTS = [
  '--script-shell',
  '--node-options',
  '--userconfig',
  '--globalconfig',
  '--init-module',
  '--shell',
  '--editor',
  '--git',
  '--cache',
  '--cache-folder',
  '--npm-path',
  '--node-gyp',
  '--onload-script',
  '--call',
  '--package',
  '--scripts-prepend-node-path',
  '--use-yarnrc',
  '--global-folder',
  '--modules-folder',
  '--preferred-cache-folder',
  '--link-folder',
  '--registry',
  '--global',
  '--location',
  '--viewer',
  '--browser',
  '--store-dir',
  '--virtual-store-dir',
  '--global-dir',
  '--config',
  '--workspace-root',
  '--yarn-path',
  '--proxy',
  '--https-proxy',
  '--cafile',
  '--script-shell',
  '--foreground-scripts',
  '--rc',
];
const PM_DENIED_SHORT = new Set(['-c', '-g']);
const INFO_ONLY = ['--version', '-v', '--help', '-h'];

/** Options a setup install may carry; anything else (a package name, a registry) is denied. */
const INSTALL_OPTS = new Set([
  '--ignore-scripts',
  '--frozen-lockfile',
  '--pure-lockfile',
  '--immutable',
  '--no-audit',
  '--no-fund',
  '--prefer-offline',
  '--offline',
  '--silent',
  '-s',
  '--production',
  '--non-interactive',
  '--no-progress',
  '--loglevel=error',
  '--loglevel=warn',
  '--include=dev',
]);
const INSTALL_SUBS: Record<string, string[]> = { npm: ['ci', 'install', 'i', 'clean-install'], yarn: ['install'], pnpm: ['install', 'i'] };

/** nopt-style normalisation: `--Script_Shell` is `--script-shell`. */
const normalise = (name: string) => name.toLowerCase().replace(/_/g, '-');

function pmOption(v: string, next: ShWord | undefined, program: string, env: Env): Deny | null {
  const raw = v.includes('=') && v.startsWith('--') ? v.slice(0, v.indexOf('=')) : v;
  const name = raw.startsWith('--') ? normalise(raw) : raw;
  const abbreviation = name.startsWith('--') && name.length >= 3 && PM_DENIED_OPTS.some((o) => o.startsWith(name));
  if (PM_DENIED_SHORT.has(name) || abbreviation || /^--(.*-)?(shell|config|userconfig|node-options|path|rc|registry)$/.test(name)) {
    return new Deny(
      'package-manager',
      `${program} option ${q(raw)} is not allowed (it changes which programs or configuration ${program} uses)`,
    );
  }
  if (/^-[a-zA-Z]{2,}$/.test(name) && /[cg]/.test(name))
    return new Deny('package-manager', `${program} option cluster ${q(raw)} is not allowed`);
  if (PM_PATH_OPTS.has(name)) {
    const w = v.includes('=') ? undefined : next;
    const value = v.includes('=') ? v.slice(v.indexOf('=') + 1) : w?.value;
    if (w && (w.dynamic || w.tilde)) return new Deny('path', `${program} ${name} value ${q(w.text)} must be a literal path`);
    if (value !== undefined) return checkPathValue(value, env, { what: `${program} ${name}`, within: env.cwd, withinName: 'worktree' });
  }
  return null;
}

const scriptCache = new Map<string, { mtimeMs: number; size: number; names: Set<string> }>();

/** The script names of the package.json in `dir` (empty when there is none); cached by mtime and size. */
function scriptNames(dir: string): Set<string> {
  const file = path.join(dir, 'package.json');
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  if (!st) return new Set();
  const hit = scriptCache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.names;
  let names = new Set<string>();
  try {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { scripts?: Record<string, unknown> };
    names = new Set(Object.keys(pkg.scripts ?? {}));
  } catch {
    // An unreadable package.json has no scripts.
  }
  if (scriptCache.size > 64) scriptCache.clear();
  scriptCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, names });
  return names;
}

export function checkPackageManager(cmd: ShCommand, program: string, env: Env): Check {
  const rules = env.policy.packageManagers[program];
  if (!rules) return new Deny('package-manager', `${program} has no rules in the policy file`);
  const args = cmd.args;
  let sub: ShWord | undefined;
  let subIndex = -1;
  let projectDir = env.cwd;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `${program} argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '--') break;
    if (v.startsWith('-') && v !== '-') {
      const d = pmOption(v, args[i + 1], program, env);
      if (d) return d;
      const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
      if (['--cwd', '--prefix', '-C', '--dir'].includes(name))
        projectDir = resolveReal(env.cwd, v.includes('=') ? v.slice(v.indexOf('=') + 1) : (args[i + 1]?.value ?? '.'));
      if (PM_VALUE_OPTS.has(v)) i++;
      continue;
    }
    sub = w;
    subIndex = i;
    break;
  }
  if (!sub) {
    if (args.length > 0 && args.every((a) => INFO_ONLY.includes(a.value))) return verdict('edit');
    if (program === 'yarn' && env.purpose === 'setup') return checkInstall(args, program);
    return new Deny(
      'package-manager',
      `bare ${program} is not allowed${program === 'yarn' ? ' (it installs dependencies)' : ''}; use ${program} test or ${program} run <script>`,
    );
  }
  const s = sub.value;
  const rest = args.slice(subIndex + 1);
  if (INSTALL_SUBS[program]?.includes(s) && env.purpose === 'setup') return checkInstall(rest, program);
  if (rules.denied.includes(s)) {
    const setupHint = INSTALL_SUBS[program]?.includes(s)
      ? " (installs run only as the repository's setup commands in .codex-orchestrator.json)"
      : '';
    return new Deny(
      'package-manager',
      `${program} ${s} is not allowed: dependency changes and package execution are denied (${program} ${s})${setupHint}`,
    );
  }
  const builtin = rules.allowed.includes(s);
  if (!builtin && !rules.scripts)
    return new Deny('package-manager', `${program} ${s} is not an allowed ${program} command (allowed: ${rules.allowed.join(', ')})`);
  // `run <x>` runs a package.json script (npm and pnpm also have a built-in `env`
  // script that prints the environment); yarn's `<x>` also runs any binary in
  // node_modules/.bin: only the worktree's own script names.
  const runs = ['run', 'run-script', 'rum', 'urn'].includes(s);
  const script = !builtin ? s : runs ? rest.find((w) => !w.value.startsWith('-'))?.value : undefined;
  if (script !== undefined) {
    const scripts = scriptNames(projectDir);
    if (!scripts.has(script)) {
      return new Deny(
        'package-manager',
        `${program} ${runs ? `${s} ` : ''}${script}: ${q(script)} is not a script in package.json${program === 'yarn' ? ' (yarn would run a binary of that name)' : ''}; scripts: ${[...scripts].join(', ') || 'none'}`,
      );
    }
  }
  if (program === 'yarn' && s === 'workspaces' && rest[0]?.value !== 'info')
    return new Deny('package-manager', 'yarn workspaces is only allowed as `yarn workspaces info`');
  for (let i = 0; i < rest.length; i++) {
    const v = rest[i]!.value;
    if (v === '--') break;
    if (v.startsWith('-') && !rest[i]!.dynamic) {
      const d = pmOption(v, rest[i + 1], program, env);
      if (d) return d;
    }
  }
  // Script arguments end up on the script's shell command line.
  for (const w of rest) {
    if (w.dynamic || w.brace) return new Deny('dynamic', `${program} ${s} argument ${q(w.text)} is built at run time`);
    if (/[;|&$`<>(){}\\'"!#*?\n~]/.test(w.value))
      return new Deny(
        'package-manager',
        `${program} ${s} argument ${q(w.value)} has shell characters; ${program} passes script arguments to a shell`,
      );
  }
  return checkToolArgs(rest, `${program} ${s}`, env, [], 'package-manager') ?? verdict('edit');
}

function checkInstall(rest: readonly ShWord[], program: string): Check {
  for (const w of rest) {
    if (!INSTALL_OPTS.has(w.value)) {
      return new Deny(
        'package-manager',
        `${program} install in setup takes only lockfile options (${[...INSTALL_OPTS].join(', ')}), not ${q(w.text)}`,
      );
    }
  }
  return verdict('install');
}

/** pip: only `pip install -r <requirements file in the worktree>`, and only as a setup command. */
export function checkPip(cmd: ShCommand, program: string, env: Env): Check {
  const args = cmd.args;
  if (env.purpose !== 'setup')
    return new Deny(
      'package-manager',
      `${program} runs only as the repository's setup command (\`${program} install -r requirements.txt\`)`,
    );
  if (args[0]?.value !== 'install') return new Deny('package-manager', `${program} is only allowed as \`${program} install -r <file>\``);
  let sawReq = false;
  for (let i = 1; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.glob || w.brace || w.tilde) return new Deny('dynamic', `${program} argument ${q(w.text)} must be literal`);
    const v = w.value;
    if (v === '-r' || v === '--requirement') {
      const f = args[++i];
      if (!f) return new Deny('package-manager', `${program} ${v} needs a file`);
      const d = checkPathValue(f.value, env, { what: `${program} requirements file`, within: env.cwd, withinName: 'worktree' });
      if (d) return d;
      sawReq = true;
      continue;
    }
    if (['-q', '--quiet', '--no-cache-dir', '--require-hashes', '--no-deps', '--disable-pip-version-check', '--no-input'].includes(v))
      continue;
    return new Deny('package-manager', `${program} install option or package ${q(v)} is not allowed (only -r <file>)`);
  }
  if (!sawReq) return new Deny('package-manager', `${program} install needs -r <requirements file>`);
  return verdict('install');
}
