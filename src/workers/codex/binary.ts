import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { WorkerError } from '../../errors.js';

export type CodexBinarySource = 'CODEX_BIN' | 'PATH' | 'bundled';

export interface CodexBinary {
  /** What to spawn: the native executable when it could be found behind the npm launcher. */
  path: string;
  source: CodexBinarySource;
  /** The path as found (CODEX_BIN, the PATH entry, or the launcher) before resolving to native. */
  foundAt: string;
  /** True when `path` is the native codex executable rather than the node launcher script. */
  native: boolean;
}

const PLATFORM_PACKAGES: Record<string, { pkg: string; triple: string }> = {
  'linux-x64': { pkg: '@openai/codex-linux-x64', triple: 'x86_64-unknown-linux-musl' },
  'linux-arm64': { pkg: '@openai/codex-linux-arm64', triple: 'aarch64-unknown-linux-musl' },
  'darwin-x64': { pkg: '@openai/codex-darwin-x64', triple: 'x86_64-apple-darwin' },
  'darwin-arm64': { pkg: '@openai/codex-darwin-arm64', triple: 'aarch64-apple-darwin' },
  'win32-x64': { pkg: '@openai/codex-win32-x64', triple: 'x86_64-pc-windows-msvc' },
  'win32-arm64': { pkg: '@openai/codex-win32-arm64', triple: 'aarch64-pc-windows-msvc' },
};

function isExecutableFile(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `codex` on PATH (first executable match), or undefined. */
export function whichCodex(envPath = process.env.PATH ?? ''): string | undefined {
  const names = process.platform === 'win32' ? ['codex.exe', 'codex.cmd', 'codex'] : ['codex'];
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * If `launcher` is the `@openai/codex` npm launcher (`bin/codex.js`), the native
 * binary it would exec (spawning that directly saves a node process per worker
 * and makes the pid we watch the real codex). Otherwise undefined.
 */
export function nativeBehindLauncher(launcher: string): string | undefined {
  let real: string;
  try {
    real = fs.realpathSync(launcher);
  } catch {
    return undefined;
  }
  if (!/[\\/]@openai[\\/]codex[\\/]bin[\\/]codex\.js$/.test(real)) return undefined;
  const plat = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (!plat) return undefined;
  const exe = process.platform === 'win32' ? 'codex.exe' : 'codex';
  const pkgRoot = path.dirname(path.dirname(real));
  const candidates: string[] = [];
  try {
    const req = createRequire(path.join(pkgRoot, 'package.json'));
    candidates.push(path.join(path.dirname(req.resolve(`${plat.pkg}/package.json`)), 'vendor', plat.triple, 'bin', exe));
  } catch {
    /* not installed as a sibling package */
  }
  candidates.push(path.join(pkgRoot, 'vendor', plat.triple, 'bin', exe));
  candidates.push(path.join(pkgRoot, 'vendor', plat.triple, 'codex', exe));
  return candidates.find(isExecutableFile);
}

/** The launcher of the `@openai/codex` dependency of this package, if installed. */
export function bundledLauncher(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const pkgJson = req.resolve('@openai/codex/package.json');
    const launcher = path.join(path.dirname(pkgJson), 'bin', 'codex.js');
    return fs.existsSync(launcher) ? launcher : undefined;
  } catch {
    return undefined;
  }
}

function finish(found: string, source: CodexBinarySource): CodexBinary {
  const native = nativeBehindLauncher(found);
  if (native) return { path: native, source, foundAt: found, native: true };
  const isLauncher = /\.(c|m)?js$/.test(found);
  return { path: found, source, foundAt: found, native: !isLauncher };
}

/**
 * Which codex to run: `CODEX_BIN`, else `codex` on PATH, else the `@openai/codex`
 * dependency. An npm launcher is resolved to the native binary behind it.
 */
export function resolveCodexBinary(config: Pick<Config, 'codexBin'>, envPath = process.env.PATH ?? ''): CodexBinary {
  if (config.codexBin) {
    if (!isExecutableFile(config.codexBin)) {
      throw new WorkerError(`CODEX_BIN: ${config.codexBin} is not an executable file`, {
        hint: 'point CODEX_BIN at the codex executable, or unset it to use codex on PATH',
      });
    }
    return finish(config.codexBin, 'CODEX_BIN');
  }
  const onPath = whichCodex(envPath);
  if (onPath) return finish(onPath, 'PATH');
  const bundled = bundledLauncher();
  if (bundled) return finish(bundled, 'bundled');
  throw new WorkerError('cannot find a codex executable', {
    hint: 'install it (npm i -g @openai/codex), put it on PATH, or set CODEX_BIN',
  });
}
