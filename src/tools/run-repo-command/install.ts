/**
 * A package install (`npm ci`, `yarn install --frozen-lockfile`, `pnpm i`) in
 * two sandboxed steps: the fetch with the network and every lifecycle script
 * off (`ignore-scripts` through the environment, so the line's shape does not
 * matter), then the scripts (`npm rebuild` runs the dependencies' install
 * scripts, then the project's own) with the network off. A dependency's
 * `postinstall` therefore runs like any build step: worktree writable, no
 * network, no secrets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Sandbox, type SandboxRunOptions, type SandboxRunResult } from '../../sandbox/index.js';
import { sandboxProfile, type ProfileContext } from './sandbox-profile.js';

/** The tool of a package-install line, or null (then it runs as one networked step with scripts off). */
export function installTool(command: string): 'npm' | 'yarn' | 'pnpm' | null {
  const m = /^\s*(npm|yarn|pnpm)\b/.exec(command);
  return m ? (m[1] as 'npm' | 'yarn' | 'pnpm') : null;
}

const PROJECT_SCRIPTS =
  'npm run --if-present preinstall && npm run --if-present install && npm run --if-present postinstall && npm run --if-present prepare';
export const INSTALL_SCRIPTS = {
  npm: `npm rebuild && ${PROJECT_SCRIPTS}`,
  yarn: `npm rebuild && ${PROJECT_SCRIPTS}`,
  pnpm: 'pnpm rebuild && pnpm run --if-present postinstall && pnpm run --if-present prepare',
} as const;

const IGNORE_SCRIPTS = { npm_config_ignore_scripts: 'true', YARN_IGNORE_SCRIPTS: 'true' };

function concat(a: SandboxRunResult, b: SandboxRunResult): SandboxRunResult {
  return {
    ...b,
    stdout: `${a.stdout}${b.stdout}`,
    stderr: `${a.stderr}${b.stderr}`,
    truncated: a.truncated || b.truncated,
    durationMs: a.durationMs + b.durationMs,
    stdoutBytes: a.stdoutBytes + b.stdoutBytes,
    stderrBytes: a.stderrBytes + b.stderrBytes,
  };
}

/**
 * Package-manager settings in the project that make the networked step run
 * the project's code: yarn's `yarn-path`/`yarnPath` (runs a file as yarn),
 * npm's `git` (the git binary for git dependencies), `node-options`,
 * `script-shell`, `onload-script`. The project's rc files are the worker's to
 * write, so they are read here, not trusted.
 */
const RISKY_RC =
  /^\s*["']?(yarn-path|yarnPath|git|node-options|script-shell|shell|onload-script|globalconfig|userconfig|init-module)["']?\s*[=:\s]/m;

export function riskyInstallSettings(dir: string): string | null {
  for (const f of ['.npmrc', '.yarnrc', '.yarnrc.yml', '.pnpmrc']) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      continue;
    }
    const m = RISKY_RC.exec(text);
    if (m) return `${f} sets ${m[1]}, which would run project code with the network on during the install`;
  }
  return null;
}

function refused(why: string): SandboxRunResult {
  return {
    exitCode: null,
    stdout: '',
    stderr: why,
    truncated: false,
    timedOut: false,
    aborted: false,
    durationMs: 0,
    stdoutBytes: 0,
    stderrBytes: 0,
    refused: why,
  };
}

export async function runInstall(
  sandbox: Sandbox,
  command: string,
  at: ProfileContext,
  options: SandboxRunOptions,
): Promise<SandboxRunResult> {
  const risky = riskyInstallSettings(at.cwd);
  if (risky) return refused(`${risky}; remove that setting (the install runs with the network) and run it again`);
  const fetchProfile = sandboxProfile('install', at);
  fetchProfile.env = { ...fetchProfile.env, ...IGNORE_SCRIPTS };
  const fetched = await sandbox.run(command, fetchProfile, options);
  const tool = installTool(command);
  if (!tool || fetched.exitCode !== 0 || fetched.timedOut || fetched.aborted || fetched.refused) return fetched;
  return concat(fetched, await sandbox.run(INSTALL_SCRIPTS[tool], sandboxProfile('edit', at), options));
}
