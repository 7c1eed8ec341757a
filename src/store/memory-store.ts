/**
 * An in-memory `Store` with the SQLite store's semantics (the same contract
 * tests run against both): for tests and `--no-store`. Nothing survives the
 * process; locks only exclude holders within this process.
 */
import { newRunId } from './run-dir.js';
import {
  asyncTransaction,
  checkCount,
  checkMergeOutcome,
  checkNonEmpty,
  checkRunStatus,
  checkSubtaskStatus,
  checkWorkerStatus,
  doubleMerge,
  duplicateRun,
  duplicateTaskKey,
  isFinishedStatus,
  isThenable,
  jsonCopy,
  matchesAbbrev,
  mergedState,
  nowIso,
  pickOne,
  runNotFound,
} from './shared.js';
import { StoreError } from '../errors.js';
import type {
  CommandInput,
  CommandRecord,
  CreateRunInput,
  EventInput,
  EventRecord,
  ListCommandsOptions,
  ListEventsOptions,
  ListRunsOptions,
  LockAttempt,
  LockRecord,
  LockRequest,
  MergeInput,
  MergeRecord,
  RunPatch,
  RunRecord,
  Store,
  SubtaskRecord,
  SubtaskUpsert,
  TokenCounts,
  WorkerRecord,
  WorkerUpsert,
} from './types.js';

interface State {
  runs: Map<string, RunRecord>;
  subtasks: Map<string, Map<string, SubtaskRecord>>;
  workers: Map<string, Map<string, WorkerRecord>>;
  merges: MergeRecord[];
  commands: CommandRecord[];
  events: Map<string, EventRecord[]>;
  locks: Map<string, LockRecord>;
  nextMergeId: number;
  nextCommandId: number;
}

const copy = <T>(v: T): T => structuredClone(v);

/** Sets `obj[key]` to `value`, deleting it for null, keeping it for undefined. */
function patch<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | null | undefined): void {
  if (value === undefined) return;
  if (value === null) delete obj[key];
  else obj[key] = value;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly location = undefined;
  private s: State = {
    runs: new Map(),
    subtasks: new Map(),
    workers: new Map(),
    merges: [],
    commands: [],
    events: new Map(),
    locks: new Map(),
    nextMergeId: 1,
    nextCommandId: 1,
  };
  private closed = false;

  /**
   * The write methods validate everything before they change anything, so a
   * throw leaves the state as it was without a snapshot (which would make every
   * write O(size of the store)).
   */
  private tx<T>(fn: () => T): T {
    this.ensureOpen();
    return fn();
  }

  /** Atomic like the SQLite store: a throw restores the state as it was. */
  private snapshotTx<T>(fn: () => T): T {
    this.ensureOpen();
    const saved = copy(this.s);
    try {
      return fn();
    } catch (e) {
      this.s = saved;
      throw e;
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('memory store: the store is closed');
  }

  private exactRun(id: string): RunRecord {
    const run = this.s.runs.get(id);
    if (!run) throw runNotFound(id);
    return run;
  }

  // ── runs ──────────────────────────────────────────────────────────────────

  createRun(input: CreateRunInput): RunRecord {
    return this.tx(() => copy(this.insertRun(input)));
  }

  private insertRun(input: CreateRunInput): RunRecord {
    const id = input.id ?? newRunId();
    checkNonEmpty('run id', id);
    checkNonEmpty('task', input.task);
    checkNonEmpty('baseDir', input.baseDir);
    const status = checkRunStatus(input.status ?? 'pending');
    if (this.s.runs.has(id)) throw duplicateRun(id);
    if (input.taskKey !== undefined) {
      checkNonEmpty('taskKey', input.taskKey);
      const existing = this.byTaskKey(input.taskKey);
      if (existing) throw duplicateTaskKey(input.taskKey, existing.id);
    }
    const at = input.createdAt ?? nowIso();
    const run: RunRecord = {
      id,
      task: input.task,
      baseDir: input.baseDir,
      status,
      createdAt: at,
      updatedAt: at,
      dryRun: input.dryRun ?? false,
      tokens: { input: 0, output: 0 },
    };
    if (input.taskKey !== undefined) run.taskKey = input.taskKey;
    if (isFinishedStatus(status)) run.finishedAt = at;
    if (input.pid !== undefined) run.pid = input.pid;
    if (input.model !== undefined) run.model = input.model;
    if (input.manifest !== undefined) run.manifest = jsonCopy(input.manifest);
    this.s.runs.set(id, run);
    return run;
  }

  private byTaskKey(taskKey: string): RunRecord | undefined {
    for (const run of this.s.runs.values()) if (run.taskKey === taskKey) return run;
    return undefined;
  }

  getRun(idOrPrefix: string): RunRecord | undefined {
    this.ensureOpen();
    const exact = this.s.runs.get(idOrPrefix);
    if (exact) return copy(exact);
    const candidates = [...this.s.runs.values()].filter((r) => matchesAbbrev(r.id, idOrPrefix));
    const one = pickOne(idOrPrefix, candidates);
    return one ? copy(one) : undefined;
  }

  requireRun(idOrPrefix: string): RunRecord {
    const run = this.getRun(idOrPrefix);
    if (!run) throw runNotFound(idOrPrefix);
    return run;
  }

  listRuns(options: ListRunsOptions = {}): RunRecord[] {
    this.ensureOpen();
    let runs = [...this.s.runs.values()];
    if (options.status !== undefined) {
      const statuses = (typeof options.status === 'string' ? [options.status] : [...options.status]).map(checkRunStatus);
      runs = runs.filter((r) => statuses.includes(r.status));
    }
    if (options.baseDir !== undefined) runs = runs.filter((r) => r.baseDir === options.baseDir);
    runs.sort((a, b) => byString(b.createdAt, a.createdAt) || byString(b.id, a.id));
    if (options.limit !== undefined) runs = runs.slice(0, checkCount('limit', options.limit));
    return runs.map(copy);
  }

  updateRun(id: string, p: RunPatch): RunRecord {
    return this.tx(() => {
      const run = this.exactRun(id);
      const before = { status: run.status, finishedAt: run.finishedAt };
      const tokens =
        p.tokens === undefined
          ? undefined
          : { input: checkCount('tokens.input', p.tokens.input), output: checkCount('tokens.output', p.tokens.output) };
      const manifest = p.manifest === undefined || p.manifest === null ? undefined : jsonCopy(p.manifest);
      if (p.status !== undefined) {
        const status = checkRunStatus(p.status);
        run.status = status;
        if (p.finishedAt === undefined) {
          if (isFinishedStatus(status)) {
            if (before.finishedAt === undefined || before.status !== status) run.finishedAt = nowIso();
          } else {
            delete run.finishedAt;
          }
        }
      }
      patch(run, 'finishedAt', p.finishedAt);
      patch(run, 'pid', p.pid);
      patch(run, 'model', p.model);
      if (p.dryRun !== undefined) run.dryRun = p.dryRun;
      if (tokens !== undefined) run.tokens = tokens;
      patch(run, 'error', p.error);
      patch(run, 'agentState', p.agentState);
      patch(run, 'summary', p.summary);
      if ('manifest' in p) {
        if (manifest === undefined) delete run.manifest;
        else run.manifest = manifest;
      }
      run.updatedAt = nowIso();
      return copy(run);
    });
  }

  addRunTokens(id: string, delta: TokenCounts): RunRecord {
    return this.tx(() => {
      const run = this.exactRun(id);
      run.tokens = {
        input: run.tokens.input + checkCount('tokens.input', delta.input),
        output: run.tokens.output + checkCount('tokens.output', delta.output),
      };
      run.updatedAt = nowIso();
      return copy(run);
    });
  }

  saveAgentState(id: string, state: string | null): void {
    this.updateRun(id, { agentState: state });
  }

  deleteRun(id: string): boolean {
    return this.tx(() => {
      if (!this.s.runs.delete(id)) return false;
      this.s.subtasks.delete(id);
      this.s.workers.delete(id);
      this.s.events.delete(id);
      this.s.merges = this.s.merges.filter((m) => m.runId !== id);
      this.s.commands = this.s.commands.filter((c) => c.runId !== id);
      return true;
    });
  }

  findRunByTaskKey(taskKey: string): RunRecord | undefined {
    this.ensureOpen();
    const run = this.byTaskKey(taskKey);
    return run ? copy(run) : undefined;
  }

  ensureRun(input: CreateRunInput & { taskKey: string }): { run: RunRecord; created: boolean } {
    return this.tx(() => {
      checkNonEmpty('taskKey', input.taskKey);
      const existing = this.byTaskKey(input.taskKey);
      if (existing) return { run: copy(existing), created: false };
      return { run: copy(this.insertRun(input)), created: true };
    });
  }

  // ── subtasks ──────────────────────────────────────────────────────────────

  upsertSubtask(input: SubtaskUpsert): SubtaskRecord {
    return this.tx(() => {
      checkNonEmpty('subtask id', input.id);
      this.exactRun(input.runId);
      if (input.status !== undefined) checkSubtaskStatus(input.status);
      if (input.attempts !== undefined) checkCount('attempts', input.attempts);
      if (input.position !== undefined) checkCount('position', input.position);
      let forRun = this.s.subtasks.get(input.runId);
      if (!forRun) this.s.subtasks.set(input.runId, (forRun = new Map()));
      let s = forRun.get(input.id);
      if (!s) {
        s = {
          runId: input.runId,
          id: input.id,
          position: Math.round(input.position ?? forRun.size),
          title: input.title ?? input.id,
          kind: input.kind ?? 'feature',
          status: input.status ?? 'pending',
          files: [...(input.files ?? ['**'])],
          dependsOn: [...(input.dependsOn ?? [])],
          attempts: Math.round(input.attempts ?? 0),
          updatedAt: nowIso(),
        };
        forRun.set(input.id, s);
      } else {
        if (input.position !== undefined) s.position = Math.round(input.position);
        if (input.title !== undefined) s.title = input.title;
        if (input.kind !== undefined) s.kind = input.kind;
        if (input.status !== undefined) s.status = input.status;
        if (input.files !== undefined) s.files = [...input.files];
        if (input.dependsOn !== undefined) s.dependsOn = [...input.dependsOn];
        if (input.attempts !== undefined) s.attempts = Math.round(input.attempts);
        s.updatedAt = nowIso();
      }
      patch(s, 'phase', input.phase);
      patch(s, 'prompt', input.prompt);
      patch(s, 'acceptance', input.acceptance);
      patch(s, 'worktree', input.worktree);
      patch(s, 'branch', input.branch);
      patch(s, 'threadId', input.threadId);
      patch(s, 'startedAt', input.startedAt);
      patch(s, 'endedAt', input.endedAt);
      patch(s, 'reason', input.reason);
      return copy(s);
    });
  }

  getSubtask(runId: string, id: string): SubtaskRecord | undefined {
    this.ensureOpen();
    const s = this.s.subtasks.get(runId)?.get(id);
    return s ? copy(s) : undefined;
  }

  listSubtasks(runId: string): SubtaskRecord[] {
    this.ensureOpen();
    return [...(this.s.subtasks.get(runId)?.values() ?? [])]
      .sort((a, b) => a.position - b.position || byString(a.id, b.id))
      .map(copy);
  }

  // ── workers ───────────────────────────────────────────────────────────────

  upsertWorker(input: WorkerUpsert): WorkerRecord {
    return this.tx(() => {
      checkNonEmpty('worker id', input.workerId);
      this.exactRun(input.runId);
      if (input.status !== undefined) checkWorkerStatus(input.status);
      const usage = input.usage === undefined || input.usage === null ? input.usage : (jsonCopy(input.usage) as WorkerRecord['usage']);
      let forRun = this.s.workers.get(input.runId);
      if (!forRun) this.s.workers.set(input.runId, (forRun = new Map()));
      let w = forRun.get(input.workerId);
      if (!w) {
        w = { runId: input.runId, workerId: input.workerId, status: input.status ?? 'starting', updatedAt: nowIso() };
        forRun.set(input.workerId, w);
      } else {
        if (input.status !== undefined) w.status = input.status;
        w.updatedAt = nowIso();
      }
      patch(w, 'subtaskId', input.subtaskId);
      patch(w, 'threadId', input.threadId);
      patch(w, 'runDir', input.runDir);
      patch(w, 'profile', input.profile);
      patch(w, 'usage', usage);
      patch(w, 'exitCode', input.exitCode === undefined || input.exitCode === null ? input.exitCode : Math.round(input.exitCode));
      patch(w, 'error', input.error);
      patch(w, 'startedAt', input.startedAt);
      patch(w, 'endedAt', input.endedAt);
      return copy(w);
    });
  }

  getWorker(runId: string, workerId: string): WorkerRecord | undefined {
    this.ensureOpen();
    const w = this.s.workers.get(runId)?.get(workerId);
    return w ? copy(w) : undefined;
  }

  listWorkers(runId: string): WorkerRecord[] {
    this.ensureOpen();
    return [...(this.s.workers.get(runId)?.values() ?? [])]
      .sort((a, b) => {
        if (a.startedAt === undefined && b.startedAt !== undefined) return 1;
        if (a.startedAt !== undefined && b.startedAt === undefined) return -1;
        return byString(a.startedAt ?? '', b.startedAt ?? '') || byString(a.workerId, b.workerId);
      })
      .map(copy);
  }

  // ── merges ────────────────────────────────────────────────────────────────

  addMerge(input: MergeInput): MergeRecord {
    return this.tx(() => {
      this.exactRun(input.runId);
      checkNonEmpty('branch', input.branch);
      const outcome = checkMergeOutcome(input.outcome);
      if (outcome === 'merged' && this.merged(input.runId, input.branch)) throw doubleMerge(input.runId, input.branch);
      const m: MergeRecord = {
        id: this.s.nextMergeId++,
        runId: input.runId,
        branch: input.branch,
        outcome,
        at: input.at ?? nowIso(),
      };
      if (input.subtaskId !== undefined) m.subtaskId = input.subtaskId;
      if (input.sha !== undefined) m.sha = input.sha;
      if (input.detail !== undefined) m.detail = input.detail;
      this.s.merges.push(m);
      return copy(m);
    });
  }

  listMerges(runId: string): MergeRecord[] {
    this.ensureOpen();
    return this.s.merges.filter((m) => m.runId === runId).map(copy);
  }

  private merged(runId: string, branch: string): boolean {
    return mergedState(this.s.merges.filter((m) => m.runId === runId && m.branch === branch).map((m) => m.outcome));
  }

  hasMerged(runId: string, branch: string): boolean {
    this.ensureOpen();
    return this.merged(runId, branch);
  }

  // ── commands ──────────────────────────────────────────────────────────────

  addCommand(input: CommandInput): CommandRecord {
    return this.tx(() => {
      if (input.runId !== undefined) this.exactRun(input.runId);
      const durationMs = input.durationMs === undefined ? undefined : checkCount('durationMs', input.durationMs);
      const c: CommandRecord = {
        id: this.s.nextCommandId++,
        ts: input.ts ?? nowIso(),
        worktree: input.worktree,
        command: input.command,
        allowed: input.allowed,
        dryRun: input.dryRun ?? false,
      };
      if (input.runId !== undefined) c.runId = input.runId;
      if (input.rule !== undefined) c.rule = input.rule;
      if (input.reason !== undefined) c.reason = input.reason;
      if (input.exitCode !== undefined && input.exitCode !== null) c.exitCode = Math.round(input.exitCode);
      if (durationMs !== undefined) c.durationMs = durationMs;
      this.s.commands.push(c);
      return copy(c);
    });
  }

  listCommands(options: ListCommandsOptions = {}): CommandRecord[] {
    this.ensureOpen();
    let cmds = this.s.commands;
    if (options.runId !== undefined) cmds = cmds.filter((c) => c.runId === options.runId);
    if (options.sinceId !== undefined) {
      const since = options.sinceId;
      cmds = cmds.filter((c) => c.id > since);
    }
    if (options.limit !== undefined) {
      const limit = checkCount('limit', options.limit);
      cmds = limit === 0 ? [] : cmds.slice(-limit);
    }
    return cmds.map(copy);
  }

  // ── events ────────────────────────────────────────────────────────────────

  appendEvent(runId: string, event: EventInput): EventRecord {
    return this.tx(() => {
      this.exactRun(runId);
      checkNonEmpty('event type', event.type);
      const data = jsonCopy(event.data);
      let list = this.s.events.get(runId);
      if (!list) this.s.events.set(runId, (list = []));
      const e: EventRecord = {
        runId,
        seq: (list[list.length - 1]?.seq ?? 0) + 1,
        ts: event.ts ?? nowIso(),
        type: event.type,
        data,
      };
      if (event.workerId !== undefined) e.workerId = event.workerId;
      list.push(e);
      return copy(e);
    });
  }

  lastEventSeq(runId: string): number {
    this.ensureOpen();
    const list = this.s.events.get(runId);
    return list?.[list.length - 1]?.seq ?? 0;
  }

  listEvents(runId: string, options: ListEventsOptions = {}): EventRecord[] {
    this.ensureOpen();
    const since = options.since ?? 0;
    let list = (this.s.events.get(runId) ?? []).filter((e) => e.seq > since);
    if (options.workerId !== undefined) list = list.filter((e) => e.workerId === options.workerId);
    if (options.limit !== undefined) list = list.slice(0, checkCount('limit', options.limit));
    return list.map(copy);
  }

  // ── locks ─────────────────────────────────────────────────────────────────

  tryAcquireLock(request: LockRequest, canTakeOver: (holder: LockRecord) => boolean): LockAttempt {
    return this.tx(() => {
      checkNonEmpty('lock key', request.key);
      checkNonEmpty('lock owner', request.owner);
      const holder = this.s.locks.get(request.key);
      if (holder && holder.owner === request.owner) {
        holder.heartbeatAt = request.at;
        return { acquired: true, lock: copy(holder) };
      }
      if (holder && !canTakeOver(copy(holder))) return { acquired: false, holder: copy(holder) };
      const lock: LockRecord = {
        key: request.key,
        owner: request.owner,
        pid: request.pid,
        hostname: request.hostname,
        acquiredAt: request.at,
        heartbeatAt: request.at,
      };
      if (request.runId !== undefined) lock.runId = request.runId;
      this.s.locks.set(request.key, lock);
      return holder ? { acquired: true, lock: copy(lock), previous: copy(holder) } : { acquired: true, lock: copy(lock) };
    });
  }

  heartbeatLock(key: string, owner: string, at: string): boolean {
    this.ensureOpen();
    const lock = this.s.locks.get(key);
    if (!lock || lock.owner !== owner) return false;
    lock.heartbeatAt = at;
    return true;
  }

  releaseLock(key: string, owner: string | undefined): boolean {
    this.ensureOpen();
    const lock = this.s.locks.get(key);
    if (!lock || (owner !== undefined && lock.owner !== owner)) return false;
    return this.s.locks.delete(key);
  }

  getLock(key: string): LockRecord | undefined {
    this.ensureOpen();
    const lock = this.s.locks.get(key);
    return lock ? copy(lock) : undefined;
  }

  listLocks(): LockRecord[] {
    this.ensureOpen();
    return [...this.s.locks.values()].sort((a, b) => byString(a.key, b.key)).map(copy);
  }

  // ── transactions ──────────────────────────────────────────────────────────

  transaction<T>(fn: () => T): T {
    return this.snapshotTx(() => {
      const result = fn();
      if (isThenable(result)) {
        (result as Promise<unknown>).then(undefined, () => undefined);
        throw asyncTransaction();
      }
      return result;
    });
  }

  close(): void {
    this.closed = true;
  }
}

export function createMemoryStore(): Store {
  return new MemoryStore();
}
