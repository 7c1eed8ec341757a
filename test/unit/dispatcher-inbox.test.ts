import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryLedger,
  dispatch,
  inboxTaskSource,
  parseInboxFile,
  taskContentId,
  withIdempotency,
  type DispatchOutcome,
  type InboxResult,
  type RunTask,
  type SourcedTask,
} from '../../src/dispatcher/index.js';

let tmp: string;
let inbox: string;
let repo: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-inbox-'));
  inbox = path.join(tmp, 'inbox');
  repo = path.join(tmp, 'repo');
  fs.mkdirSync(inbox);
  fs.mkdirSync(repo);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ls = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
const result = (dir: string, file: string): InboxResult =>
  JSON.parse(fs.readFileSync(path.join(inbox, dir, `${file}.result.json`), 'utf8')) as InboxResult;
const drop = (name: string, text: string, mtime?: number): void => {
  const file = path.join(inbox, name);
  fs.writeFileSync(file, text);
  if (mtime !== undefined) fs.utimesSync(file, mtime, mtime);
};

const runner = (outcomes: Record<string, Partial<DispatchOutcome>> = {}): { runTask: RunTask; ran: string[] } => {
  const ran: string[] = [];
  const runTask: RunTask = async (task) => {
    ran.push(task.task);
    return { status: 'succeeded', merges: 1, tokens: 42, durationMs: 5, runId: `run-${ran.length}`, ...(outcomes[task.task] ?? {}) };
  };
  return { runTask, ran };
};

describe('parseInboxFile', () => {
  it('*.md: the text is the task; optional id: / baseDir: header lines', () => {
    expect(parseInboxFile('a.md', '  Add a --verbose flag\n\nwith tests\n')).toEqual({
      ok: true,
      task: { id: taskContentId('Add a --verbose flag\n\nwith tests'), task: 'Add a --verbose flag\n\nwith tests' },
    });
    expect(parseInboxFile('a.md', 'id: fix-12\nbaseDir: /w/app/\n\nFix issue 12')).toEqual({
      ok: true,
      task: { id: 'fix-12', baseDir: '/w/app', task: 'Fix issue 12' },
    });
    // Only the exact keys at the very top are headers.
    expect(parseInboxFile('a.md', 'Fix: the parser\nid: x')).toMatchObject({ ok: true, task: { task: 'Fix: the parser\nid: x' } });
  });

  it('*.md problems: empty, relative baseDir, bad id, repeated header', () => {
    expect(parseInboxFile('a.md', '\n  \n')).toEqual({ ok: false, error: 'no task text (the file is empty apart from its headers)' });
    expect(parseInboxFile('a.md', 'baseDir: rel/dir\ntask')).toMatchObject({
      ok: false,
      error: expect.stringContaining('baseDir must be an absolute path'),
    });
    expect(parseInboxFile('a.md', 'id: ../x\ntask')).toMatchObject({ ok: false, error: expect.stringContaining('line 1: id must be') });
    expect(parseInboxFile('a.md', 'id: a\nid: b\ntask')).toMatchObject({ ok: false, error: 'line 2: "id:" given twice' });
  });

  it('*.json: {task, id?, baseDir?} with the DISPATCH_TASKS rules', () => {
    expect(parseInboxFile('t.json', '{"id":"x1","task":"do it","baseDir":"/w/a"}')).toEqual({
      ok: true,
      task: { id: 'x1', task: 'do it', baseDir: '/w/a' },
    });
    expect(parseInboxFile('t.json', '{"task":"do it"}')).toEqual({ ok: true, task: { id: taskContentId('do it'), task: 'do it' } });
    expect(parseInboxFile('t.json', '{"task":')).toMatchObject({ ok: false, error: expect.stringMatching(/^not valid JSON/) });
    expect(parseInboxFile('t.json', '{"tsak":"x"}')).toMatchObject({ ok: false, error: expect.stringContaining('"task" is missing') });
    expect(parseInboxFile('t.json', '["x"]')).toMatchObject({ ok: false, error: expect.stringContaining('got array') });
  });
});

describe('inbox source with the dispatch loop', () => {
  it('runs each file once, moves it to done/ or failed/ with a result file, oldest first', async () => {
    drop('b.md', `baseDir: ${repo}\nsecond task`, 2000);
    drop('a.json', JSON.stringify({ id: 'first', task: 'first task', baseDir: repo }), 1000);
    drop('c.md', 'failing task', 3000);
    drop('notes.txt', 'not a task');
    drop('.hidden.md', 'editor swap file');
    const { runTask, ran } = runner({ 'failing task': { status: 'failed', merges: 0, error: 'tests failed' } });
    const summary = await dispatch(inboxTaskSource({ dir: inbox }), runTask, { defaultBaseDir: repo });

    expect(ran).toEqual(['first task', 'second task', 'failing task']);
    expect(summary).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    expect(summary.rows.map((r) => r.source)).toEqual(['inbox', 'inbox', 'inbox']);
    expect(ls(inbox)).toEqual(['.hidden.md', 'done', 'failed', 'notes.txt', 'processing']);
    expect(ls(path.join(inbox, 'processing'))).toEqual([]);
    expect(ls(path.join(inbox, 'done'))).toEqual(['a.json', 'a.json.result.json', 'b.md', 'b.md.result.json']);
    expect(ls(path.join(inbox, 'failed'))).toEqual(['c.md', 'c.md.result.json']);
    expect(result('done', 'a.json')).toMatchObject({
      id: 'first',
      file: 'a.json',
      status: 'succeeded',
      runId: 'run-1',
      merges: 1,
      tokens: 42,
      durationMs: 5,
      error: null,
      duplicate: false,
    });
    expect(result('failed', 'c.md')).toMatchObject({ status: 'failed', error: 'tests failed', runId: 'run-3' });
    expect(result('done', 'a.json').finishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('malformed files go to failed/ with the reason and nothing runs for them', async () => {
    drop('bad.json', '{"task": 3}');
    drop('empty.md', '   \n');
    drop('big.md', 'x'.repeat(2000));
    const { runTask, ran } = runner();
    const summary = await dispatch(inboxTaskSource({ dir: inbox, maxBytes: 1000 }), runTask, { defaultBaseDir: repo });
    expect(ran).toEqual([]);
    expect(summary.total).toBe(0);
    expect(ls(path.join(inbox, 'failed'))).toEqual([
      'bad.json',
      'bad.json.result.json',
      'big.md',
      'big.md.result.json',
      'empty.md',
      'empty.md.result.json',
    ]);
    expect(result('failed', 'bad.json')).toMatchObject({
      id: null,
      status: 'rejected',
      error: expect.stringContaining('malformed: expected {task, id?, baseDir?}; "task" must be a string, got number'),
    });
    expect(result('failed', 'empty.md').error).toBe('malformed: no task text (the file is empty apart from its headers)');
    expect(result('failed', 'big.md').error).toBe('malformed: the file is 2000 bytes; the limit is 1000');
  });

  it('a task that cannot run (no base dir) goes to failed/ as rejected with the reason', async () => {
    drop('nobase.md', 'somewhere');
    const summary = await dispatch(inboxTaskSource({ dir: inbox }), runner().runTask);
    expect(summary.failed).toBe(1);
    expect(result('failed', 'nobase.md')).toMatchObject({ status: 'rejected', error: expect.stringContaining('no base dir') });
  });

  it('a reused file name does not overwrite the earlier result', async () => {
    drop('task.md', 'one');
    await dispatch(inboxTaskSource({ dir: inbox }), runner().runTask, { defaultBaseDir: repo });
    drop('task.md', 'two');
    await dispatch(inboxTaskSource({ dir: inbox }), runner().runTask, { defaultBaseDir: repo });
    const done = ls(path.join(inbox, 'done'));
    expect(done).toHaveLength(4);
    expect(done).toContain('task.md');
    const other = done.find((f) => f !== 'task.md' && f.endsWith('.md')) as string;
    expect(other).toMatch(/^task\.\d{8}T\d+Z-[0-9a-f]{6}\.md$/);
    expect(fs.readFileSync(path.join(inbox, 'done', other), 'utf8')).toBe('two');
    expect(result('done', other).file).toBe(other);
  });

  it('two dispatchers on one inbox never take the same file', async () => {
    for (let i = 0; i < 40; i++) drop(`t${String(i).padStart(2, '0')}.md`, `task ${i}`);
    const ran: string[] = [];
    const slowish: RunTask = async (task) => {
      ran.push(task.task);
      await new Promise((r) => setImmediate(r));
      return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 1 };
    };
    // Two independent sources (as two processes would have), dispatching at once, 4 base dirs each.
    const dirs = ['/r/1', '/r/2', '/r/3', '/r/4'];
    let n = 0;
    const spread: RunTask = (task, signal) => slowish({ ...task, baseDir: dirs[n++ % 4] as string }, signal);
    const [a, b] = await Promise.all([
      dispatch(inboxTaskSource({ dir: inbox }), spread, { defaultBaseDir: repo, concurrency: 4 }),
      dispatch(inboxTaskSource({ dir: inbox }), spread, { defaultBaseDir: repo, concurrency: 4 }),
    ]);
    expect(a.total + b.total).toBe(40);
    expect(ran).toHaveLength(40);
    expect(new Set(ran).size).toBe(40);
    expect(ls(path.join(inbox, 'done')).filter((f) => f.endsWith('.md'))).toHaveLength(40);
  });

  it('an abort hands not-started and interrupted files back to the inbox', async () => {
    drop('a.md', `baseDir: ${repo}\nlong task`, 1000);
    drop('b.md', `baseDir: ${repo}\nnext task`, 2000);
    const controller = new AbortController();
    const runTask: RunTask = async (_task, signal) => {
      controller.abort();
      await new Promise((r) => setImmediate(r));
      return { status: 'failed', merges: 0, tokens: 7, durationMs: 1, error: signal.aborted ? 'the run was interrupted' : 'no' };
    };
    const summary = await dispatch(inboxTaskSource({ dir: inbox }), runTask, { signal: controller.signal });
    expect(summary).toMatchObject({ aborted: true, interrupted: 1, failed: 0 });
    expect(ls(inbox)).toContain('a.md');
    expect(ls(path.join(inbox, 'processing'))).toEqual([]);
    expect(ls(path.join(inbox, 'done'))).toEqual([]);
    expect(ls(path.join(inbox, 'failed'))).toEqual([]);
    // b.md was either never claimed or released: it is in the inbox too.
    expect(ls(inbox)).toContain('b.md');
  });

  it('files left in processing/ by a dead dispatcher are put back; a live holder keeps them', async () => {
    const processing = path.join(inbox, 'processing');
    fs.mkdirSync(processing);
    fs.writeFileSync(path.join(processing, 'dead.md'), 'orphaned');
    fs.writeFileSync(
      path.join(processing, 'dead.md.claim.json'),
      JSON.stringify({ pid: 999_999, hostname: 'here', claimedAt: '2026-01-01T00:00:00.000Z' }),
    );
    fs.writeFileSync(path.join(processing, 'live.md'), 'in progress');
    fs.writeFileSync(
      path.join(processing, 'live.md.claim.json'),
      JSON.stringify({ pid: 4242, hostname: 'here', claimedAt: '2026-01-01T00:00:00.000Z' }),
    );
    const source = inboxTaskSource({ dir: inbox, hostname: 'here', isPidAlive: (pid) => pid === 4242 });
    expect(source.recover()).toEqual(['dead.md']);
    expect(ls(processing)).toEqual(['live.md', 'live.md.claim.json']);
    const { runTask, ran } = runner();
    await dispatch(source, runTask, { defaultBaseDir: repo });
    expect(ran).toEqual(['orphaned']);
  });

  it('a file whose name is still being processed waits for a later scan', async () => {
    const processing = path.join(inbox, 'processing');
    fs.mkdirSync(processing);
    fs.writeFileSync(path.join(processing, 'same.md'), 'first');
    fs.writeFileSync(
      path.join(processing, 'same.md.claim.json'),
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), claimedAt: 'x' }),
    );
    drop('same.md', 'second');
    const { runTask, ran } = runner();
    await dispatch(inboxTaskSource({ dir: inbox }), runTask, { defaultBaseDir: repo });
    expect(ran).toEqual([]);
    expect(fs.readFileSync(path.join(inbox, 'same.md'), 'utf8')).toBe('second');
    expect(fs.readFileSync(path.join(processing, 'same.md'), 'utf8')).toBe('first');
  });

  it('watch mode picks up files dropped later and ends on abort', async () => {
    const controller = new AbortController();
    const ran: string[] = [];
    const runTask: RunTask = async (task) => {
      ran.push(task.task);
      if (task.task === 'one') drop('two.md', 'two');
      if (task.task === 'two') controller.abort();
      return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 1 };
    };
    drop('one.md', 'one');
    const summary = await dispatch(inboxTaskSource({ dir: inbox, watch: true, pollMs: 5 }), runTask, {
      defaultBaseDir: repo,
      signal: controller.signal,
    });
    expect(ran).toEqual(['one', 'two']);
    expect(summary).toMatchObject({ aborted: true, succeeded: 2, interrupted: 0, skipped: 0 });
    expect(ls(path.join(inbox, 'done'))).toEqual(['one.md', 'one.md.result.json', 'two.md', 'two.md.result.json']);
  });

  it('with the ledger, the same task dropped twice runs once; the second gets the earlier outcome', async () => {
    const ledger = createMemoryLedger();
    const { runTask, ran } = runner();
    const idempotent = withIdempotency(runTask, { forBaseDir: () => ledger }, 'owner-1');
    drop('first.md', 'same task');
    await dispatch(inboxTaskSource({ dir: inbox }), idempotent, { defaultBaseDir: repo, allowRepeatIds: true });
    drop('again.md', 'same task');
    const summary = await dispatch(inboxTaskSource({ dir: inbox }), idempotent, { defaultBaseDir: repo, allowRepeatIds: true });
    expect(ran).toEqual(['same task']);
    expect(summary.rows[0]).toMatchObject({ status: 'succeeded', duplicate: true, runId: 'run-1' });
    expect(result('done', 'again.md')).toMatchObject({ status: 'succeeded', duplicate: true, runId: 'run-1' });
  });

  it('ack/fail/release are each honoured once', async () => {
    drop('once.md', 'once');
    const it = inboxTaskSource({ dir: inbox }).tasks(new AbortController().signal)[Symbol.asyncIterator]();
    const task = (await it.next()).value as SourcedTask;
    await task.ack({ status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 });
    await task.release?.();
    expect(ls(inbox)).not.toContain('once.md');
    expect(ls(path.join(inbox, 'done'))).toEqual(['once.md', 'once.md.result.json']);
  });
});
