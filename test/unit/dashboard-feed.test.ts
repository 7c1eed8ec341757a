import { describe, expect, it } from 'vitest';
import { EventFeed, type FeedSubscriber } from '../../src/dashboard/event-feed.js';
import { attentionItems } from '../../src/dashboard/attention.js';
import { openStore, type EventRecord } from '../../src/store/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EventFeed', () => {
  it('fans one poll out to every subscriber; a backed-up one gets nothing until it drains, then catches up from the store in order', async () => {
    const store = openStore({ memory: true });
    const runId = store.createRun({ task: 't', baseDir: '/tmp/x', status: 'running' }).id;
    for (let i = 0; i < 5; i++) store.appendEvent(runId, { type: 'e', data: { i } });
    const feed = new EventFeed({ pollMs: 5, batch: 3 });
    const fast: number[] = [];
    const slow: number[] = [];
    let slowFull = false;
    const a: FeedSubscriber = { last: 0, send: (es: readonly EventRecord[]) => (fast.push(...es.map((e) => e.seq)), true) };
    const b: FeedSubscriber = {
      last: 2,
      send: (es: readonly EventRecord[]) => {
        slow.push(...es.map((e) => e.seq));
        return !slowFull;
      },
    };
    const offA = feed.subscribe(store, runId, a);
    slowFull = true;
    const offB = feed.subscribe(store, runId, b);
    await sleep(40);
    expect(fast).toEqual([1, 2, 3, 4, 5]);
    const slowAtPause = slow.length;
    expect(slowAtPause).toBeGreaterThan(0); // it got one batch, then reported back-pressure
    for (let i = 0; i < 7; i++) store.appendEvent(runId, { type: 'e', data: { i } });
    await sleep(40);
    expect(fast).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(slow.length).toBe(slowAtPause); // nothing written while backed up
    slowFull = false;
    feed.resume(b);
    await sleep(40);
    expect(slow).toEqual(Array.from({ length: 10 }, (_, i) => i + 3)); // after its Last-Event-ID 2, each once, in order
    offA();
    offB();
    expect(feed.watchedRuns).toBe(0);
    feed.close();
    store.close();
  });
});

describe('attentionItems', () => {
  it('an interrupted run, a stuck subtask, an unresolved smoke failure, a budget stop and a waiting approval, each with its actions', () => {
    const store = openStore({ memory: true });
    const run = store.createRun({ task: 't', baseDir: '/tmp/x', status: 'interrupted' });
    store.upsertSubtask({ runId: run.id, id: 'a', status: 'stuck', reason: 'no progress for 20 min' });
    store.upsertSubtask({ runId: run.id, id: 'b', status: 'complete', branch: 'task-b' });
    store.upsertSubtask({ runId: run.id, id: 'c', status: 'merged', branch: 'task-c' });
    store.addMerge({ runId: run.id, subtaskId: 'b', branch: 'task-b', outcome: 'smoke-failed', detail: 'smoke: BROKEN in x\nmore' });
    store.addMerge({ runId: run.id, subtaskId: 'c', branch: 'task-c', outcome: 'merged', sha: 'abc' });
    const finished = store.appendEvent(run.id, { type: 'plan.finished', data: { stoppedBy: 'budget: tokens' } });
    const items = attentionItems(run, store.listSubtasks(run.id), store.listMerges(run.id), [finished], ['b']);
    expect(items.map((i) => [i.kind, i.taskId ?? null, i.actions])).toEqual([
      ['interrupted', null, ['resume']],
      ['stuck', 'a', ['retry']],
      ['approval', 'b', ['approve', 'reject']],
      ['smoke-failed', 'b', []],
      ['budget', null, ['resume']],
    ]);
    expect(items[3]!.message).toContain('BROKEN in x');
    expect(items[3]!.message).not.toContain('more');
    store.close();
  });
});
