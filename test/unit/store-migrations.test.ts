import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { MIGRATIONS, SCHEMA_VERSION, STATE_DB, migrate, openSqliteStore, schemaVersion, type Migration } from '../../src/store/index.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-migrations-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const raw = () => new Database(path.join(dir, STATE_DB));

describe('migrations', () => {
  it('are numbered 1..n in order', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('a fresh state dir gets a WAL database at the current version', () => {
    const stateDir = path.join(dir, 'nested', 'state');
    const store = openSqliteStore(stateDir);
    expect(store.location).toBe(path.join(stateDir, STATE_DB));
    store.close();
    const db = new Database(path.join(stateDir, STATE_DB));
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['commands', 'events', 'locks', 'merges', 'runs', 'subtasks', 'workers']));
    db.close();
  });

  it('reopening keeps the data and applies nothing', () => {
    const a = openSqliteStore(dir);
    a.createRun({ id: 'r1', task: 't', baseDir: '/b' });
    a.close();
    const db = raw();
    expect(migrate(db, 'state.db')).toEqual([]);
    db.close();
    const b = openSqliteStore(dir);
    expect(b.getRun('r1')?.task).toBe('t');
    b.close();
  });

  it('applies only the missing migrations, in order, and keeps the data', () => {
    const v1: Migration[] = [...MIGRATIONS];
    const first = openSqliteStore(dir, { migrations: v1 });
    first.createRun({ id: 'r1', task: 't', baseDir: '/b' });
    first.close();
    const v2: Migration[] = [
      ...v1,
      { version: v1.length + 1, name: 'labels', up: (db) => db.exec('ALTER TABLE runs ADD COLUMN label TEXT') },
    ];
    const db = raw();
    expect(migrate(db, 'state.db', v2)).toEqual([v1.length + 1]);
    expect(schemaVersion(db)).toBe(v1.length + 1);
    expect(db.prepare('SELECT id, label FROM runs').all()).toEqual([{ id: 'r1', label: null }]);
    db.close();
  });

  it('a failing migration rolls back to the previous version with a StoreError', () => {
    openSqliteStore(dir).close();
    const broken: Migration[] = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        name: 'half done',
        up: (db) => {
          db.exec('CREATE TABLE extra (x INTEGER)');
          db.exec('THIS IS NOT SQL');
        },
      },
    ];
    let error: unknown;
    try {
      openSqliteStore(dir, { migrations: broken });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/migration \d+ \(half done\) failed/);
    const db = raw();
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").all()).toEqual([]);
    db.close();
  });

  it('a database newer than the code is refused with a clear StoreError and left untouched', () => {
    openSqliteStore(dir).close();
    const db = raw();
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    let error: unknown;
    try {
      openSqliteStore(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    const e = error as StoreError;
    expect(e.kind).toBe('store');
    expect(e.message).toContain(`schema version ${SCHEMA_VERSION + 5}`);
    expect(e.message).toContain(`knows (${SCHEMA_VERSION})`);
    expect(e.hint).toMatch(/upgrade/);
    const after = raw();
    expect(schemaVersion(after)).toBe(SCHEMA_VERSION + 5);
    after.close();
  });

  it('a file that is not a database is a StoreError naming the file', () => {
    fs.writeFileSync(path.join(dir, STATE_DB), 'this is not sqlite, not at all, definitely not a database header'.repeat(20));
    let error: unknown;
    try {
      openSqliteStore(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(path.join(dir, STATE_DB));
  });

  it('an unwritable state dir is a StoreError', () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    expect(() => openSqliteStore(path.join(file, 'state'))).toThrow(StoreError);
  });
});
