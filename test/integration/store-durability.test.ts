/**
 * The SQLite store across real processes: rows committed by a process that is
 * then SIGKILLed are there on reopen (and an open transaction is not), and two
 * processes writing at once both succeed (WAL + busy_timeout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, STATE_DB } from '../../src/store/index.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const storeModule = pathToFileURL(path.join(repoRoot, 'src/store/index.ts')).href;

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-durability-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line that satisfies `match`. */
  waitFor(match: (line: string) => boolean): Promise<string>;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function runChild(name: string, source: string, args: string[] = []): Child {
  const script = path.join(dir, `${name}.mts`);
  fs.writeFileSync(script, source);
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(proc);
  const lines: string[] = [];
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buf = '';
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    proc,
    lines,
    exited,
    waitFor(match) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((r) => reject(new Error(`child ${name} exited (${r.code ?? r.signal}) before the line: ${r.stderr}`)));
      });
    },
  };
}

describe('durability after kill -9', () => {
  it('committed writes survive; the open transaction does not; the database is intact', async () => {
    const child = runChild(
      'writer',
      `
      import { openSqliteStore } from ${JSON.stringify(storeModule)};
      const store = openSqliteStore(process.argv[2]);
      store.createRun({ id: 'r1', task: 'durable', baseDir: '/b', status: 'running', pid: process.pid });
      store.upsertSubtask({ runId: 'r1', id: 't1', status: 'complete', branch: 'task-t1' });
      store.addMerge({ runId: 'r1', subtaskId: 't1', branch: 'task-t1', outcome: 'merged', sha: 'abc' });
      store.saveAgentState('r1', 'STATE-1');
      for (let i = 1; i <= 200; i++) {
        const e = store.appendEvent('r1', { type: 'tick', data: { i } });
        process.stdout.write('committed ' + e.seq + '\\n');
      }
      store.transaction(() => {
        store.createRun({ id: 'uncommitted', task: 'never', baseDir: '/b' });
        store.appendEvent('r1', { type: 'uncommitted' });
        store.updateRun('r1', { status: 'succeeded' });
        process.stdout.write('in-transaction\\n');
        // Block inside the open transaction until killed.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      });
      `,
      [dir],
    );
    await child.waitFor((l) => l === 'in-transaction');
    child.proc.kill('SIGKILL');
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
    const reported = child.lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.split(' ')[1]));
    expect(reported).toHaveLength(200);

    const db = new Database(path.join(dir, STATE_DB));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    const store = openSqliteStore(dir);
    try {
      const run = store.requireRun('r1');
      expect(run).toMatchObject({ status: 'running', agentState: 'STATE-1' });
      expect(store.getRun('uncommitted')).toBeUndefined();
      expect(store.listSubtasks('r1').map((s) => [s.id, s.status])).toEqual([['t1', 'complete']]);
      expect(store.hasMerged('r1', 'task-t1')).toBe(true);
      const events = store.listEvents('r1');
      expect(events.map((e) => e.seq)).toEqual(reported);
      expect(events.every((e) => e.type === 'tick')).toBe(true);
      // The store goes on where the dead process stopped.
      expect(store.appendEvent('r1', { type: 'resumed' }).seq).toBe(201);
    } finally {
      store.close();
    }
  });
});

describe('concurrent writers', () => {
  it('two processes writing the same run at once both succeed, with gapless event seqs', async () => {
    const seed = openSqliteStore(dir);
    seed.createRun({ id: 'shared', task: 'contended', baseDir: '/b' });
    seed.close();
    const N = 300;
    const source = `
      import { openSqliteStore } from ${JSON.stringify(storeModule)};
      const [stateDir, name] = process.argv.slice(2);
      const store = openSqliteStore(stateDir);
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => {
        for (let i = 0; i < ${N}; i++) {
          store.appendEvent('shared', { type: 'write', data: { name, i } });
          store.upsertSubtask({ runId: 'shared', id: name + '-' + i, status: 'running' });
          store.addCommand({ runId: 'shared', worktree: '/b/main', command: 'echo ' + name, allowed: true, exitCode: 0 });
          store.addRunTokens('shared', { input: 1, output: 2 });
          if (i % 10 === 0) store.ensureRun({ taskKey: 'same-task', task: 'dedup', baseDir: '/b' });
        }
        store.close();
        process.stdout.write('done\\n');
        process.exit(0);
      });
    `;
    const a = runChild('writer-a', source, [dir, 'a']);
    const b = runChild('writer-b', source, [dir, 'b']);
    await Promise.all([a.waitFor((l) => l === 'ready'), b.waitFor((l) => l === 'ready')]);
    a.proc.stdin!.write('go\n');
    b.proc.stdin!.write('go\n');
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea).toMatchObject({ code: 0, stderr: '' });
    expect(eb).toMatchObject({ code: 0, stderr: '' });

    const store = openSqliteStore(dir);
    try {
      const events = store.listEvents('shared');
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 2 * N }, (_, i) => i + 1));
      const byWriter = (n: string) => events.filter((e) => (e.data as { name: string }).name === n).map((e) => (e.data as { i: number }).i);
      expect(byWriter('a')).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(byWriter('b')).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(store.listSubtasks('shared')).toHaveLength(2 * N);
      expect(store.listCommands({ runId: 'shared' })).toHaveLength(2 * N);
      expect(store.requireRun('shared').tokens).toEqual({ input: 2 * N, output: 4 * N });
      expect(store.listRuns().filter((r) => r.taskKey === 'same-task')).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
