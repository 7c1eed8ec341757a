import { tool, type AgentInputItem } from '@openai/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoreError } from '../../src/errors.js';
import { ConversationJournal, danglingCalls, observeTools, parseConversation } from '../../src/orchestrator/agent/conversation.js';
import { resumeNote } from '../../src/orchestrator/session/recovery.js';
import { beginRun, reconcileRunStatus, storeWorkerStatus, type ActiveRun } from '../../src/orchestrator/session/run-record.js';
import { openStore, runLockKey, type Store } from '../../src/store/index.js';

const call = (callId: string, command: string): AgentInputItem => ({
  type: 'function_call',
  callId,
  name: 'run_repo_command',
  status: 'completed',
  arguments: JSON.stringify({ worktree: 'main', command }),
});

describe('conversation journal', () => {
  it('saves the conversation in the store at every step and finds the calls left without a result', () => {
    const store = openStore({ memory: true });
    const run = store.createRun({ task: 't', baseDir: '/b' });
    const journal = new ConversationJournal(store, run.id);
    journal.recordRequest('do it');
    expect(parseConversation(store.requireRun(run.id).agentState)).toEqual([{ type: 'message', role: 'user', content: 'do it' }]);

    const output = [call('c1', 'git status'), call('c2', 'npm test')];
    journal.recordResponse('do it', { usage: {} as never, output: output as never });
    let saved = parseConversation(store.requireRun(run.id).agentState)!;
    expect(danglingCalls(saved).map((c) => c.callId)).toEqual(['c1', 'c2']);

    journal.recordToolResult('c1', 'run_repo_command', 'OK');
    journal.recordToolResult('c1', 'run_repo_command', 'OK again'); // once per call id
    saved = parseConversation(store.requireRun(run.id).agentState)!;
    expect(saved).toHaveLength(4);
    expect(danglingCalls(saved).map((c) => c.callId)).toEqual(['c2']);
  });

  it('treats missing or foreign agent state as no conversation', () => {
    expect(parseConversation(undefined)).toBeUndefined();
    expect(parseConversation('{"not":"ours"}')).toBeUndefined();
    expect(parseConversation('not json')).toBeUndefined();
  });

  it('observeTools reports each result with its call id before the SDK gets it', async () => {
    const seen: unknown[] = [];
    const echo = tool({ name: 'echo', description: 'echo', parameters: z.object({ x: z.string() }), execute: async ({ x }) => `got ${x}` });
    const [wrapped] = observeTools([echo], (c, out) => {
      seen.push([c.callId, c.name, out]);
    });
    const out = await (wrapped as typeof echo).invoke({} as never, '{"x":"1"}', {
      toolCall: { type: 'function_call', callId: 'k', name: 'echo', arguments: '{"x":"1"}' },
    });
    expect(out).toBe('got 1');
    expect(seen).toEqual([['k', 'echo', 'got 1']]);
    expect(wrapped!.name).toBe('echo');
  });
});

describe('run lifecycle in the store', () => {
  const held: ActiveRun[] = [];
  afterEach(() => {
    for (const a of held.splice(0)) a.release();
  });

  it('two runs never work one base dir at once: the second is refused naming the first run and its pid', () => {
    const store = openStore({ memory: true });
    const first = beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'one', model: 'm', dryRun: false });
    held.push(first);
    expect(first.run.status).toBe('running');
    expect(first.run.pid).toBe(process.pid);
    expect(() => beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'two', model: 'm', dryRun: false })).toThrow(
      new RegExp(`base dir /b is in use by run ${first.run.id} \\(pid ${process.pid}\\)`),
    );
    expect(store.listRuns()).toHaveLength(1);
  });

  it('a run whose lock is gone is interrupted; a succeeded run cannot be resumed', () => {
    const store: Store = openStore({ memory: true });
    const a = beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'one', model: 'm', dryRun: false });
    expect(reconcileRunStatus(store, store.requireRun(a.run.id)).status).toBe('running');
    // Simulate a dead process: its lock rows vanish (a SIGKILLed holder leaves stale rows; prune or takeover removes them).
    store.releaseLock(runLockKey(a.run.id), undefined);
    expect(reconcileRunStatus(store, store.requireRun(a.run.id)).status).toBe('interrupted');
    a.release();

    const r = beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'x', model: 'm', dryRun: false, resume: a.run.id.slice(-6, -2) });
    expect(r.resumed).toBe(true);
    expect(r.run.id).toBe(a.run.id);
    expect(r.run.status).toBe('running');
    store.updateRun(a.run.id, { status: 'succeeded' });
    r.release();
    expect(() => beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'x', model: 'm', dryRun: false, resume: a.run.id })).toThrow(
      StoreError,
    );
    expect(() => beginRun({ store, stateDir: '/s', baseDir: '/b', task: 'x', model: 'm', dryRun: false, resume: a.run.id })).toThrow(
      /already succeeded/,
    );
  });

  it('the resume note lists merges, workers and thread ids from the store', () => {
    const store = openStore({ memory: true });
    const run = store.createRun({ task: 't', baseDir: '/b', status: 'interrupted' });
    store.addCommand({ runId: run.id, worktree: 'main', command: 'git merge --no-ff task-a', allowed: true, exitCode: 0 });
    store.addMerge({ runId: run.id, branch: 'task-a', outcome: 'merged', sha: 'abcdef0123456789' });
    store.upsertWorker({ runId: run.id, workerId: 'w-1', status: 'interrupted', threadId: 'th-1' });
    const note = resumeNote(
      store,
      run,
      {
        conversationRestored: true,
        workers: [],
        answered: [{ callId: 'c', worktree: 'task-b', command: 'codex exec x', how: 'worker-resumed' }],
      },
      ['main', 'task-a', 'task-b'],
    );
    expect(note).toContain('merged into main already (do NOT merge these again): task-a (abcdef0123)');
    expect(note).toContain('w-1 interrupted thread th-1');
    expect(note).toContain('task worktrees present: task-a, task-b');
    expect(note).toContain('its codex thread was resumed');
  });

  it('maps worker outcomes to store statuses', () => {
    expect(storeWorkerStatus('complete')).toBe('succeeded');
    expect(storeWorkerStatus('stuck')).toBe('stalled');
    expect(storeWorkerStatus('error')).toBe('failed');
    expect(storeWorkerStatus('error', true)).toBe('aborted');
  });
});
