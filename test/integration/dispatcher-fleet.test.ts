import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InboxResult } from '../../src/dispatcher/index.js';
import { openDispatchLedger } from '../../src/dispatcher/index.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

/**
 * Several dispatcher PROCESSES (the product's CLI, ledger and makeRunTask) over
 * shared base dirs, with a stand-in orchestrator that takes the real base-dir
 * and run locks in the real state.db (test/fixtures/dispatch-stand-in.ts).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STAND_IN = path.join(ROOT, 'test', 'fixtures', 'dispatch-stand-in.ts');
const HOLD = path.join(ROOT, 'test', 'fixtures', 'hold-base-dir-lock.ts');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Child {
  child: ChildProcess;
  exit: Promise<Exit>;
  stderr: () => string;
}

function dispatcher(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', STAND_IN, 'dispatch', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit, stderr: () => stderr };
}

interface LogLine {
  kind: 'start' | 'resume' | 'done' | 'aborted';
  task: string;
  runId: string;
  pid: number;
}

async function until(cond: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('dispatcher processes over shared base dirs (stand-in orchestrator, real locks and store)', () => {
  let bases: TempBase[];
  let root: string;
  let logFile: string;
  const children: Child[] = [];
  const holders: ChildProcess[] = [];

  beforeEach(() => {
    bases = [makeTempBase(), makeTempBase()];
    root = bases[0]!.root;
    logFile = path.join(root, 'runs.log');
  });
  afterEach(async () => {
    for (const h of holders.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    for (const c of children.splice(0)) {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await c.exit;
    }
    for (const b of bases) b.cleanup();
  });

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
    OPENAI_API_KEY: 'test-key',
    FAKE_RUN_LOG: logFile,
    ...extra,
  });
  const lines = (): LogLine[] =>
    fs.existsSync(logFile)
      ? fs
          .readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as LogLine)
      : [];
  const start = (args: string[], extra: NodeJS.ProcessEnv = {}): Child => {
    const c = dispatcher(args, env(extra));
    children.push(c);
    return c;
  };

  /** 50 task files, alternating between the two base dirs. */
  const fillInbox = (n = 50): { inbox: string; tasks: string[] } => {
    const inbox = path.join(root, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const tasks: string[] = [];
    for (let i = 0; i < n; i++) {
      const task = `task number ${i}`;
      tasks.push(task);
      fs.writeFileSync(
        path.join(inbox, `t${String(i).padStart(2, '0')}.json`),
        JSON.stringify({ id: `t${i}`, task, baseDir: bases[i % 2]!.baseDir }),
      );
    }
    return { inbox, tasks };
  };

  const results = (inbox: string, dir: 'done' | 'failed'): InboxResult[] =>
    fs
      .readdirSync(path.join(inbox, dir))
      .filter((f) => f.endsWith('.result.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(inbox, dir, f), 'utf8')) as InboxResult);

  it('3 dispatchers, 2 base dirs, 50 tasks: every task runs exactly once and none fails for "busy"', async () => {
    const { inbox, tasks } = fillInbox();
    // Another run holds the first base dir when the dispatchers come up: its tasks must wait, not fail.
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', HOLD, path.join(bases[0]!.baseDir, '.codex-orchestrator'), bases[0]!.baseDir],
      {
        cwd: ROOT,
        env: env(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    holders.push(holder);
    let held = '';
    holder.stdout?.on('data', (c: Buffer) => (held += c.toString()));
    const holderExit = new Promise((resolve) => holder.on('close', resolve));
    await until(() => held.includes('locked'), 'the holder to lock the base dir');
    const all = [0, 1, 2].map(() => start(['--inbox', inbox, '--concurrency', '2'], { FAKE_RUN_MS: '100' }));
    await until(() => all.some((c) => /wait +t\d+ +base dir /.test(c.stderr())), 'a dispatcher to meet the held base dir');
    holder.kill('SIGTERM');
    await holderExit;
    const exits = await Promise.all(all.map((c) => c.exit));
    expect(
      exits.map((e) => e.code),
      exits.map((e) => e.stderr).join('\n'),
    ).toEqual([0, 0, 0]);

    const log = lines();
    const started = log.filter((l) => l.kind === 'start').map((l) => l.task);
    const done = log.filter((l) => l.kind === 'done').map((l) => l.task);
    expect(started.sort()).toEqual([...tasks].sort());
    expect(done.sort()).toEqual([...tasks].sort());
    expect(log.filter((l) => l.kind === 'resume')).toEqual([]);
    expect(fs.readdirSync(path.join(inbox, 'failed'))).toEqual([]);
    const ok = results(inbox, 'done');
    expect(ok).toHaveLength(50);
    expect(ok.every((r) => r.status === 'succeeded' && r.duplicate === false && r.error === null)).toBe(true);
    // Busy base dirs were met and waited for (the progress says so), never filed as failures.
    const progress = exits.map((e) => e.stderr).join('\n');
    expect(progress).toMatch(/wait +t\d+ +base dir .* is in use by run holder-run .*; trying again in /);
    expect(progress).not.toMatch(/fail /);
  }, 180_000);

  it('one dispatcher SIGKILLed mid-way: its tasks resume their run ids, none lost, none doubled', async () => {
    const { inbox, tasks } = fillInbox();
    const victim = start(['--inbox', inbox, '--concurrency', '2'], { FAKE_RUN_MS: '400' });
    await until(
      () => lines().filter((l) => l.kind === 'start' && l.pid === victim.child.pid).length >= 3,
      'the victim to start three runs',
    );
    const others = [
      start(['--inbox', inbox, '--concurrency', '2'], { FAKE_RUN_MS: '50' }),
      start(['--inbox', inbox, '--concurrency', '2'], { FAKE_RUN_MS: '50' }),
    ];
    // Killed while it works (its runs are 400 ms long, so it is in the middle of one or two), with the others coming up.
    victim.child.kill('SIGKILL');
    expect((await victim.exit).signal).toBe('SIGKILL');
    const cut = lines().filter((l) => l.pid === victim.child.pid);
    const unfinished = cut.filter((l) => l.kind === 'start' && !cut.some((d) => d.kind === 'done' && d.runId === l.runId));
    expect(unfinished.length).toBeGreaterThan(0);
    const othersExits = await Promise.all(others.map((c) => c.exit));
    for (const e of othersExits) expect(e.code, e.stderr).toBe(0);
    // A later dispatcher takes what the dead one had claimed (whoever scans after the kill puts its files back in the inbox).
    const last = await start(['--inbox', inbox, '--concurrency', '2'], { FAKE_RUN_MS: '20' }).exit;
    expect(last.code, last.stderr).toBe(0);

    const log = lines();
    // Every task finished exactly once; none started twice from scratch.
    expect(
      log
        .filter((l) => l.kind === 'done')
        .map((l) => l.task)
        .sort(),
    ).toEqual([...tasks].sort());
    expect(
      log
        .filter((l) => l.kind === 'start')
        .map((l) => l.task)
        .sort(),
    ).toEqual([...tasks].sort());
    // The runs the victim had started and not finished were resumed under their own run ids.
    for (const cutRun of unfinished) {
      expect(log.filter((l) => l.kind === 'resume' && l.task === cutRun.task).map((l) => l.runId)).toEqual([cutRun.runId]);
      expect(log.filter((l) => l.kind === 'done' && l.task === cutRun.task).map((l) => l.runId)).toEqual([cutRun.runId]);
    }
    expect(fs.readdirSync(path.join(inbox, 'processing'))).toEqual([]);
    expect(fs.readdirSync(path.join(inbox, 'failed'))).toEqual([]);
    expect(results(inbox, 'done')).toHaveLength(50);
    // The ledger agrees: every task succeeded, the resumed ones on a second attempt with their first run id.
    for (const b of bases) {
      const ledger = openDispatchLedger(path.join(b.baseDir, '.codex-orchestrator'));
      try {
        expect(ledger.list().every((e) => e.state === 'succeeded')).toBe(true);
        for (const cutRun of unfinished.filter((u) => ledger.list().some((e) => e.task === u.task))) {
          expect(ledger.list().find((e) => e.task === cutRun.task)).toMatchObject({ runId: cutRun.runId, attempts: 2 });
        }
      } finally {
        ledger.close();
      }
    }
  }, 180_000);

  it('a configuration error (no API key, a base dir without main/) exits 2 once and records nothing; with the key the task runs', async () => {
    const base = bases[0]!;
    const stateDir = path.join(base.baseDir, '.codex-orchestrator');
    const noKey = await start(['--tasks', '["add a flag"]', '--base-dir', base.baseDir], { OPENAI_API_KEY: undefined }).exit;
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(
      /^codex-orch: OPENAI_API_KEY: not set; every dispatched task runs the orchestrator model, which needs a key/m,
    );
    expect(lines()).toEqual([]);
    const ledger = openDispatchLedger(stateDir);
    expect(ledger.list()).toEqual([]);

    const noMain = await start(['--tasks', '["add a flag"]', '--base-dir', root]).exit;
    expect(noMain.code).toBe(2);
    expect(noMain.stderr).toContain(`ORCHESTRATOR_BASE_DIR: ${root} has no git checkout in main/`);

    // The same task, once the key is set, runs (it is not answered with the earlier failure).
    const ran = await start(['--tasks', '["add a flag"]', '--base-dir', base.baseDir, '--json']).exit;
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: 'succeeded', rows: [{ status: 'succeeded', duplicate: false }] });
    expect(lines().map((l) => l.kind)).toEqual(['start', 'done']);
    expect(ledger.list()).toMatchObject([{ state: 'succeeded', attempts: 1 }]);
    ledger.close();
  }, 120_000);

  it('HTTP intake killed with queued tasks: after a restart all of them run (the running one resumes its run)', async () => {
    const base = bases[0]!;
    const token = 'fleet-token-0123456789abcdef';
    const httpEnv = { ORCHESTRATOR_DISPATCH_TOKEN: token };
    const urlOf = async (c: Child): Promise<string> => {
      await until(() => /http intake on (http:\/\/\S+):/.test(c.stderr()), 'the intake URL', 60_000);
      return (/http intake on (http:\/\/\S+):/.exec(c.stderr()) as RegExpExecArray)[1] as string;
    };
    const post = (url: string, id: string) =>
      fetch(`${url}/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, task: `web task ${id}` }),
      });

    const first = start(['--http', '0', '--base-dir', base.baseDir], { ...httpEnv, FAKE_RUN_MS: '60000' });
    const url = await urlOf(first);
    for (const id of ['w1', 'w2', 'w3']) expect((await post(url, id)).status).toBe(202);
    await until(() => lines().some((l) => l.kind === 'start'), 'the first web task to start');
    first.child.kill('SIGKILL');
    await first.exit;
    const cut = lines();
    expect(cut.map((l) => [l.kind, l.task])).toEqual([['start', 'web task w1']]);

    const second = start(['--http', '0', '--base-dir', base.baseDir], { ...httpEnv, FAKE_RUN_MS: '20' });
    const url2 = await urlOf(second);
    await until(() => lines().filter((l) => l.kind === 'done').length === 3, 'all three web tasks to finish');
    const listed = (await (await fetch(`${url2}/tasks`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      tasks: { id: string; state: string }[];
    };
    expect(listed.tasks.map((t) => t.id).sort()).toEqual(['w1', 'w2', 'w3']);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);

    const log = lines();
    expect(
      log
        .filter((l) => l.kind === 'done')
        .map((l) => l.task)
        .sort(),
    ).toEqual(['web task w1', 'web task w2', 'web task w3']);
    expect(log.filter((l) => l.kind === 'resume').map((l) => l.runId)).toEqual([cut[0]!.runId]);
    expect(log.filter((l) => l.kind === 'start').map((l) => l.task)).toEqual(['web task w1', 'web task w2', 'web task w3']);
    const ledger = openDispatchLedger(path.join(base.baseDir, '.codex-orchestrator'));
    expect(ledger.listIntake()).toEqual([]);
    expect(
      ledger
        .list()
        .map((e) => [e.id, e.state])
        .sort(),
    ).toEqual([
      ['w1', 'succeeded'],
      ['w2', 'succeeded'],
      ['w3', 'succeeded'],
    ]);
    ledger.close();
  }, 180_000);
});
