import path from 'node:path';
import type { Config } from '../config/config.js';
import { loadRepoSettings } from '../git/index.js';
import { createNotifier, type Notifier } from '../notify/notifier.js';

/**
 * The notifier of one CLI run: the config's channels plus the repository
 * settings' `notify` hook. A settings file that cannot be read only costs the
 * hook (the run itself reports the bad file).
 */
export function startNotifier(
  config: Config,
  options: { quiet?: boolean; desktop?: boolean; baseDir?: string; note?: (line: string) => void } = {},
): Notifier {
  let repoHook: readonly string[] | undefined;
  const baseDir = options.baseDir ?? config.baseDir;
  if (baseDir) {
    try {
      repoHook = loadRepoSettings(path.join(baseDir, 'main')).notify;
    } catch {
      repoHook = undefined;
    }
  }
  return createNotifier({
    config,
    repoHook,
    quiet: Boolean(options.quiet),
    desktop: Boolean(options.desktop),
    note: options.note,
  });
}
