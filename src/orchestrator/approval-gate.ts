/**
 * The merge gate of `run --approve`, as a protocol over the run store so that
 * the person deciding (`codex-orch runs approve|reject`, the dashboard, the MCP
 * server) and the process running the plan need not be the same process, and
 * a wait survives a restart.
 *
 * The state of one subtask's gate is its latest approval record (store events
 * of the types below, `data.taskId` naming the subtask):
 *   request{head}  → a person is asked to approve the branch at `head`; the
 *                    subtask's store status is `awaiting_approval`
 *   decision{…}    → approved or rejected (with a note); status back to `complete`
 *   rework         → the rejection was handed to the worker; the next request follows
 * An approval is for one branch head: a branch that changed after it (a
 * conflict or smoke rework) is asked about again.
 *
 * These record types differ from the `approval.requested` / `approval.decided`
 * RunEvents the executor emits for listeners, so a run emitter that mirrors
 * every RunEvent into the store never disturbs the protocol.
 */
import { AbortedError } from '../errors.js';
import type { EventRecord, Store } from '../store/index.js';

export const APPROVAL_RECORD = {
  request: 'approval.request',
  decision: 'approval.decision',
  rework: 'approval.rework',
  /** The run merges only with approval (written once, when its executor first starts with the gate on). */
  mode: 'approval.mode',
} as const;

export type ApprovalDecision = 'approved' | 'rejected';

export type GateState =
  | { kind: 'none' }
  | { kind: 'requested'; seq: number; at: string; head: string | null; branch: string | null }
  | { kind: 'decided'; seq: number; at: string; decision: ApprovalDecision; note: string | null; head: string | null }
  | { kind: 'reworked'; seq: number; at: string };

const RECORD_TYPES = new Set<string>([APPROVAL_RECORD.request, APPROVAL_RECORD.decision, APPROVAL_RECORD.rework]);

export function approvalModeOn(store: Store, runId: string): boolean {
  return store.listEvents(runId).some((e) => e.type === APPROVAL_RECORD.mode);
}

export function recordApprovalMode(store: Store, runId: string): void {
  if (!approvalModeOn(store, runId)) store.appendEvent(runId, { type: APPROVAL_RECORD.mode, data: { approve: true } });
}

function field(data: unknown, key: string): unknown {
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[key] : undefined;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The latest approval record of every subtask of a run that has one. */
export function gateStates(store: Store, runId: string): Map<string, GateState> {
  const states = new Map<string, GateState>();
  for (const e of store.listEvents(runId)) {
    if (!RECORD_TYPES.has(e.type)) continue;
    const taskId = text(field(e.data, 'taskId'));
    if (taskId) states.set(taskId, stateOf(e));
  }
  return states;
}

export function gateState(store: Store, runId: string, taskId: string): GateState {
  return gateStates(store, runId).get(taskId) ?? { kind: 'none' };
}

function stateOf(e: EventRecord): GateState {
  if (e.type === APPROVAL_RECORD.request) {
    return { kind: 'requested', seq: e.seq, at: e.ts, head: text(field(e.data, 'head')), branch: text(field(e.data, 'branch')) };
  }
  if (e.type === APPROVAL_RECORD.decision) {
    return {
      kind: 'decided',
      seq: e.seq,
      at: e.ts,
      decision: field(e.data, 'decision') === 'approved' ? 'approved' : 'rejected',
      note: text(field(e.data, 'note')),
      head: text(field(e.data, 'head')),
    };
  }
  return { kind: 'reworked', seq: e.seq, at: e.ts };
}

/**
 * Records a person's decision on a waiting subtask. The caller has checked the
 * subtask waits; run it inside `store.transaction` with that check.
 */
export function recordDecision(
  store: Store,
  runId: string,
  taskId: string,
  decision: ApprovalDecision,
  note: string | null,
  head: string | null,
): EventRecord {
  const event = store.appendEvent(runId, { type: APPROVAL_RECORD.decision, data: { taskId, decision, note, head } });
  store.upsertSubtask({
    runId,
    id: taskId,
    status: 'complete',
    reason: decision === 'approved' ? 'approved for merge' : `rejected for merge: ${note ?? ''}`.trim(),
  });
  return event;
}

export type GateOutcome = { decision: 'approved' } | { decision: 'rejected'; note: string };

export interface ApprovalGateOptions {
  store: Store;
  runId: string;
  /** How often the store is read while waiting (default 500 ms). */
  pollMs?: number;
}

export interface GateSubject {
  taskId: string;
  branch: string;
  /** The branch head the person is asked about. */
  head: string | null;
}

/** The executor's side of the gate: ask, wait for the answer, say a rejection was handed on. */
export class ApprovalGate {
  readonly #store: Store;
  readonly #runId: string;
  readonly #pollMs: number;

  constructor(options: ApprovalGateOptions) {
    this.#store = options.store;
    this.#runId = options.runId;
    this.#pollMs = options.pollMs ?? 500;
  }

  /**
   * Resolves with the person's decision on `subject.head`; an approval given
   * while no process ran (after a restart) is taken as it is. `onWaiting` is
   * called once the wait is recorded (`fresh` false when an earlier process had
   * already asked). Rejects with AbortedError when `signal` aborts.
   */
  async wait(subject: GateSubject, signal: AbortSignal, onWaiting?: (fresh: boolean) => void): Promise<GateOutcome> {
    let announced = false;
    for (;;) {
      if (signal.aborted) throw new AbortedError('stopped while waiting for approval');
      const st = gateState(this.#store, this.#runId, subject.taskId);
      if (st.kind === 'decided') {
        if (st.decision === 'rejected') return { decision: 'rejected', note: st.note ?? '(no note)' };
        if (st.head === subject.head) return { decision: 'approved' };
      }
      const pending = st.kind === 'requested' && st.head === subject.head;
      this.#store.transaction(() => {
        if (!pending) {
          this.#store.appendEvent(this.#runId, {
            type: APPROVAL_RECORD.request,
            data: { taskId: subject.taskId, branch: subject.branch, head: subject.head },
          });
        }
        const row = this.#store.getSubtask(this.#runId, subject.taskId);
        if (row?.status !== 'awaiting_approval') {
          this.#store.upsertSubtask({
            runId: this.#runId,
            id: subject.taskId,
            status: 'awaiting_approval',
            reason: `waiting for approval: codex-orch runs approve ${this.#runId} ${subject.taskId}`,
          });
        }
      });
      if (!announced) onWaiting?.(!pending);
      announced = true;
      while (this.#store.getSubtask(this.#runId, subject.taskId)?.status === 'awaiting_approval') {
        await sleep(this.#pollMs, signal);
      }
    }
  }

  /** The rejection was handed to the worker: the next wait asks again even if the branch did not change. */
  reworked(taskId: string): void {
    this.#store.appendEvent(this.#runId, { type: APPROVAL_RECORD.rework, data: { taskId } });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError('stopped while waiting for approval'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('stopped while waiting for approval'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
