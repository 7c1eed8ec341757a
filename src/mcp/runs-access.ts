/**
 * How the MCP server finds a run's store: the base dir given in the call, else
 * the one the server started the run in, else the server's own (`--base-dir`
 * or ORCHESTRATOR_BASE_DIR). Each call opens the store and closes it again, so
 * the server holds no database handle between calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { requireStateDir, withBaseDir, type Config } from '../config/config.js';
import { ConfigError, StoreError } from '../errors.js';
import { openSqliteStore, STATE_DB, type Store } from '../store/index.js';

export class RunsAccess {
  private readonly baseDirOfRun = new Map<string, string>();

  constructor(readonly config: Config) {}

  /** The config for a base dir given in a call (absolute), or the server's. */
  configFor(baseDir: string | undefined): Config {
    if (baseDir === undefined) return this.config;
    if (!path.isAbsolute(baseDir))
      throw new ConfigError(`baseDir must be an absolute path, got ${JSON.stringify(baseDir)}`, {
        hint: 'give the directory that holds main/',
      });
    return withBaseDir(this.config, baseDir);
  }

  remember(runId: string, baseDir: string): void {
    this.baseDirOfRun.set(runId, baseDir);
  }

  /** The base dir for a run id: given, remembered (also by prefix), or the server's. */
  baseDirFor(runId: string | undefined, baseDir: string | undefined): string | undefined {
    if (baseDir !== undefined) return baseDir;
    if (runId === undefined) return undefined;
    const exact = this.baseDirOfRun.get(runId);
    if (exact) return exact;
    const byPrefix = [...this.baseDirOfRun.entries()].filter(([id]) => id.startsWith(runId) || id.split('-').pop()?.startsWith(runId));
    return byPrefix.length === 1 ? byPrefix[0]![1] : undefined;
  }

  /** Opens the run store of that config's state dir; a missing one is an error (nothing to read), not a new database. */
  async withStore<T>(config: Config, fn: (store: Store, stateDir: string) => Promise<T> | T): Promise<T> {
    const stateDir = requireStateDir(config);
    if (!fs.existsSync(path.join(stateDir, STATE_DB))) {
      throw new StoreError(`no run store in ${stateDir} (no state.db)`, {
        hint: 'pass baseDir (the directory holding main/) of the runs, or start one with start_run',
      });
    }
    const store = openSqliteStore(stateDir);
    try {
      return await fn(store, stateDir);
    } finally {
      store.close();
    }
  }
}
