/**
 * The fallbacks when bubblewrap cannot run: codex's own Linux sandbox
 * (read-only root, writable worktree, `.git` read-only, no network — but reads
 * are not confined and git cannot write), `unshare -rn` (network and PID
 * namespace only: writes are NOT confined), and none/off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INSTALL_HINT, type SandboxBackend } from './backend.js';
import { bashArgv } from './exec.js';
import type { SandboxProfile } from './profile.js';

let privateHome: string | undefined;
/** An empty per-process home on the host, for backends without a tmpfs. */
function hostHome(): string {
  if (!privateHome || !fs.existsSync(privateHome)) privateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-orch-home-'));
  return privateHome;
}

/** Commands that may write in main/ need bwrap's overlay; the gateway runs them on a temporary worktree instead. */
const OVERLAY_REFUSED = 'commands that may write in main/ run on a throwaway overlay, which needs bwrap; ' + INSTALL_HINT;

/** Lines that run only git (git writes, merges) or read: no repository code runs in them. */
function runsNoRepoCode(p: SandboxProfile): boolean {
  return p.name === 'inspect' || p.name === 'git-write' || p.name === 'merge';
}

function unconfined(command: string, profile: SandboxProfile): { argv: string[]; env: Record<string, string> } {
  return { argv: bashArgv(command), env: { ...profile.env, HOME: hostHome(), TMPDIR: os.tmpdir() } };
}

export function codexSandboxBackend(codexBin: string): SandboxBackend {
  return {
    name: 'codex',
    path: codexBin,
    description: `codex sandbox (${codexBin}); bwrap is not available`,
    gaps: [
      'reads are not confined: files under $HOME (keys, tokens) are readable',
      'git writes run outside it (git only, hardened, checked after each call)',
    ],
    wrap(command, profile, cwd) {
      if (profile.gitWrites) return unconfined(command, profile);
      if (profile.overlay.length) return { refused: OVERLAY_REFUSED };
      const writable = profile.binds.filter((b) => b.mode === 'rw' && b.path !== cwd).map((b) => b.path);
      const mode = profile.binds.some((b) => b.mode === 'rw') ? 'workspace-write' : 'read-only';
      const args = [
        'sandbox',
        '-c',
        `sandbox_mode="${mode}"`,
        '-c',
        'sandbox_workspace_write.exclude_slash_tmp=true',
        '-c',
        'sandbox_workspace_write.exclude_tmpdir_env_var=true',
        '-c',
        `sandbox_workspace_write.network_access=${profile.network}`,
        ...(writable.length ? ['-c', `sandbox_workspace_write.writable_roots=${JSON.stringify(writable)}`] : []),
        '--',
        ...bashArgv(command),
      ];
      const home = hostHome();
      return { argv: [codexBin, ...args], env: { ...profile.env, HOME: home, CODEX_HOME: home, TMPDIR: os.tmpdir() } };
    },
  };
}

export function unshareBackend(bin: string): SandboxBackend {
  return {
    name: 'unshare',
    path: bin,
    description: `unshare -rn (${bin}): NETWORK ONLY — writes and reads are not confined; install bubblewrap`,
    gaps: ['writes are not confined: a command can change main/, .git and files under $HOME', 'reads are not confined'],
    wrap(command, profile) {
      if (profile.overlay.length) return { refused: OVERLAY_REFUSED };
      const ns = profile.network ? ['-r'] : ['-rn'];
      return {
        argv: [bin, ...ns, '--fork', '--pid', '--mount-proc', '--kill-child', ...bashArgv(command)],
        env: { ...profile.env, HOME: hostHome(), TMPDIR: os.tmpdir() },
      };
    },
  };
}

export function offBackend(): SandboxBackend {
  return {
    name: 'off',
    description: 'none: ORCHESTRATOR_SANDBOX=off — commands run UNCONFINED (clean environment only)',
    gaps: ['nothing is confined: writes, reads and the network are open to every command'],
    wrap: (command, profile) => unconfined(command, profile),
  };
}

export function noneBackend(): SandboxBackend {
  return {
    name: 'none',
    description: 'none available: commands that run repository code are refused',
    gaps: ['no sandbox could start: build, test and install commands are refused'],
    wrap(command, profile) {
      if (runsNoRepoCode(profile)) return unconfined(command, profile);
      return { refused: `no sandbox is available to run this command (it runs repository code); ${INSTALL_HINT}` };
    },
  };
}
