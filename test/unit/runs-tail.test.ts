import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CodexEventFormatter, resolveWorkers, tailWorkers } from '../../src/cli/live/index.js';
import { openStore, runDir } from '../../src/store/index.js';
import { parseEventLine } from '../../src/workers/codex/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const EVENTS = [
  { type: 'thread.started', thread_id: 'th-1' },
  { type: 'turn.started' },
  { type: 'item.started', item: { id: 'i1', type: 'command_execution', command: "/bin/bash -lc 'npm test'", status: 'in_progress' } },
  {
    type: 'item.completed',
    item: {
      id: 'i1',
      type: 'command_execution',
      command: "/bin/bash -lc 'npm test'",
      aggregated_output: 'ok 3 tests\n',
      exit_code: 0,
      status: 'completed',
    },
  },
  { type: 'item.completed', item: { id: 'i2', type: 'file_change', changes: [{ path: 'src/a.ts', kind: 'update' }], status: 'completed' } },
  { type: 'item.completed', item: { id: 'i3', type: 'agent_message', text: 'Done: added a.' } },
  { type: 'turn.completed', usage: { input_tokens: 1200, cached_input_tokens: 800, output_tokens: 90 } },
];

describe('runs tail --worker', () => {
  it('formats codex events as readable lines: command, exit code and duration, files, message, usage', () => {
    let t = 0;
    const f = new CodexEventFormatter(() => (t += 1500));
    const lines = EVENTS.map((e) => f.line(parseEventLine(JSON.stringify(e))!)).filter((l) => l !== null);
    expect(lines).toEqual([
      'thread th-1',
      'turn started',
      '$ npm test',
      '$ npm test → exit 0 1.5s\n    ok 3 tests',
      'files: update src/a.ts',
      'message: Done: added a.',
      'turn done — tokens in 1200 (cached 800), out 90',
    ]);
  });

  it('finds workers by worktree, subtask, id or id prefix, and prints readable lines or the raw JSONL', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tail-'));
    dirs.push(stateDir);
    const store = openStore({ memory: true });
    const run = store.createRun({ task: 't', baseDir: '/b' });
    for (const [id, sub, cwd] of [
      ['alpha-1', 'alpha', '/b/task-alpha'],
      ['alpha-2', 'alpha', '/b/task-alpha'],
      ['beta-1', 'beta', '/b/task-beta'],
    ] as const) {
      store.upsertWorker({ runId: run.id, workerId: id, subtaskId: sub, status: 'succeeded' });
      const dir = runDir(stateDir, run.id).worker(id);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'meta.json'),
        JSON.stringify({ cwd, status: 'complete', startedAt: `2026-01-01T00:00:0${id.endsWith('2') ? 2 : 1}Z` }),
      );
      fs.writeFileSync(path.join(dir, 'events.jsonl'), `${EVENTS.map((e) => JSON.stringify(e)).join('\n')}\n`);
    }
    expect(resolveWorkers(store, stateDir, run.id, 'task-alpha').map((w) => w.workerId)).toEqual(['alpha-1', 'alpha-2']);
    expect(resolveWorkers(store, stateDir, run.id, 'beta').map((w) => w.workerId)).toEqual(['beta-1']);
    expect(resolveWorkers(store, stateDir, run.id, 'alpha-2').map((w) => w.workerId)).toEqual(['alpha-2']);
    expect(resolveWorkers(store, stateDir, run.id, 'bet').map((w) => w.workerId)).toEqual(['beta-1']);
    expect(() => resolveWorkers(store, stateDir, run.id, 'gamma')).toThrow(/has no worker "gamma".*/);
    expect(() => resolveWorkers(store, stateDir, run.id, 'alpha-')).toThrow(/ambiguous/);

    const read = async (raw: boolean, name: string) => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => (text += c.toString()));
      await tailWorkers(resolveWorkers(store, stateDir, run.id, name), { follow: false, raw, out });
      return text;
    };
    const human = await read(false, 'alpha');
    expect(human).toMatch(/^== alpha-1 \(task-alpha\)\n/);
    expect(human).toContain('== alpha-2 (task-alpha)');
    expect(human).toContain('$ npm test → exit 0');
    const raw = await read(true, 'beta-1');
    expect(
      raw
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(EVENTS.map((e) => e.type));
    store.close();
  });
});
