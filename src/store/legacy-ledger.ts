/**
 * The dispatcher's ledger of earlier versions lived in its own
 * `<stateDir>/dispatch.db`; the store migration that creates `dispatch_tasks`
 * in state.db imports it from there once.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The file of the ledger before it moved into state.db. */
export const LEGACY_LEDGER_DB = 'dispatch.db';

/**
 * Imports the rows of a `dispatch.db` left by an earlier version into
 * `dispatch_tasks` (inside the migration's transaction; existing ids win), then
 * renames the old file to `dispatch.db.imported` so it is read once. Old rows
 * have no failure reason: a `failed` one counts as a failed run (final), as it
 * was answered before.
 */
export function importLegacyLedger(db: Database.Database): number {
  if (db.memory) return 0;
  const legacy = path.join(path.dirname(db.name), LEGACY_LEDGER_DB);
  if (!fs.existsSync(legacy)) return 0;
  let rows: { state: string }[];
  try {
    const old = new Database(legacy);
    try {
      old.pragma('busy_timeout = 10000');
      const has = old.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'dispatch_tasks'").get();
      rows = has ? (old.prepare('SELECT * FROM dispatch_tasks').all() as { state: string }[]) : [];
    } finally {
      old.close();
    }
  } catch {
    // An unreadable old ledger must not keep the store from opening: it stays where it is, unimported.
    return 0;
  }
  const put = db.prepare(
    `INSERT INTO dispatch_tasks (id, task, base_dir, state, failure, run_id, outcome, attempts, pid, hostname, owner, claimed_at, updated_at)
     VALUES (@id, @task, @base_dir, @state, @failure, @run_id, @outcome, @attempts, @pid, @hostname, @owner, @claimed_at, @updated_at)
     ON CONFLICT (id) DO NOTHING`,
  );
  let imported = 0;
  for (const r of rows) {
    const failure = r.state === 'failed' ? 'run' : r.state === 'interrupted' ? 'interrupted' : null;
    imported += put.run({ ...r, failure }).changes;
  }
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      fs.renameSync(legacy + suffix, `${legacy}.imported${suffix}`);
    } catch {
      /* -wal/-shm may not exist; another process may have moved them */
    }
  }
  return imported;
}
