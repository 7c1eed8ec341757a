import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exitCodeOf, parseHttpAddress, registerDispatch, runDispatchCommand, type MakeRunTask } from '../../src/cli/commands/dispatch.js';
import { formatDuration, renderDispatchSummary, renderShutdownLine, truncate } from '../../src/cli/render-dispatch.js';
import type { DispatchOutcome, DispatchSummary, RunTask } from '../../src/dispatcher/index.js';
import { ConfigError, UsageError } from '../../src/errors.js';

let out: string[];
let err: string[];
let tmp: string;

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-cli-'));
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
});

const fakeRunner = (fail: string[] = []): { make: MakeRunTask; ran: string[] } => {
  const ran: string[] = [];
  const runTask: RunTask = async (task) => {
    ran.push(`${task.id}@${task.baseDir}`);
    return fail.includes(task.id)
      ? { status: 'failed', merges: 0, tokens: 10, durationMs: 5, error: 'merge conflict in src/a.ts' }
      : { status: 'succeeded', merges: 1, tokens: 1234, durationMs: 65_000 };
  };
  return { make: () => runTask, ran };
};

const deps = (make: MakeRunTask, env: NodeJS.ProcessEnv = {}) => ({
  makeRunTask: make,
  env,
  dotenvDir: null,
  signal: new AbortController().signal,
});

describe('codex-orch dispatch', () => {
  it('runs the tasks of DISPATCH_TASKS and exits 0 when all succeeded', async () => {
    const { make, ran } = fakeRunner();
    const repoA = path.join(tmp, 'a');
    fs.mkdirSync(repoA);
    const env = { DISPATCH_TASKS: JSON.stringify([{ id: 'one', task: 'first', baseDir: repoA }, 'second']) };
    const code = await runDispatchCommand({ concurrency: 2, baseDir: tmp }, deps(make, env));
    expect(code).toBe(0);
    expect(ran.sort()).toEqual([`one@${repoA}`, expect.stringMatching(new RegExp(`@${tmp}$`))].sort());
    const table = out.join('');
    expect(table).toMatch(/id\s+task\s+status\s+merges\s+tokens\s+time/);
    expect(table).toMatch(/one\s+first\s+succeeded\s+1\s+1,234\s+1m 05s/);
    expect(table).toContain('2 tasks: 2 succeeded; 2 merges, 2,468 tokens');
    expect(err.join('')).toMatch(/start {2}one/);
  });

  it('exits 1 when a task failed and names the reason', async () => {
    const { make } = fakeRunner(['bad']);
    const code = await runDispatchCommand(
      { tasks: '[{"id":"bad","task":"x"},{"id":"good","task":"y"}]', baseDir: tmp, json: true },
      deps(make),
    );
    expect(code).toBe(1);
    const summary = JSON.parse(out.join('')) as DispatchSummary;
    expect(summary.status).toBe('failed');
    expect(summary.rows.map((r) => [r.id, r.status, r.error])).toEqual([
      ['bad', 'failed', 'merge conflict in src/a.ts'],
      ['good', 'succeeded', null],
    ]);
    expect(err).toEqual([]);
  });

  it('--tasks wins over DISPATCH_TASKS and is named in errors', async () => {
    const { make } = fakeRunner();
    const run = runDispatchCommand({ tasks: '["a", 3]' }, deps(make, { DISPATCH_TASKS: 'fine' }));
    await expect(run).rejects.toThrow(ConfigError);
    await expect(runDispatchCommand({ tasks: '["a", 3]' }, deps(make))).rejects.toThrow(
      '--tasks[1]: expected a string or {task, id?, baseDir?}; got number',
    );
  });

  it('malformed DISPATCH_TASKS is a ConfigError (exit 2) before anything runs', async () => {
    const { make, ran } = fakeRunner();
    await expect(runDispatchCommand({}, deps(make, { DISPATCH_TASKS: '[{"id":"x"}]' }))).rejects.toThrow(
      'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; "task" is missing',
    );
    expect(ran).toEqual([]);
  });

  it('no tasks at all is a usage error', async () => {
    await expect(runDispatchCommand({}, deps(fakeRunner().make))).rejects.toThrow(UsageError);
  });

  it('a task without any base dir fails (exit 1) with the reason', async () => {
    const { make, ran } = fakeRunner();
    const code = await runDispatchCommand({ tasks: 'lonely task' }, deps(make));
    expect(code).toBe(1);
    expect(ran).toEqual([]);
    expect(out.join('')).toContain('no base dir: the task has none and no default was given');
  });

  it('an aborted dispatch exits 130', async () => {
    const controller = new AbortController();
    const runTask: RunTask = async () => {
      controller.abort();
      return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 1 };
    };
    const code = await runDispatchCommand(
      { tasks: 'one\ntwo', baseDir: tmp },
      { makeRunTask: () => runTask, env: {}, dotenvDir: null, signal: controller.signal },
    );
    expect(code).toBe(130);
    expect(out.join('')).toContain('(aborted)');
  });

  it('--check lists the tasks and runs nothing; works without an orchestrator', async () => {
    const code = await runDispatchCommand({ tasks: 'one\ntwo', baseDir: tmp, check: true, json: true }, { env: {}, dotenvDir: null });
    expect(code).toBe(0);
    const listed = JSON.parse(out.join('')) as { tasks: { baseDir: string }[] };
    expect(listed.tasks.map((t) => t.baseDir)).toEqual([tmp, tmp]);
    await expect(runDispatchCommand({ tasks: 'one', baseDir: tmp }, { env: {}, dotenvDir: null })).rejects.toThrow(/no orchestrator/);
  });

  it('registers with commander: options parsed, bad --concurrency is a usage error, --help documents the formats', async () => {
    const { make, ran } = fakeRunner();
    const program = new Command('codex-orch').exitOverride();
    registerDispatch(program, make).exitOverride();
    await expect(program.parseAsync(['node', 'codex-orch', 'dispatch', '--concurrency', '0', '--tasks', 'x'])).rejects.toThrow(
      /--concurrency must be a whole number ≥ 1/,
    ); // the same usage error as --max-parallel 0

    const help = program.commands.find((c) => c.name() === 'dispatch')?.helpInformation() ?? '';
    expect(help).toContain('--concurrency <n>');
    expect(help).toContain('--base-dir <dir>');
    expect(help).toContain('--tasks <json-or-lines>');
    let fullHelp = '';
    program.commands[0]?.configureOutput({ writeOut: (s) => (fullHelp += s) });
    await expect(program.parseAsync(['node', 'codex-orch', 'dispatch', '--help'])).rejects.toBeInstanceOf(CommanderError);
    expect(fullHelp).toContain('one task per non-empty line');
    expect(fullHelp).toContain('DISPATCH_TASKS[2]');
    expect(ran).toEqual([]);
  });
});

describe('codex-orch dispatch: inbox, HTTP intake, watch, ledger', () => {
  const TOKEN = 'cli-token-0123456789abcdef';

  it('--inbox takes the files, records results, and a second dispatch answers a re-dropped task from the ledger', async () => {
    const inbox = path.join(tmp, 'inbox');
    fs.mkdirSync(inbox);
    fs.writeFileSync(path.join(inbox, 'one.md'), 'first task');
    fs.writeFileSync(path.join(inbox, 'two.json'), JSON.stringify({ id: 'two', task: 'second task' }));
    const { make, ran } = fakeRunner();
    expect(await runDispatchCommand({ inbox, baseDir: tmp, json: true }, deps(make))).toBe(0);
    expect(ran).toHaveLength(2);
    expect(fs.readdirSync(path.join(inbox, 'done')).sort()).toEqual(['one.md', 'one.md.result.json', 'two.json', 'two.json.result.json']);
    // The ledger is in the base dir's state dir, in the run store.
    expect(fs.existsSync(path.join(tmp, '.codex-orchestrator', 'state.db'))).toBe(true);
    expect(fs.existsSync(path.join(tmp, '.codex-orchestrator', 'dispatch.db'))).toBe(false);

    fs.writeFileSync(path.join(inbox, 'again.md'), 'first task');
    out = [];
    expect(await runDispatchCommand({ inbox, baseDir: tmp, json: true }, deps(make))).toBe(0);
    expect(ran).toHaveLength(2);
    const summary = JSON.parse(out.join('')) as DispatchSummary;
    expect(summary.rows[0]).toMatchObject({ status: 'succeeded', duplicate: true });
    // --no-ledger runs it again.
    fs.writeFileSync(path.join(inbox, 'third.md'), 'first task');
    expect(await runDispatchCommand({ inbox, baseDir: tmp, json: true, ledger: false }, deps(make))).toBe(0);
    expect(ran).toHaveLength(3);
  });

  it('--inbox with DISPATCH_TASKS set takes both, merged', async () => {
    const inbox = path.join(tmp, 'inbox');
    fs.mkdirSync(inbox);
    fs.writeFileSync(path.join(inbox, 'file.md'), 'from a file');
    const { make, ran } = fakeRunner();
    expect(
      await runDispatchCommand({ inbox, baseDir: tmp, json: true, concurrency: 1 }, deps(make, { DISPATCH_TASKS: 'from the env' })),
    ).toBe(0);
    expect(ran).toHaveLength(2);
    const summary = JSON.parse(out.join('')) as DispatchSummary;
    expect(summary.rows.map((r) => r.source).sort()).toEqual(['DISPATCH_TASKS', 'inbox']);
  });

  it('--watch without --inbox/--http, --check with --inbox, --http without a token: clear errors', async () => {
    const { make } = fakeRunner();
    await expect(runDispatchCommand({ watch: true, tasks: 'x', baseDir: tmp }, deps(make))).rejects.toThrow(/nothing to watch/);
    await expect(runDispatchCommand({ check: true, inbox: tmp }, deps(make))).rejects.toThrow(UsageError);
    const noToken = runDispatchCommand({ http: '0', baseDir: tmp }, deps(make));
    await expect(noToken).rejects.toThrow(ConfigError);
    await expect(runDispatchCommand({ http: '0', baseDir: tmp }, deps(make))).rejects.toThrow(/ORCHESTRATOR_DISPATCH_TOKEN: not set/);
    await expect(
      runDispatchCommand({ http: '0.0.0.0:0', baseDir: tmp }, deps(make, { ORCHESTRATOR_DISPATCH_TOKEN: TOKEN })),
    ).rejects.toThrow(/loopback/);
    await expect(runDispatchCommand({ http: 'abc', baseDir: tmp }, deps(make, { ORCHESTRATOR_DISPATCH_TOKEN: TOKEN }))).rejects.toThrow(
      /--http: expected a port/,
    );
  });

  it('the token may come from .env; --http prints the URL, takes a POST, and a stop while idle exits 0', async () => {
    const envDir = path.join(tmp, 'cfg');
    fs.mkdirSync(envDir);
    fs.writeFileSync(path.join(envDir, '.env'), `ORCHESTRATOR_DISPATCH_TOKEN=${TOKEN}\n`);
    const controller = new AbortController();
    const { make, ran } = fakeRunner();
    let posted: Promise<unknown> = Promise.resolve();
    const done = runDispatchCommand(
      { http: '127.0.0.1:0', baseDir: tmp, json: true },
      {
        makeRunTask: () => async (task, signal) => {
          const outcome = await (await make({} as never))(task, signal);
          // Stop once the submitted task has run: the dispatcher is idle again.
          setImmediate(() => controller.abort());
          return outcome;
        },
        env: {},
        dotenvDir: envDir,
        signal: controller.signal,
        onListening: (url) => {
          posted = fetch(`${url}/tasks`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ id: 'web', task: 'from http' }),
          }).then((r) => r.status);
        },
      },
    );
    expect(await done).toBe(0);
    expect(await posted).toBe(202);
    expect(ran).toEqual([`web@${tmp}`]);
    expect(err.join('')).toMatch(/http intake on http:\/\/127\.0\.0\.1:\d+/);
    expect(err.join('')).toContain('stopped: 1 finished (1 succeeded, 0 failed); nothing left running');
  });

  it('parseHttpAddress and the exit code rules', () => {
    expect(parseHttpAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseHttpAddress('99999')).toThrow(UsageError);
    const base = {
      status: 'aborted',
      aborted: true,
      total: 0,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      interrupted: 0,
      tokens: 0,
      merges: 0,
      durationMs: 0,
      rows: [],
      sourceErrors: [],
    } as DispatchSummary;
    expect(exitCodeOf(base, true)).toBe(0);
    expect(exitCodeOf({ ...base, failed: 1 }, true)).toBe(1);
    expect(exitCodeOf({ ...base, interrupted: 1 }, true)).toBe(130);
    expect(exitCodeOf({ ...base, skipped: 1 }, true)).toBe(130);
    expect(exitCodeOf(base, false)).toBe(130);
    expect(exitCodeOf({ ...base, aborted: false, status: 'succeeded' }, false)).toBe(0);
    expect(
      renderShutdownLine(
        {
          ...base,
          succeeded: 2,
          interrupted: 1,
          skipped: 1,
          rows: [{ status: 'interrupted', runId: 'r-9' } as DispatchSummary['rows'][number]],
        },
        { inbox: true },
      ),
    ).toBe(
      'stopped: 2 finished (2 succeeded, 0 failed); 1 interrupted (state recorded; runs r-9; they run again when offered again, inbox files are back in the inbox); 1 not started (handed back to their source)',
    );
  });
});

describe('codex-orch dispatch --retry', () => {
  it('runs a failed task of the ledger again; an infrastructure failure also runs again when re-dropped; unknown or succeeded ids are usage errors', async () => {
    const calls: string[] = [];
    let answer: Partial<DispatchOutcome> = { status: 'failed', error: 'tests failed', failure: 'run', runId: 'run-1' };
    const make: MakeRunTask = () => async (task) => {
      calls.push(`${task.id}${task.resume ? `<-${task.resume}` : ''}`);
      return { status: 'succeeded', merges: 1, tokens: 1, durationMs: 1, ...answer };
    };
    const tasks = '[{"id":"fix","task":"fix it"}]';
    expect(await runDispatchCommand({ tasks, baseDir: tmp, json: true }, deps(make))).toBe(1);
    // Dropped again: a run that failed on its own is answered with its outcome.
    expect(await runDispatchCommand({ tasks, baseDir: tmp, json: true }, deps(make))).toBe(1);
    expect(calls).toEqual(['fix']);
    // --retry runs it again (a failed run starts over).
    answer = { runId: 'run-2' };
    out = [];
    expect(await runDispatchCommand({ retry: ['fix'], baseDir: tmp, json: true }, deps(make))).toBe(0);
    expect(calls).toEqual(['fix', 'fix']);
    expect((JSON.parse(out.join('')) as DispatchSummary).rows).toMatchObject([
      { id: 'fix', source: 'retry', status: 'succeeded', runId: 'run-2' },
    ]);
    await expect(runDispatchCommand({ retry: ['fix'], baseDir: tmp }, deps(make))).rejects.toThrow(
      'dispatch --retry: task "fix" already succeeded (run run-2); there is nothing to retry',
    );
    await expect(runDispatchCommand({ retry: ['nope'], baseDir: tmp }, deps(make))).rejects.toThrow(/no task "nope" in the ledger of/);
    await expect(runDispatchCommand({ retry: ['fix'], tasks, baseDir: tmp }, deps(make))).rejects.toThrow(UsageError);

    // A full disk is an infrastructure failure: dropping the task again runs it, resuming its run.
    answer = { status: 'failed', error: 'ENOSPC: no space left on device', failure: 'disk', runId: 'run-3' };
    const disk = '[{"id":"big","task":"big change"}]';
    expect(await runDispatchCommand({ tasks: disk, baseDir: tmp, json: true }, deps(make))).toBe(1);
    answer = { runId: 'run-3' };
    expect(await runDispatchCommand({ tasks: disk, baseDir: tmp, json: true }, deps(make))).toBe(0);
    expect(calls.slice(2)).toEqual(['big', 'big<-run-3']);
  });
});

describe('renderDispatchSummary', () => {
  const summary: DispatchSummary = {
    status: 'failed',
    aborted: false,
    total: 3,
    succeeded: 1,
    failed: 1,
    skipped: 1,
    interrupted: 0,
    tokens: 1_500_000,
    merges: 2,
    durationMs: 3_723_000,
    sourceErrors: [],
    rows: [
      {
        id: 'a',
        task: 'a very long task description '.repeat(10),
        baseDir: '/w/a',
        source: 's',
        status: 'succeeded',
        merges: 2,
        tokens: 1_499_990,
        durationMs: 850,
        error: null,
        runId: 'r1',
        duplicate: false,
      },
      {
        id: 'b',
        task: 'two\nlines',
        baseDir: '/w/b',
        source: 's',
        status: 'failed',
        merges: 0,
        tokens: 10,
        durationMs: 12_345,
        error: 'tests failed',
        runId: null,
        duplicate: false,
      },
      {
        id: 'c',
        task: 'c',
        baseDir: '/w/b',
        source: 's',
        status: 'skipped',
        merges: 0,
        tokens: 0,
        durationMs: 0,
        error: 'not started: the dispatch was aborted',
        runId: null,
        duplicate: false,
      },
    ],
  };

  it('renders one row per task within the width, then totals and reasons (NO_COLOR: no escapes)', () => {
    const text = renderDispatchSummary(summary, { width: 80 });
    // vitest.config sets NO_COLOR=1.
    expect(text).not.toMatch(/\u001b\[/);
    const lines = text.split('\n');
    for (const line of lines.slice(0, 4)) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(/^a\s+a very long task description.*…\s+succeeded\s+2\s+1,499,990\s+850ms$/);
    expect(lines[2]).toMatch(/^b\s+two …\s+failed\s+0\s+10\s+12\.3s$/);
    expect(lines[3]).toMatch(/^c\s+c\s+skipped\s+0\s+0\s+-$/);
    expect(text).toContain('3 tasks: 1 succeeded, 1 failed, 1 not started; 2 merges, 1,500,000 tokens, 1h 02m');
    expect(text).toContain('  b in /w/b: tests failed');
    expect(text).toContain('  c in /w/b: not started: the dispatch was aborted');
  });

  it('colours when forced', () => {
    const previous = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
    delete process.env.NO_COLOR;
    process.env.FORCE_COLOR = '1';
    try {
      expect(renderDispatchSummary(summary)).toMatch(/\u001b\[/);
    } finally {
      process.env.NO_COLOR = previous.NO_COLOR;
      if (previous.FORCE_COLOR === undefined) delete process.env.FORCE_COLOR;
      else process.env.FORCE_COLOR = previous.FORCE_COLOR;
    }
  });

  it('formats durations and truncates', () => {
    expect([formatDuration(0), formatDuration(999), formatDuration(1500), formatDuration(65_000), formatDuration(3_600_000)]).toEqual([
      '0ms',
      '999ms',
      '1.5s',
      '1m 05s',
      '1h 00m',
    ]);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
});
