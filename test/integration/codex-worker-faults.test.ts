import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCodexWorker, type CodexEvent } from '../../src/workers/codex/index.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { FAKE_CODEX, pidAlive, readJsonl, readMeta, readPids, workerConfig } from '../helpers/codex-worker-env.js';

/** Fault injection with test/fixtures/bin/fake-codex (the real codex cannot be made to misbehave on cue). */
let base: TempBase;
let n = 0;

beforeAll(() => {
  base = makeTempBase();
});
afterAll(() => base?.cleanup());

function fake(mode: string, extra: Partial<Parameters<typeof runCodexWorker>[0]> = {}) {
  const pidfile = path.join(base.root, `pids-${mode}-${n++}`);
  const run = runCodexWorker({
    prompt: `fault test FAKE_MODE=${mode}`,
    cwd: base.main,
    config: workerConfig({ stateDir: base.stateDir, codexBin: FAKE_CODEX }),
    env: { FAKE_CODEX_PIDFILE: pidfile },
    killGraceMs: 300,
    ...extra,
  });
  return { run, pidfile };
}

describe('codex worker faults (fake-codex)', () => {
  it('kills a stalled worker (no events) with its whole process group and marks it stuck', async () => {
    const { run, pidfile } = fake('stall', { stallMs: 3000 });
    const r = await run;
    expect(r.status).toBe('stuck');
    expect(r.reason).toMatch(/stall/);
    const pids = readPids(pidfile);
    expect(pids.length).toBe(2); // fake codex + its sleep child
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    const meta = readMeta(r.runDir);
    expect(meta.status).toBe('stuck');
    expect(meta.attempts[0].killedFor).toBe('stall');
  });

  it('escalates TERM to KILL for a worker that ignores SIGTERM', async () => {
    const { run, pidfile } = fake('ignore-term', { stallMs: 3000 });
    const r = await run;
    expect(r.status).toBe('stuck');
    const pids = readPids(pidfile);
    expect(pids.length).toBe(2);
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
  });

  it('stops a worker at its wall-clock budget', async () => {
    const { run, pidfile } = fake('stall', { stallMs: 60_000, timeoutMs: 3000 });
    const r = await run;
    expect(r.status).toBe('stuck');
    expect(r.reason).toMatch(/wall-clock budget/);
    for (const pid of readPids(pidfile)) expect(pidAlive(pid)).toBe(false);
  });

  it('stops a worker on abort', async () => {
    const controller = new AbortController();
    const { run, pidfile } = fake('stall', {
      stallMs: 60_000,
      onEvent: (e) => {
        if (e.type === 'turn.started') setTimeout(() => controller.abort(), 50);
      },
      signal: controller.signal,
    });
    const r = await run;
    expect(r.status).toBe('error');
    expect(r.reason).toBe('aborted');
    for (const pid of readPids(pidfile)) expect(pidAlive(pid)).toBe(false);
  });

  it('reports a crash as error with the tail of stderr', async () => {
    const r = await fake('crash').run;
    expect(r.status).toBe('error');
    expect(r.exitCode).toBe(3);
    expect(r.reason).toContain('simulated crash');
    expect(fs.readFileSync(path.join(r.runDir, 'stderr.log'), 'utf8')).toContain('panicked');
  });

  it('survives malformed JSON lines: counted, kept out of events.jsonl, run completes', async () => {
    const r = await fake('malformed').run;
    expect(r.status).toBe('complete');
    expect(r.result?.goal_met).toBe(true);
    const meta = readMeta(r.runDir);
    expect(meta.malformedLines).toBe(2);
    expect(() => readJsonl(path.join(r.runDir, 'events.jsonl'))).not.toThrow();
    expect(fs.readFileSync(path.join(r.runDir, 'stderr.log'), 'utf8')).toContain('this is not json');
  });

  it('streams a stdout flood to events.jsonl without losing the result', async () => {
    let count = 0;
    const r = await fake('flood', { onEvent: () => count++ }).run;
    expect(r.status).toBe('complete');
    expect(count).toBeGreaterThanOrEqual(200_000);
    const lines = fs.readFileSync(path.join(r.runDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    expect(lines).toBe(count);
  });

  it('kills a child that codex left behind when it exited', async () => {
    const { run, pidfile } = fake('orphan');
    const r = await run;
    expect(r.status).toBe('complete');
    const pids = readPids(pidfile);
    expect(pids.length).toBe(2);
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
  });

  it('keeps unknown event types as `unknown` events instead of failing', async () => {
    const events: CodexEvent[] = [];
    const r = await fake('unknown', { onEvent: (e) => events.push(e) }).run;
    expect(r.status).toBe('complete');
    const unknown = events.filter((e) => e.type === 'unknown');
    expect(unknown.map((e) => (e.type === 'unknown' ? e.rawType : ''))).toEqual(['session.configured']);
    // an unknown item kind inside a known event is kept as an item
    expect(events.some((e) => e.type === 'item.completed' && e.item.type === 'brand_new_item')).toBe(true);
    expect(readMeta(r.runDir).unknownEvents).toBe(1);
  });

  it('maps --full-auto onto an older build that lists it, and passes no unlisted flag', async () => {
    const argvFile = path.join(base.root, 'argv.json');
    const r = await runCodexWorker({
      prompt: 'older build',
      cwd: base.main,
      config: workerConfig({
        stateDir: base.stateDir,
        codexBin: FAKE_CODEX,
        codexArgs: ['-m', 'm1', '--output-schema', '/x', '--frobnicate'],
      }),
      env: { FAKE_CODEX_ARGV: argvFile },
      fullAuto: true,
    });
    expect(r.status).toBe('complete');
    const argv: string[] = JSON.parse(fs.readFileSync(argvFile, 'utf8'));
    expect(argv).toContain('--full-auto');
    expect(argv).not.toContain('--sandbox');
    expect(argv).not.toContain('--output-schema');
    expect(argv).not.toContain('--frobnicate');
    expect(argv).toEqual(expect.arrayContaining(['-m', 'm1']));
    expect(r.warnings.join('\n')).toMatch(/--output-schema/);
    expect(r.warnings.join('\n')).toMatch(/--frobnicate/);
  });

  it('reports a missing codex binary as a worker error, not a throw', async () => {
    const r = await runCodexWorker({
      prompt: 'x',
      cwd: base.main,
      config: workerConfig({ stateDir: base.stateDir, codexBin: path.join(base.root, 'no-such-codex') }),
    });
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/CODEX_BIN/);
  });
});
