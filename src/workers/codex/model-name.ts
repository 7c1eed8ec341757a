import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { loadProfiles, type ProfileName } from './profiles.js';

function flagValue(args: readonly string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-m' || a === '--model') && args[i + 1]) return args[i + 1]!;
    if (a.startsWith('--model=')) return a.slice('--model='.length);
    if (a === '-c' && /^model\s*=/.test(args[i + 1] ?? '')) return (args[i + 1] ?? '').replace(/^model\s*=\s*/, '').replace(/^"|"$/g, '');
  }
  return null;
}

/** `model = "…"` at the top of codex's config.toml (before any [table]). */
function configTomlModel(codexHome: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(codexHome, 'config.toml'), 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    if (/^\s*\[/.test(line)) break;
    const m = /^\s*model\s*=\s*"([^"]+)"/.exec(line);
    if (m) return m[1]!;
  }
  return null;
}

/**
 * The model a codex worker of this profile runs, as far as the program can
 * tell (for prices): ORCHESTRATOR_CODEX_ARGS, the profile, then codex's own
 * config.toml. Null when codex picks its built-in default.
 */
export function codexModelName(config: Config, profile: ProfileName = 'fast', env: NodeJS.ProcessEnv = process.env): string | null {
  const fromArgs = flagValue(config.codexArgs);
  if (fromArgs) return fromArgs;
  let codexHome = env.CODEX_HOME ?? path.join(os.homedir(), '.codex');
  try {
    const profiles = loadProfiles(config);
    const m = profiles.profiles[profile].model;
    if (m) return m;
    if (profiles.codexHome) codexHome = profiles.codexHome;
  } catch {
    /* a bad profiles file is reported where workers start */
  }
  return configTomlModel(codexHome);
}
