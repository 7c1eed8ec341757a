import fs from 'node:fs';
import { execa } from 'execa';
import { WorkerError } from '../../errors.js';

export type SandboxMode = 'read-only' | 'workspace-write' | 'danger-full-access';

/** What one codex build accepts, read from its help texts. */
export interface CodexCapabilities {
  bin: string;
  version: string;
  /** Flags `codex exec --help` lists (long and short forms, e.g. `--json`, `-m`). */
  execFlags: string[];
  /** Flags `codex exec resume --help` lists; empty when the build has no resume. */
  resumeFlags: string[];
  hasResume: boolean;
  /** Values `--sandbox` accepts (empty when the build has no --sandbox). */
  sandboxModes: string[];
}

/** Flags of an option's help line: `  -m, --model <MODEL>` → ['-m', '--model']. */
export function parseHelpFlags(help: string): string[] {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s{1,8}((?:-[A-Za-z0-9](?:,\s*|\s+))?--[A-Za-z0-9][A-Za-z0-9-]*)/.exec(line);
    if (!m?.[1]) {
      const short = /^\s{1,8}(-[A-Za-z0-9])(?:\s|,|$)/.exec(line);
      if (short?.[1]) flags.add(short[1]);
      continue;
    }
    for (const part of m[1].split(/[,\s]+/)) if (part.startsWith('-')) flags.add(part);
  }
  return [...flags].sort();
}

/** Sandbox values from `[possible values: read-only, workspace-write, ...]` near `--sandbox`. */
export function parseSandboxModes(help: string): string[] {
  const idx = help.search(/--sandbox\b/);
  if (idx < 0) return [];
  const after = help.slice(idx, idx + 800);
  const m = /possible values:\s*([^\]]+)\]/.exec(after);
  if (!m?.[1]) return ['read-only', 'workspace-write', 'danger-full-access'];
  return m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Whether `exec --help` lists a `resume` subcommand. */
export function parseHasResume(help: string): boolean {
  return /^\s+resume\b/m.test(help);
}

export function capabilitiesFromHelp(bin: string, version: string, execHelp: string, resumeHelp: string | null): CodexCapabilities {
  const hasResume = parseHasResume(execHelp) && resumeHelp !== null;
  return {
    bin,
    version,
    execFlags: parseHelpFlags(execHelp),
    resumeFlags: hasResume && resumeHelp ? parseHelpFlags(resumeHelp) : [],
    hasResume,
    sandboxModes: parseSandboxModes(execHelp),
  };
}

const byFile = new Map<string, { version: string }>();
const byVersion = new Map<string, Promise<CodexCapabilities>>();

async function helpText(bin: string, args: string[]): Promise<string | null> {
  const r = await execa(bin, args, { stdin: 'ignore', reject: false, timeout: 15_000, env: { NO_COLOR: '1' } });
  if (r.exitCode !== 0) return null;
  return `${r.stdout}\n${r.stderr}`;
}

/**
 * Reads `codex --version`, `codex exec --help` and `codex exec resume --help` once
 * per binary, cached by path + version (the version lookup itself is cached by
 * path + size + mtime, so a worker in a warm process spawns nothing extra).
 */
export async function detectCapabilities(bin: string): Promise<CodexCapabilities> {
  let fileKey = bin;
  try {
    const st = fs.statSync(bin);
    fileKey = `${bin}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    /* not a plain file: key by path */
  }
  let version = byFile.get(fileKey)?.version;
  if (version === undefined) {
    const r = await execa(bin, ['--version'], { stdin: 'ignore', reject: false, timeout: 15_000 });
    if (r.failed && r.exitCode === undefined) {
      throw new WorkerError(`cannot run codex at ${bin}: ${r.shortMessage}`, { hint: 'check CODEX_BIN or your PATH' });
    }
    version = (r.stdout.trim().split('\n')[0] ?? '').replace(/^codex(-cli)?\s+/i, '').trim() || 'unknown';
    byFile.set(fileKey, { version });
  }
  const key = `${bin}\0${version}`;
  let pending = byVersion.get(key);
  if (!pending) {
    pending = (async () => {
      const execHelp = await helpText(bin, ['exec', '--help']);
      if (execHelp === null) {
        throw new WorkerError(`codex at ${bin} (${version}) has no usable \`exec\` subcommand`, {
          hint: 'install a codex CLI with `codex exec` (npm i -g @openai/codex)',
        });
      }
      const resumeHelp = parseHasResume(execHelp) ? await helpText(bin, ['exec', 'resume', '--help']) : null;
      return capabilitiesFromHelp(bin, version, execHelp, resumeHelp);
    })();
    byVersion.set(key, pending);
    pending.catch(() => byVersion.delete(key));
  }
  return pending;
}

/** Forget cached capabilities (tests). */
export function clearCapabilityCache(): void {
  byFile.clear();
  byVersion.clear();
}

/** What the worker wants from one codex invocation, independent of flag spelling. */
export interface CodexIntents {
  mode: 'exec' | 'resume';
  /** The seed's `--full-auto`: non-interactive, may write inside the worktree. */
  fullAuto?: boolean;
  sandbox?: SandboxMode;
  allowDangerFullAccess?: boolean;
  json: true;
  outputSchemaFile?: string;
  outputLastMessageFile?: string;
  cd?: string;
  skipGitRepoCheck?: boolean;
  model?: string;
  /** `-c key=value` overrides (values already TOML). */
  config?: string[];
}

export interface MappedFlags {
  args: string[];
  /** Intents that could not be expressed with this build, with why (not fatal). */
  missing: string[];
}

/**
 * Intents → flags this build lists. Never emits an unlisted flag; a missing
 * capability that matters (JSON events, a sandbox that can write) throws a
 * WorkerError that names the binary and version; optional ones are reported in `missing`.
 */
export function mapIntents(caps: CodexCapabilities, intents: CodexIntents): MappedFlags {
  const flags = new Set(intents.mode === 'resume' ? caps.resumeFlags : caps.execFlags);
  const where = `codex at ${caps.bin} (${caps.version})${intents.mode === 'resume' ? ' exec resume' : ' exec'}`;
  if (intents.mode === 'resume' && !caps.hasResume) {
    throw new WorkerError(`${where}: this build has no \`exec resume\``, { hint: 'upgrade codex to continue a worker thread' });
  }
  const has = (f: string) => flags.has(f);
  const args: string[] = [];
  const missing: string[] = [];

  if (has('--json')) args.push('--json');
  else if (has('--experimental-json')) args.push('--experimental-json');
  else throw new WorkerError(`${where} does not list --json; the worker needs its JSONL event stream`, { hint: 'upgrade codex' });

  let sandbox: SandboxMode | undefined = intents.sandbox;
  if (sandbox === undefined && intents.fullAuto) sandbox = 'workspace-write';
  if (sandbox === 'danger-full-access' && !intents.allowDangerFullAccess) {
    throw new WorkerError('sandbox danger-full-access is not allowed by the policy', {
      hint: 'use workspace-write, or enable allowDangerFullAccess in the policy file',
    });
  }
  if (sandbox !== undefined) {
    const hasC = has('-c') || has('--config');
    const cFlag = has('-c') ? '-c' : '--config';
    if (intents.fullAuto && sandbox === 'workspace-write' && has('--full-auto')) {
      args.push('--full-auto');
    } else if ((has('--sandbox') || has('-s')) && (caps.sandboxModes.length === 0 || caps.sandboxModes.includes(sandbox))) {
      args.push(has('--sandbox') ? '--sandbox' : '-s', sandbox);
    } else if (hasC) {
      // `exec resume` lists no --sandbox: the config key says the same thing.
      args.push(cFlag, `sandbox_mode="${sandbox}"`);
    } else {
      throw new WorkerError(`${where} cannot be given sandbox ${sandbox} (no --sandbox, --full-auto or -c)`, { hint: 'upgrade codex' });
    }
  }

  if (intents.cd !== undefined) {
    if (has('--cd')) args.push('--cd', intents.cd);
    else if (has('-C')) args.push('-C', intents.cd);
    else missing.push('--cd (the process runs in the directory instead)');
  }
  if (intents.skipGitRepoCheck) {
    if (has('--skip-git-repo-check')) args.push('--skip-git-repo-check');
    else missing.push('--skip-git-repo-check');
  }
  if (intents.model !== undefined) {
    if (has('--model')) args.push('--model', intents.model);
    else if (has('-m')) args.push('-m', intents.model);
    else throw new WorkerError(`${where} does not list --model; cannot select model ${intents.model}`);
  }
  for (const kv of intents.config ?? []) {
    if (has('-c')) args.push('-c', kv);
    else if (has('--config')) args.push('--config', kv);
    else missing.push(`-c ${kv}`);
  }
  if (intents.outputSchemaFile !== undefined) {
    if (has('--output-schema')) args.push('--output-schema', intents.outputSchemaFile);
    else missing.push('--output-schema (the result is asked for in the prompt and validated anyway)');
  }
  if (intents.outputLastMessageFile !== undefined) {
    if (has('--output-last-message')) args.push('--output-last-message', intents.outputLastMessageFile);
    else if (has('-o')) args.push('-o', intents.outputLastMessageFile);
    else missing.push('--output-last-message (taken from the event stream instead)');
  }
  return { args, missing };
}

/** Options that take a value, as codex spells them (for scanning extra args). */
const VALUE_OPTIONS = new Set([
  '-c',
  '--config',
  '-m',
  '--model',
  '-p',
  '--profile',
  '-s',
  '--sandbox',
  '-C',
  '--cd',
  '-i',
  '--image',
  '--enable',
  '--disable',
  '--local-provider',
  '--add-dir',
  '--output-schema',
  '-o',
  '--output-last-message',
  '--color',
  '--remote',
  '--remote-auth-token-env',
  '--thread-source',
  '--cyber-access-program',
]);

/** Single-valued options; when the worker sets one, the same option in extra args is dropped. */
const SINGLE = [
  ['-m', '--model'],
  ['-s', '--sandbox'],
  ['-p', '--profile'],
  ['-C', '--cd'],
  ['-o', '--output-last-message'],
  ['--output-schema'],
  ['--color'],
];

export interface ExtraArgsCheck {
  args: string[];
  /** Options in the extra args that this build does not list (they are dropped, not passed). */
  unlisted: string[];
}

/**
 * Filters `ORCHESTRATOR_CODEX_ARGS` for one invocation: drops options the worker
 * already sets (`override`) and any flag the build does not list, so codex never
 * sees an unlisted flag.
 */
export function filterExtraArgs(
  caps: CodexCapabilities,
  mode: 'exec' | 'resume',
  extra: readonly string[],
  override: readonly string[] = [],
): ExtraArgsCheck {
  const flags = new Set(mode === 'resume' ? caps.resumeFlags : caps.execFlags);
  const overridden = new Set<string>();
  for (const o of override) for (const group of SINGLE) if (group.includes(o)) group.forEach((g) => overridden.add(g));
  const out: string[] = [];
  const unlisted: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const word = extra[i] as string;
    if (!word.startsWith('-') || word === '-') {
      out.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.startsWith('--') && eq > 0 ? word.slice(0, eq) : word;
    const takesValue = VALUE_OPTIONS.has(name) && eq < 0;
    const value = takesValue ? extra[i + 1] : undefined;
    if (takesValue) i++;
    if (overridden.has(name)) continue;
    if (!flags.has(name)) {
      unlisted.push(name);
      continue;
    }
    out.push(word);
    if (value !== undefined) out.push(value);
  }
  return { args: out, unlisted };
}

/** Which single-valued options a flag list sets (e.g. ['--model', '--sandbox']). */
export function optionNames(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('-'));
}
