import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadPrices } from '../../src/cost/index.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import {
  applyEvent,
  createLiveView,
  displayMode,
  newLiveState,
  renderLive,
  runMoney,
  scopeEvent,
  type LiveContext,
} from '../../src/cli/live/index.js';

const ts = '2026-01-01T00:00:00.000Z';
const ctx: LiveContext = { prices: loadPrices(), workerModel: 'gpt-5.1-codex' };

function fakeStream(opts: { isTTY: boolean; columns?: number; rows?: number }): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY: opts.isTTY, columns: opts.columns, rows: opts.rows, text: () => chunks.join('') });
  return w;
}

const planEvents: RunEvent[] = [
  { type: 'plan.started', ts, runId: 'r1', task: 't', tasks: 2, maxParallel: 2 },
  { type: 'subtask.status', ts, taskId: 'a', status: 'running', reason: null, attempts: 1 },
  { type: 'subtask.status', ts, taskId: 'b', status: 'blocked', reason: null, attempts: 0 },
  { type: 'plan.worker', ts, taskId: 'a', workerId: 'a-1', purpose: 'initial', phase: 'started' },
  {
    type: 'worker.activity',
    ts,
    worktree: 'task-a',
    taskId: 'a',
    workerId: 'a-1',
    activity: { kind: 'command', text: 'npm test', phase: 'started', exitCode: null },
  },
  {
    type: 'worker.activity',
    ts,
    worktree: 'task-a',
    taskId: 'a',
    workerId: 'a-1',
    activity: { kind: 'usage', usage: { input: 1_000_000, cachedInput: 0, output: 0 } },
  },
];

describe('live view state', () => {
  it('folds plan events into one row per subtask with status, activity and live tokens', () => {
    const s = newLiveState();
    for (const e of planEvents) applyEvent(s, e, 1000);
    const a = s.rows.get('a')!;
    expect(a.label).toBe('task-a');
    expect(a.status).toBe('running');
    expect(a.doing).toBe('$ npm test');
    expect(s.rows.get('b')!.status).toBe('waiting');
    // 1M uncached input tokens of gpt-5.1-codex at $1.25 per million.
    expect(runMoney(s, ctx).usd).toBeCloseTo(1.25, 6);
    applyEvent(s, { type: 'plan.worker', ts, taskId: 'a', workerId: 'review-1', purpose: 'review', phase: 'started' }, 2000);
    expect(a.status).toBe('reviewing');
    applyEvent(s, { type: 'plan.decision', ts, taskId: 'a', kind: 'merge', action: 'queued', reason: 'queued' }, 3000);
    expect(a.status).toBe('in merge queue');
    expect(s.mergeQueue).toEqual(['a']);
    applyEvent(s, { type: 'plan.decision', ts, taskId: 'a', kind: 'merge', action: 'merged', reason: 'ok' }, 4000);
    expect(a.status).toBe('merged');
    expect(s.mergeQueue).toEqual([]);
    // The final usage replaces the live count, it is not added to it.
    applyEvent(
      s,
      {
        type: 'plan.worker',
        ts,
        taskId: 'a',
        workerId: 'a-1',
        purpose: 'initial',
        phase: 'finished',
        status: 'complete',
        usage: { input: 2_000_000, cachedInput: 0, output: 0 },
      },
      5000,
    );
    expect(runMoney(s, ctx).tokens).toBe(2_000_000);
  });

  it('gateway road: a codex command makes a row; git merge in main marks it merged; denials are listed', () => {
    const s = newLiveState();
    applyEvent(s, { type: 'command.started', ts, worktree: 'task-x', command: 'codex exec "do it"' });
    expect(s.rows.get('task-x')!.status).toBe('running');
    applyEvent(s, {
      type: 'command.finished',
      ts,
      worktree: 'task-x',
      command: 'codex exec "do it"',
      allowed: true,
      rule: 'codex',
      exitCode: 0,
      durationMs: 5,
      dryRun: false,
      worker: { status: 'complete', goalMet: true, summary: 'done it', usage: { input: 10, cachedInput: 0, output: 5 } },
    });
    expect(s.rows.get('task-x')!.status).toBe('done');
    applyEvent(s, {
      type: 'command.finished',
      ts,
      worktree: 'main',
      command: 'git merge --no-ff task-x -m m',
      allowed: true,
      rule: 'git',
      exitCode: 0,
      durationMs: 5,
      dryRun: false,
    });
    expect(s.rows.get('task-x')!.status).toBe('merged');
    applyEvent(s, {
      type: 'command.finished',
      ts,
      worktree: 'main',
      command: 'rm -rf /',
      allowed: false,
      rule: 'deny-rm',
      exitCode: null,
      durationMs: 0,
      dryRun: false,
    });
    expect(s.denials).toHaveLength(1);
    expect(runMoney(s, { ...ctx, workerModel: 'no-such-model' })).toMatchObject({ tokens: 15, usd: null, unpriced: true });
  });

  it('renders every line within the width, whatever the terminal size', () => {
    const s = newLiveState();
    for (const e of planEvents) applyEvent(s, e, 1000);
    for (let i = 0; i < 30; i++)
      applyEvent(
        s,
        { type: 'subtask.status', ts, taskId: `task-with-a-rather-long-name-${i}`, status: 'pending', reason: null, attempts: 0 },
        1000,
      );
    for (const width of [20, 40, 80, 200]) {
      const lines = renderLive(s, ctx, { now: 65_000, width, height: 24 });
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width - 1);
      expect(lines.length).toBeLessThanOrEqual(24);
      expect(lines.at(-1)).toMatch(/more$/);
    }
  });
});

describe('display mode', () => {
  const tty = (columns: number, rows: number) => fakeStream({ isTTY: true, columns, rows });
  it('redraws in place only on a sized TTY outside CI, without NO_COLOR or --no-progress', () => {
    expect(displayMode(tty(80, 24), { env: {} })).toBe('live');
    expect(displayMode(tty(0, 0), { env: {} })).toBe('plain');
    expect(displayMode(tty(80, 0), { env: {} })).toBe('plain');
    expect(displayMode(tty(80, 24), { env: { CI: 'true' } })).toBe('plain');
    expect(displayMode(tty(80, 24), { env: { NO_COLOR: '1' } })).toBe('plain');
    expect(displayMode(tty(80, 24), { env: {}, progress: false })).toBe('plain');
    expect(displayMode(fakeStream({ isTTY: false }), { env: {} })).toBe('plain');
    expect(displayMode(tty(80, 24), { env: {}, quiet: true })).toBe('quiet');
  });

  it('plain mode appends lines and never moves the cursor', () => {
    const stream = fakeStream({ isTTY: true, columns: 0, rows: 0 });
    const view = createLiveView({ stream, env: {}, prices: ctx.prices });
    for (const e of planEvents) view.onEvent(e);
    view.stop();
    expect(view.mode).toBe('plain');
    expect(stream.text()).toContain('plan: 2 subtask(s)');
    expect(stream.text()).not.toContain('\u001b[1A');
  });

  it('live mode draws the worker rows in place and leaves the last frame on stop', async () => {
    const stream = fakeStream({ isTTY: true, columns: 100, rows: 30 });
    const view = createLiveView({ stream, env: {}, prices: ctx.prices, workerModel: 'gpt-5.1-codex', frameMs: 5 });
    for (const e of planEvents) view.onEvent(e);
    await new Promise((r) => setTimeout(r, 50));
    view.onEvent({
      type: 'worker.activity',
      ts,
      worktree: 'task-a',
      taskId: 'a',
      workerId: 'a-1',
      activity: { kind: 'file', text: '~src/x.ts' },
    });
    view.stop();
    const out = stream.text();
    expect(view.mode).toBe('live');
    expect(out).toContain('task-a');
    expect(out).toContain('edit ~src/x.ts');
    expect(out).toContain('$1.25');
    expect(out).toContain('\u001b['); // cursor movement / erase
  });
});

describe('dispatch: several runs in one view', () => {
  it("names each run's rows <task id>/<worktree>, so equal worktree names of two runs stay apart", () => {
    const s = newLiveState();
    for (const id of ['one', 'two']) {
      applyEvent(s, scopeEvent(id, { type: 'command.started', ts, worktree: 'task-x', command: 'codex exec "x"' }));
      applyEvent(s, scopeEvent(id, { type: 'worker.activity', ts, worktree: 'task-x', activity: { kind: 'file', text: `~${id}.ts` } }));
    }
    expect([...s.rows.values()].map((r) => [r.label, r.doing])).toEqual([
      ['one/task-x', 'edit ~one.ts'],
      ['two/task-x', 'edit ~two.ts'],
    ]);
    applyEvent(
      s,
      scopeEvent('one', {
        type: 'command.finished',
        ts,
        worktree: 'main',
        command: 'git merge --no-ff task-x',
        allowed: true,
        rule: 'git',
        exitCode: 0,
        durationMs: 1,
        dryRun: false,
      }),
    );
    expect(s.rows.get('one/task-x')!.status).toBe('merged');
    expect(s.rows.get('two/task-x')!.status).toBe('running');
    applyEvent(s, scopeEvent('one', { type: 'run.finished', ts, runId: 'r', status: 'succeeded', wallTimeMs: 1 }));
    expect(s.finished).toBe(false);
  });

  it('note() puts a line in the scrollback above the live block, or prints it plainly', () => {
    const plain = fakeStream({ isTTY: false });
    const v1 = createLiveView({ stream: plain, env: {}, prices: ctx.prices });
    v1.note('start  t1  /base  task');
    expect(plain.text()).toBe('start  t1  /base  task\n');
    const tty = fakeStream({ isTTY: true, columns: 30, rows: 10 });
    const v2 = createLiveView({ stream: tty, env: {}, prices: ctx.prices });
    v2.note('a line far longer than the thirty columns of this terminal');
    v2.stop();
    expect(tty.text()).toContain('a line far longer than the t…');
  });
});
