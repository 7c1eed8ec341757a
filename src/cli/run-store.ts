import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, requireStateDir, type Config } from '../config/config.js';
import { StoreError } from '../errors.js';
import { reconcileRunStatus } from '../orchestrator/session/run-record.js';
import { openSqliteStore, type RunRecord, type Store } from '../store/index.js';
import { resolveFromCwd } from './args.js';

/** The options of every command that reads a state dir's runs (`runs …`, `resume`). */
export interface StoreOptions {
  baseDir?: string;
  stateDir?: string;
  json?: boolean;
}

export function storeOptions(cmd: Command): Command {
  return cmd
    .option('-b, --base-dir <dir>', 'base dir whose runs to use (default: ORCHESTRATOR_BASE_DIR)')
    .option('--state-dir <dir>', 'state dir holding state.db (default: ORCHESTRATOR_STATE_DIR or <base dir>/.codex-orchestrator)')
    .option('--json', 'machine-readable output on stdout');
}

function configFrom(opts: StoreOptions): Config {
  return loadConfig({
    overrides: { ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir), ORCHESTRATOR_STATE_DIR: resolveFromCwd(opts.stateDir) },
  });
}

/** Opens the store of the selected state dir; a missing one is an error (nothing to show), not a new database. */
export function withStore<T>(opts: StoreOptions, fn: (store: Store, stateDir: string, config: Config) => Promise<T> | T): Promise<T> {
  const config = configFrom(opts);
  const stateDir = requireStateDir(config);
  if (!fs.existsSync(path.join(stateDir, 'state.db'))) {
    throw new StoreError(`no run store in ${stateDir} (no state.db)`, {
      hint: 'pass --base-dir <dir> or set ORCHESTRATOR_STATE_DIR to where the runs were made',
    });
  }
  const store = openSqliteStore(stateDir);
  return Promise.resolve()
    .then(() => fn(store, stateDir, config))
    .finally(() => store.close());
}

/** withStore, with the run of `id` (an id or a prefix), its status reconciled with its process (a dead one is not "running"). */
export function withRun<T>(
  opts: StoreOptions,
  id: string,
  fn: (run: RunRecord, store: Store, stateDir: string, config: Config) => Promise<T> | T,
): Promise<T> {
  return withStore(opts, (store, stateDir, config) => fn(reconcileRunStatus(store, store.requireRun(id)), store, stateDir, config));
}
