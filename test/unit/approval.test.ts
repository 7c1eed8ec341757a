import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApprovalError } from '../../src/errors.js';
import { ApprovalGate, gateState } from '../../src/orchestrator/approval-gate.js';
import { approveMerge, pendingApprovals, rejectMerge } from '../../src/orchestrator/approval.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup(): { store: Store; stateDir: string; runId: string } {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'approval-'));
  dirs.push(stateDir);
  const store = openSqliteStore(stateDir);
  stores.push(store);
  const run = store.createRun({ task: 'two subtasks', baseDir: stateDir, status: 'running' });
  store.upsertSubtask({ runId: run.id, id: 'a', title: 'A', status: 'complete', branch: 'task-a' });
  store.upsertSubtask({ runId: run.id, id: 'b', title: 'B', status: 'running' });
  return { store, stateDir, runId: run.id };
}

const never = new AbortController().signal;

describe('approval gate over the store', () => {
  it('waits until a person approves, then resolves approved; pending lists it meanwhile', async () => {
    const { store, runId } = setup();
    const gate = new ApprovalGate({ store, runId, pollMs: 20 });
    const fresh: boolean[] = [];
    const waiting = gate.wait({ taskId: 'a', branch: 'task-a', head: 'abc123' }, never, (f) => fresh.push(f));
    await vi_waitFor(() => store.getSubtask(runId, 'a')?.status === 'awaiting_approval');
    const pending = pendingApprovals(store);
    expect(pending).toMatchObject([{ runId, taskId: 'a', title: 'A', branch: 'task-a', head: 'abc123' }]);
    expect(pendingApprovals(store, runId.slice(-6, -2))).toHaveLength(1);
    const result = await approveMerge(store, runId, 'a');
    expect(result).toMatchObject({ decision: 'approved', taskId: 'a', head: 'abc123', note: null });
    await expect(waiting).resolves.toEqual({ decision: 'approved' });
    expect(fresh).toEqual([true]);
    expect(store.getSubtask(runId, 'a')?.status).toBe('complete');
    expect(pendingApprovals(store)).toEqual([]);
  });

  it('a rejection carries the note; after rework the same head is asked about again', async () => {
    const { store, runId } = setup();
    const gate = new ApprovalGate({ store, runId, pollMs: 20 });
    const first = gate.wait({ taskId: 'a', branch: 'task-a', head: 'h1' }, never);
    await vi_waitFor(() => store.getSubtask(runId, 'a')?.status === 'awaiting_approval');
    await expect(rejectMerge(store, runId, 'a', '  ')).rejects.toBeInstanceOf(ApprovalError);
    await rejectMerge(store, runId, 'task-a', 'rename the flag');
    await expect(first).resolves.toEqual({ decision: 'rejected', note: 'rename the flag' });
    gate.reworked('a');
    const second = gate.wait({ taskId: 'a', branch: 'task-a', head: 'h1' }, never);
    await vi_waitFor(() => store.getSubtask(runId, 'a')?.status === 'awaiting_approval');
    await approveMerge(store, runId, 'a');
    await expect(second).resolves.toEqual({ decision: 'approved' });
  });

  it('a decision taken while no process waited is used after a restart; a changed head is asked again', async () => {
    const { store, runId } = setup();
    const ac = new AbortController();
    const gate = new ApprovalGate({ store, runId, pollMs: 20 });
    const first = gate.wait({ taskId: 'a', branch: 'task-a', head: 'h1' }, ac.signal);
    await vi_waitFor(() => store.getSubtask(runId, 'a')?.status === 'awaiting_approval');
    ac.abort();
    await expect(first).rejects.toThrow(/waiting for approval/);
    // The process is gone; the wait is still in the store.
    expect(pendingApprovals(store)).toHaveLength(1);
    const result = await approveMerge(store, runId, 'a');
    expect(result.live).toBe(false);
    expect(result.next).toMatch(/codex-orch resume/);
    const again = new ApprovalGate({ store, runId, pollMs: 20 });
    const fresh: boolean[] = [];
    await expect(again.wait({ taskId: 'a', branch: 'task-a', head: 'h1' }, never, (f) => fresh.push(f))).resolves.toEqual({
      decision: 'approved',
    });
    expect(fresh).toEqual([]);
    const changed = again.wait({ taskId: 'a', branch: 'task-a', head: 'h2' }, never);
    await vi_waitFor(() => gateState(store, runId, 'a').kind === 'requested');
    expect(store.getSubtask(runId, 'a')?.status).toBe('awaiting_approval');
    await approveMerge(store, runId, 'a');
    await expect(changed).resolves.toEqual({ decision: 'approved' });
  });

  it('unknown run, unknown subtask and a subtask not waiting are ApprovalErrors with one line', async () => {
    const { store, runId } = setup();
    await expect(approveMerge(store, 'nope-nope', 'a')).rejects.toThrow(ApprovalError);
    await expect(approveMerge(store, runId, 'zzz')).rejects.toThrow(/has no subtask zzz/);
    const e = await approveMerge(store, runId, 'b').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApprovalError);
    expect((e as ApprovalError).toLine()).toMatch(
      /^subtask b of run .* is not waiting for approval \(it is running\) \(nothing in this run waits for approval\)$/,
    );
    expect(() => pendingApprovals(store, 'nope-nope')).toThrow(ApprovalError);
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
