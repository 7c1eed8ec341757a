import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TaskQueue } from '../../src/queue/task-queue.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { REDIS_URL, dropPrefix, requireRedis, uniquePrefix } from '../helpers/queue-env.js';

/**
 * 200 whole tasks through the `tasks` queue on the real Redis, consumed by 4
 * dispatcher processes (a fast fake run function), one of them SIGKILLed half
 * way: every task completes exactly once, none is lost, and no two tasks of
 * one repository ever overlap in time (the per-repository Redis lock).
 */
const FIXTURE = fileURLToPath(new URL('../fixtures/queue-dispatcher.ts', import.meta.url));
interface Rec {
  pid: number;
  ev: 'start' | 'end' | 'ready';
  task?: string;
  repo?: string;
  at: number;
}

const children: ChildProcess[] = [];
let prefix = '';
let dir = '';
beforeAll(async () => {
  await requireRedis();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await dropPrefix(prefix);
  fs.rmSync(dir, { recursive: true, force: true });
});

const read = (file: string): Rec[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Rec)
    : [];
const until = (what: string, fn: () => boolean, ms = 120_000) => waitFor(fn, what, ms);

describe('the tasks queue', () => {
  it('200 tasks over 4 dispatcher processes, one killed: each completes exactly once, one task per repository at a time', async () => {
    prefix = uniquePrefix();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-tasks-'));
    const record = path.join(dir, 'record.jsonl');
    const LOCK_MS = 2_000;
    for (let i = 0; i < 4; i++) {
      children.push(spawnTs([REDIS_URL, prefix, record, String(LOCK_MS), '1000'], {}, FIXTURE).child);
    }
    await until('4 dispatchers ready', () => read(record).filter((r) => r.ev === 'ready').length === 4, 60_000);
    const queue = new TaskQueue({ url: REDIS_URL, prefix });
    const ids = Array.from({ length: 200 }, (_, i) => `task-${String(i).padStart(3, '0')}`);
    for (const [i, id] of ids.entries()) await queue.add({ id, task: `do ${id}`, repoId: `repo-${i % 8}` });
    // Adding a task again is a no-op (job id = task id).
    await queue.add({ id: ids[0]!, task: 'again', repoId: 'repo-0' });

    await until('50 tasks done', () => read(record).filter((r) => r.ev === 'end').length >= 50);
    const victim = children[0]!;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => victim.once('exit', r));

    const ends = () =>
      new Set(
        read(record)
          .filter((r) => r.ev === 'end')
          .map((r) => r.task),
      );
    await until('every task done', () => ends().size === 200);
    await queue.close();

    const recs = read(record);
    const endCount = new Map<string, number>();
    for (const r of recs.filter((r) => r.ev === 'end')) endCount.set(r.task!, (endCount.get(r.task!) ?? 0) + 1);
    expect([...endCount.keys()].sort()).toEqual(ids);
    expect([...endCount.values()].every((n) => n === 1)).toBe(true);
    // The victim really was working (it started tasks), and the others did the rest.
    expect(recs.some((r) => r.pid === victim.pid && r.ev === 'start')).toBe(true);

    // Per-repository exclusivity: intervals (start → end, or → the kill for a task cut off) never overlap.
    const open = new Map<string, Rec>();
    const intervals = new Map<string, { from: number; to: number; task: string }[]>();
    for (const r of recs) {
      if (r.ev === 'start') open.set(`${r.pid}:${r.task}`, r);
      if (r.ev === 'end') {
        const s = open.get(`${r.pid}:${r.task}`)!;
        open.delete(`${r.pid}:${r.task}`);
        (intervals.get(r.repo!) ?? intervals.set(r.repo!, []).get(r.repo!)!).push({ from: s.at, to: r.at, task: r.task! });
      }
    }
    for (const s of open.values()) {
      expect(s.pid).toBe(victim.pid);
      (intervals.get(s.repo!) ?? intervals.set(s.repo!, []).get(s.repo!)!).push({ from: s.at, to: killedAt, task: s.task! });
    }
    for (const [repo, list] of intervals) {
      list.sort((a, b) => a.from - b.from);
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.from, `${repo}: ${list[i]!.task} started before ${list[i - 1]!.task} ended`).toBeGreaterThanOrEqual(
          list[i - 1]!.to,
        );
      }
    }
  }, 240_000);
});
