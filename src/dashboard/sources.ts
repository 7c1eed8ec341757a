import path from 'node:path';
import { StoreError } from '../errors.js';
import { reconcileRunStatus } from '../orchestrator/session/run-record.js';
import { openSqliteStore, type RunRecord, type Store } from '../store/index.js';

/** A base dir the dashboard shows, with the store of its state dir. */
export interface DashboardSource {
  baseDir: string;
  stateDir: string;
  store: Store;
}

export interface SourceSpec {
  baseDir: string;
  stateDir: string;
}

/** A run found in one of the sources. */
export interface FoundRun {
  source: DashboardSource;
  run: RunRecord;
}

/**
 * The stores of every base dir served. Each is a separate SQLite connection in
 * WAL mode, so the dashboard reads what run processes commit while they write.
 */
export class DashboardSources {
  readonly list: readonly DashboardSource[];

  constructor(specs: readonly SourceSpec[], open: (stateDir: string) => Store = (dir) => openSqliteStore(dir)) {
    const seen = new Set<string>();
    const list: DashboardSource[] = [];
    for (const s of specs) {
      const stateDir = path.resolve(s.stateDir);
      if (seen.has(stateDir)) continue;
      seen.add(stateDir);
      list.push({ baseDir: path.resolve(s.baseDir), stateDir, store: open(stateDir) });
    }
    this.list = list;
  }

  /** Every run of every source, newest first, with a dead process's `running` corrected to `interrupted`. */
  runs(): FoundRun[] {
    const all: FoundRun[] = [];
    for (const source of this.list) {
      for (const run of source.store.listRuns()) all.push({ source, run: reconcileRunStatus(source.store, run) });
    }
    return all.sort((a, b) => (a.run.createdAt < b.run.createdAt ? 1 : a.run.createdAt > b.run.createdAt ? -1 : 0));
  }

  /** The run with this exact id (the dashboard's URLs carry full ids), or undefined. */
  find(runId: string): FoundRun | undefined {
    for (const source of this.list) {
      let run: RunRecord | undefined;
      try {
        run = source.store.getRun(runId);
      } catch (e) {
        if (e instanceof StoreError) continue; // an ambiguous prefix: not an exact id
        throw e;
      }
      if (run && run.id === runId) return { source, run: reconcileRunStatus(source.store, run) };
    }
    return undefined;
  }

  /** The source of a base dir (resolved), or undefined when it is not served. */
  forBaseDir(baseDir: string): DashboardSource | undefined {
    const want = path.resolve(baseDir);
    return this.list.find((s) => s.baseDir === want);
  }

  close(): void {
    for (const s of this.list) s.store.close();
  }
}
