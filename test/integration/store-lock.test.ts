/**
 * Run and base-dir locks across real processes: a live holder refuses a second
 * acquirer; a SIGKILLed holder's lock is taken over; a holder that exits
 * without releasing frees the lock on its way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { acquireBaseDirLock, acquireRunLock, openSqliteStore, runLockKey } from '../../src/store/index.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const storeModule = pathToFileURL(path.join(repoRoot, 'src/store/index.ts')).href;

let dir: string;
let baseDir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-lock-proc-'));
  baseDir = path.join(dir, 'base');
  fs.mkdirSync(baseDir);
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A child that takes the run lock and the base-dir lock, prints "locked", then waits for a command on stdin. */
function holder(): { proc: ChildProcess; locked: Promise<void>; exited: Promise<{ code: number | null; signal: string | null }> } {
  const script = path.join(dir, 'holder.mts');
  fs.writeFileSync(
    script,
    `
    import { acquireRunLock, acquireBaseDirLock } from ${JSON.stringify(storeModule)};
    const [stateDir, baseDir] = process.argv.slice(2);
    acquireBaseDirLock(stateDir, baseDir, { runId: 'r1' });
    acquireRunLock(stateDir, 'r1');
    process.stdout.write('locked\\n');
    const keepAlive = setInterval(() => {}, 1000);
    process.stdin.on('data', (d) => {
      if (String(d).startsWith('exit')) { clearInterval(keepAlive); process.exit(0); }
    });
    `,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', script, dir, baseDir], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const locked = new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked\n')) resolve();
    });
    void exited.then((r) => reject(new Error(`holder exited (${r.code ?? r.signal}): ${stderr}`)));
  });
  return { proc, locked, exited };
}

function refusal(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('expected a StoreError');
}

describe('locks across processes', () => {
  it('a live holder refuses; after kill -9 its locks are taken over and the takeover reported', async () => {
    const h = holder();
    await h.locked;
    const pid = h.proc.pid!;

    const runRefused = refusal(() => acquireRunLock(dir, 'r1'));
    expect(runRefused.message).toMatch(new RegExp(`^run r1 is being resumed by pid ${pid} since \\d{4}-\\d\\d-\\d\\dT`));
    expect(runRefused.context.pid).toBe(pid);
    const baseRefused = refusal(() => acquireBaseDirLock(dir, baseDir, { runId: 'r2' }));
    expect(baseRefused.message).toMatch(new RegExp(`is in use by run r1 \\(pid ${pid}\\)`));

    h.proc.kill('SIGKILL');
    expect((await h.exited).signal).toBe('SIGKILL');

    const run = acquireRunLock(dir, 'r1');
    const base = acquireBaseDirLock(dir, baseDir, { runId: 'r1' });
    try {
      expect(run.tookOver).toMatchObject({ pid, reason: 'dead-pid', runId: 'r1' });
      expect(base.tookOver).toMatchObject({ pid, reason: 'dead-pid' });
      const store = openSqliteStore(dir);
      expect(store.getLock(runLockKey('r1'))).toMatchObject({ pid: process.pid, owner: run.owner });
      store.close();
    } finally {
      run.release();
      base.release();
    }
  });

  it('a holder that exits without releasing frees its locks on the way out', async () => {
    const h = holder();
    await h.locked;
    h.proc.stdin!.write('exit\n');
    expect((await h.exited).code).toBe(0);
    const store = openSqliteStore(dir);
    try {
      expect(store.listLocks()).toEqual([]);
    } finally {
      store.close();
    }
    const run = acquireRunLock(dir, 'r1');
    expect(run.tookOver).toBeUndefined();
    run.release();
  });
});
