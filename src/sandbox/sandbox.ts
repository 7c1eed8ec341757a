/**
 * The Sandbox port: run one bash line under a profile, confined by the
 * strongest backend this machine has. Probed once per process, strongest first:
 * the bwrap bundled with @openai/codex, a system bwrap new enough, codex's own
 * sandbox, `unshare -rn`, then none (repository code refused) — or off when the
 * user says so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { bundledLauncher, nativeBehindLauncher, resolveCodexBinary } from '../workers/codex/binary.js';
import { INSTALL_HINT, type SandboxBackend } from './backend.js';
import { bwrapBackend } from './bwrap.js';
import { runProcess, type ShellRunResult } from './exec.js';
import type { SandboxProfile } from './profile.js';
import { codexSandboxBackend, noneBackend, offBackend, unshareBackend } from './weak-backends.js';

export type SandboxMode = 'auto' | 'bwrap' | 'codex' | 'unshare' | 'off';
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'bwrap', 'codex', 'unshare', 'off'];

export interface SandboxRunOptions {
  cwd: string;
  timeoutMs: number;
  outputCapBytes: number;
  signal?: AbortSignal | undefined;
}

export interface SandboxRunResult extends ShellRunResult {
  /** Set when the backend would not run the line (then nothing ran). */
  refused?: string;
}

export class Sandbox {
  constructor(
    readonly backend: SandboxBackend,
    /** What the probe saw, for doctor (e.g. "system bwrap 0.8.0: too old"). */
    readonly notes: readonly string[] = [],
  ) {}

  async run(command: string, profile: SandboxProfile, options: SandboxRunOptions): Promise<SandboxRunResult> {
    const w = this.backend.wrap(command, profile, options.cwd);
    if ('refused' in w) {
      return {
        exitCode: null,
        stdout: '',
        stderr: w.refused,
        truncated: false,
        timedOut: false,
        aborted: false,
        durationMs: 0,
        stdoutBytes: 0,
        stderrBytes: 0,
        refused: w.refused,
      };
    }
    return runProcess(w.argv, {
      cwd: options.cwd,
      timeoutMs: options.timeoutMs,
      outputCapBytes: options.outputCapBytes,
      signal: options.signal,
      env: w.env,
    });
  }

  /** The argv a line would run as (for `policy check --explain`). */
  argv(command: string, profile: SandboxProfile, cwd: string): string[] | string {
    const w = this.backend.wrap(command, profile, cwd);
    return 'refused' in w ? w.refused : w.argv;
  }
}

function works(bin: string, args: string[]): boolean {
  const r = spawnSync(bin, args, { stdio: 'ignore', timeout: 15_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return r.status === 0;
}

/** The flags bwrapArgs uses that old builds lack (Debian's 0.8.0 has no overlays). */
export function bwrapSupportsOverlay(bin: string): boolean {
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 15_000 });
  return `${r.stdout}${r.stderr}`.includes('--tmp-overlay');
}

function bwrapRuns(bin: string): boolean {
  return works(bin, [
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--new-session',
    '--',
    'true',
  ]);
}

/** The native codex executables we could find: the configured one and the bundled dependency. */
function codexNatives(codexBin: string | undefined): string[] {
  const out: string[] = [];
  try {
    const b = resolveCodexBinary({ codexBin });
    if (b.native) out.push(b.path);
  } catch {
    /* no codex configured or on PATH */
  }
  const launcher = bundledLauncher();
  const bundled = launcher ? nativeBehindLauncher(launcher) : undefined;
  if (bundled) out.push(bundled);
  return [...new Set(out)];
}

/** `codex-resources/bwrap` beside a native codex (`vendor/<triple>/bin/codex`). */
export function bundledBwrap(codexBin: string | undefined): string | undefined {
  for (const native of codexNatives(codexBin)) {
    const candidate = path.join(path.dirname(path.dirname(native)), 'codex-resources', 'bwrap');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** A system bwrap and whether it is new enough (for doctor's warning about codex too). */
export function systemBwrap(): { path: string; version: string; newEnough: boolean } | undefined {
  const bin = which('bwrap');
  if (!bin) return undefined;
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 15_000 });
  return { path: bin, version: `${v.stdout}`.trim() || 'unknown version', newEnough: bwrapSupportsOverlay(bin) };
}

export function probeSandbox(mode: SandboxMode, codexBin: string | undefined): Sandbox {
  if (mode === 'off') return new Sandbox(offBackend());
  const notes: string[] = [];
  if (mode === 'auto' || mode === 'bwrap') {
    const bundled = bundledBwrap(codexBin);
    if (bundled && bwrapRuns(bundled)) return new Sandbox(bwrapBackend(bundled, 'bundled with @openai/codex'), notes);
    notes.push(
      bundled
        ? `the bundled bwrap ${bundled} cannot create namespaces here (user namespaces disabled?)`
        : 'no bwrap bundled with @openai/codex was found',
    );
    const sys = systemBwrap();
    if (sys && !sys.newEnough) notes.push(`system ${sys.path} (${sys.version}) is too old: no --tmp-overlay`);
    if (sys?.newEnough && bwrapRuns(sys.path)) return new Sandbox(bwrapBackend(sys.path, `system, ${sys.version}`), notes);
    if (sys?.newEnough) notes.push(`system ${sys.path} cannot create namespaces here`);
    if (mode === 'bwrap')
      throw new ConfigError(`ORCHESTRATOR_SANDBOX=bwrap: no working bwrap (${notes.join('; ')})`, {
        variable: 'ORCHESTRATOR_SANDBOX',
        hint: INSTALL_HINT,
      });
  }
  if (mode === 'auto' || mode === 'codex') {
    const native = codexNatives(codexBin).find((c) => works(c, ['sandbox', '-c', 'sandbox_mode="read-only"', '--', 'true']));
    if (native) return new Sandbox(codexSandboxBackend(native), notes);
    notes.push('codex sandbox did not run');
    if (mode === 'codex')
      throw new ConfigError(`ORCHESTRATOR_SANDBOX=codex: codex sandbox does not run here (${notes.join('; ')})`, {
        variable: 'ORCHESTRATOR_SANDBOX',
        hint: INSTALL_HINT,
      });
  }
  const un = which('unshare');
  if (un && works(un, ['-rn', '--fork', '--pid', '--mount-proc', '--kill-child', 'true'])) return new Sandbox(unshareBackend(un), notes);
  notes.push('unshare -rn did not run');
  if (mode === 'unshare')
    throw new ConfigError(`ORCHESTRATOR_SANDBOX=unshare: unshare -rn does not run here`, {
      variable: 'ORCHESTRATOR_SANDBOX',
      hint: INSTALL_HINT,
    });
  return new Sandbox(noneBackend(), notes);
}

const probed = new Map<string, Sandbox>();

/** The process's sandbox for a mode (probed on first use, then reused). */
export function sandboxFor(mode: SandboxMode, codexBin: string | undefined): Sandbox {
  const key = `${mode}\0${codexBin ?? ''}`;
  let s = probed.get(key);
  if (!s) {
    s = probeSandbox(mode, codexBin);
    probed.set(key, s);
  }
  return s;
}
