/**
 * Versioned schema migrations of `state.db`. The database's `PRAGMA user_version`
 * is the number of migrations applied; `migrate` applies the missing ones in
 * order, each in its own IMMEDIATE transaction together with the version bump, so
 * a crash mid-migration leaves the previous version intact and two processes
 * opening a fresh database never both migrate.
 *
 * Append new migrations at the end; never edit or reorder a released one.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { importLegacyLedger } from './legacy-ledger.js';

export interface Migration {
  /** 1, 2, 3… equal to its position + 1. */
  version: number;
  name: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, subtasks, workers, merges, commands, events, locks',
    up(db) {
      db.exec(`
        CREATE TABLE runs (
          id            TEXT PRIMARY KEY,
          task_key      TEXT UNIQUE,
          task          TEXT NOT NULL,
          base_dir      TEXT NOT NULL,
          status        TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          updated_at    TEXT NOT NULL,
          finished_at   TEXT,
          pid           INTEGER,
          model         TEXT,
          dry_run       INTEGER NOT NULL DEFAULT 0,
          tokens_input  INTEGER NOT NULL DEFAULT 0,
          tokens_output INTEGER NOT NULL DEFAULT 0,
          error         TEXT,
          agent_state   TEXT,
          summary       TEXT,
          manifest      TEXT
        ) STRICT;
        CREATE INDEX runs_created ON runs (created_at, id);
        CREATE INDEX runs_status ON runs (status, created_at);

        CREATE TABLE subtasks (
          run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          id          TEXT NOT NULL,
          position    INTEGER NOT NULL,
          phase       TEXT,
          title       TEXT NOT NULL,
          kind        TEXT NOT NULL,
          status      TEXT NOT NULL,
          prompt      TEXT,
          acceptance  TEXT,
          files       TEXT NOT NULL,
          depends_on  TEXT NOT NULL,
          worktree    TEXT,
          branch      TEXT,
          thread_id   TEXT,
          attempts    INTEGER NOT NULL DEFAULT 0,
          started_at  TEXT,
          ended_at    TEXT,
          reason      TEXT,
          updated_at  TEXT NOT NULL,
          PRIMARY KEY (run_id, id)
        ) STRICT;

        CREATE TABLE workers (
          run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          worker_id   TEXT NOT NULL,
          subtask_id  TEXT,
          status      TEXT NOT NULL,
          thread_id   TEXT,
          run_dir     TEXT,
          profile     TEXT,
          usage       TEXT,
          exit_code   INTEGER,
          error       TEXT,
          started_at  TEXT,
          ended_at    TEXT,
          updated_at  TEXT NOT NULL,
          PRIMARY KEY (run_id, worker_id)
        ) STRICT;

        CREATE TABLE merges (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          subtask_id  TEXT,
          branch      TEXT NOT NULL,
          outcome     TEXT NOT NULL,
          sha         TEXT,
          detail      TEXT,
          at          TEXT NOT NULL
        ) STRICT;
        CREATE INDEX merges_run_branch ON merges (run_id, branch, id);

        CREATE TABLE commands (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          run_id      TEXT REFERENCES runs (id) ON DELETE CASCADE,
          ts          TEXT NOT NULL,
          worktree    TEXT NOT NULL,
          command     TEXT NOT NULL,
          allowed     INTEGER NOT NULL,
          rule        TEXT,
          reason      TEXT,
          exit_code   INTEGER,
          duration_ms INTEGER,
          dry_run     INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX commands_run ON commands (run_id, id);

        CREATE TABLE events (
          run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          seq         INTEGER NOT NULL,
          ts          TEXT NOT NULL,
          type        TEXT NOT NULL,
          worker_id   TEXT,
          data        TEXT NOT NULL,
          PRIMARY KEY (run_id, seq)
        ) STRICT;

        CREATE TABLE locks (
          key          TEXT PRIMARY KEY,
          owner        TEXT NOT NULL,
          pid          INTEGER NOT NULL,
          hostname     TEXT NOT NULL,
          run_id       TEXT,
          acquired_at  TEXT NOT NULL,
          heartbeat_at TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: 'task ledger (dispatch_tasks, intake_tasks); imports a dispatch.db of earlier versions',
    up(db) {
      db.exec(`
        CREATE TABLE dispatch_tasks (
          id          TEXT PRIMARY KEY,
          task        TEXT NOT NULL,
          base_dir    TEXT NOT NULL,
          state       TEXT NOT NULL,
          failure     TEXT,
          run_id      TEXT,
          outcome     TEXT,
          attempts    INTEGER NOT NULL,
          pid         INTEGER NOT NULL,
          hostname    TEXT NOT NULL,
          owner       TEXT NOT NULL,
          claimed_at  TEXT NOT NULL,
          updated_at  TEXT NOT NULL
        ) STRICT;

        CREATE TABLE intake_tasks (
          id           TEXT PRIMARY KEY,
          task         TEXT NOT NULL,
          base_dir     TEXT,
          source       TEXT NOT NULL,
          submitted_at TEXT NOT NULL
        ) STRICT;
      `);
      importLegacyLedger(db);
    },
  },
  {
    // Results of remote subtask jobs: at-least-once delivery means a job can complete twice;
    // one row per (run, subtask, attempt) fences every side effect of a result to the first one.
    version: 3,
    name: 'queue results (one accepted result per subtask attempt)',
    up(db) {
      db.exec(`
        CREATE TABLE queue_results (
          run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          subtask_id  TEXT NOT NULL,
          attempt     INTEGER NOT NULL,
          job_id      TEXT NOT NULL,
          agent       TEXT NOT NULL,
          head_sha    TEXT,
          accepted_at TEXT NOT NULL,
          PRIMARY KEY (run_id, subtask_id, attempt)
        ) STRICT;
      `);
    },
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function tooNew(file: string, found: number, known: number): StoreError {
  return new StoreError(`${file} has schema version ${found}, newer than this codex-orchestrator knows (${known})`, {
    hint: 'upgrade codex-orchestrator, or point ORCHESTRATOR_STATE_DIR at another directory',
    context: { file, found, known },
  });
}

/**
 * Brings the database up to `migrations.length`. Returns the versions applied.
 * A database newer than the code is refused with a StoreError (nothing is written).
 */
export function migrate(db: Database.Database, file: string, migrations: readonly Migration[] = MIGRATIONS): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
  const known = migrations.length;
  const start = schemaVersion(db);
  if (start > known) throw tooNew(file, start, known);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= start) continue;
    const step = db.transaction(() => {
      // Re-read under the write lock: another process may have migrated meanwhile.
      const current = schemaVersion(db);
      if (current > known) throw tooNew(file, current, known);
      if (current >= m.version) return false;
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied.push(m.version);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError(`${file}: migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`, {
        cause,
        context: { file, version: m.version },
      });
    }
  }
  return applied;
}
