/**
 * The default store: SQLite (better-sqlite3 v12) at `<stateDir>/state.db`, WAL
 * mode, foreign keys on, a busy timeout so concurrent processes wait for each
 * other instead of failing. Calls are synchronous; each write method is one
 * IMMEDIATE transaction (or a single statement), committed before it returns.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DiskFullError, StoreError, isDiskFull } from '../errors.js';
import { migrate, MIGRATIONS, type Migration } from './migrations.js';
import { newRunId } from './run-dir.js';
import { sqliteTaskLedger, type TaskLedger, type TaskLedgerOptions } from './task-ledger.js';
import { commandFromRow, eventFromRow, lockFromRow, mergeFromRow, runFromRow, subtaskFromRow, workerFromRow, type Row } from './rows.js';
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
  matchesAbbrev,
  mergedState,
  nowIso,
  pickOne,
  runNotFound,
  toJson,
} from './validate.js';
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
  MergeOutcome,
  MergeRecord,
  QueueResultInput,
  QueueResultRecord,
  RunPatch,
  RunRecord,
  Store,
  SubtaskRecord,
  SubtaskUpsert,
  TokenCounts,
  WorkerRecord,
  WorkerUpsert,
} from './types.js';

export interface SqliteStoreOptions {
  /** How long a write waits for another process's transaction; default 10 000 ms. */
  busyTimeoutMs?: number;
  /**
   * `normal` (default): committed writes survive a crash or `kill -9` of the process;
   * `full`: they also survive a power cut (an fsync per commit).
   */
  synchronous?: 'normal' | 'full';
  /** For tests: a different migration list. */
  migrations?: readonly Migration[];
  /** For tests: the task ledger's pid liveness check, pid and hostname. */
  taskLedger?: TaskLedgerOptions;
}

export const STATE_DB = 'state.db';

function sqliteCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A column of an upsert: its name, the value given (`undefined`: not given) and what a new row gets instead. */
type Column = readonly [column: string, value: unknown, onInsert?: unknown];

/** The columns subtasks and workers share: the codex thread, when the work started and ended, the row's update time. */
function workColumns(input: { threadId?: unknown; startedAt?: unknown; endedAt?: unknown }, now: string): Column[] {
  return [
    ['thread_id', input.threadId],
    ['started_at', input.startedAt],
    ['ended_at', input.endedAt],
    ['updated_at', now],
  ];
}

class SqliteStore implements Store {
  readonly kind: 'sqlite' | 'memory';
  readonly location: string | undefined;
  private readonly db: Database.Database;
  private closed = false;
  private ledger: TaskLedger | undefined;
  private readonly ledgerOptions: TaskLedgerOptions;

  constructor(db: Database.Database, file: string | undefined, ledgerOptions: TaskLedgerOptions = {}) {
    this.kind = file === undefined ? 'memory' : 'sqlite';
    this.db = db;
    this.location = file;
    this.ledgerOptions = ledgerOptions;
  }

  get tasks(): TaskLedger {
    this.ensureOpen();
    this.ledger ??= sqliteTaskLedger(this.db, this.location, this.ledgerOptions);
    return this.ledger;
  }

  /** Runs fn in an IMMEDIATE transaction (a savepoint when nested); maps SQLite errors to StoreError. */
  private tx<T>(what: string, fn: () => T): T {
    this.ensureOpen();
    try {
      // Nested calls become savepoints of the outer transaction.
      return this.db.transaction(fn).immediate();
    } catch (e) {
      throw this.wrap(what, e);
    }
  }

  private wrap(what: string, e: unknown): unknown {
    if (e instanceof StoreError) return e;
    const code = sqliteCode(e);
    if (code === 'SQLITE_FULL' || isDiskFull(e)) return new DiskFullError(this.location ?? 'the in-memory store', { cause: e });
    if (code?.startsWith('SQLITE_')) {
      const hint =
        code === 'SQLITE_BUSY'
          ? 'another process held the database too long; retry'
          : code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN'
            ? 'check that the state dir is writable'
            : code === 'SQLITE_FULL'
              ? 'free some disk space'
              : undefined;
      return new StoreError(`${this.location ?? 'the in-memory store'}: ${what} failed: ${(e as Error).message} (${code})`, {
        cause: e,
        hint,
        context: { code },
      });
    }
    return e;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError(`${this.location ?? 'the in-memory store'}: the store is closed`);
  }

  /** `UPDATE table SET` the columns whose value is defined (a patch), `WHERE` the given condition. */
  /**
   * One upsert for every table keyed by `key`: a new row gets every column, a column not given
   * (`undefined`) taking its insert default (else NULL); an existing row gets only the columns given.
   */
  private upsertRow(table: string, key: readonly (readonly [string, unknown])[], exists: boolean, cols: readonly Column[]): void {
    if (exists) {
      const given = cols.map(([c, v]) => [c, v] as const);
      this.updateDefined(table, given, key.map(([c]) => `${c} = ?`).join(' AND '), ...key.map(([, v]) => v));
      return;
    }
    const row = [...key, ...cols.map(([c, v, onInsert]) => [c, v ?? onInsert ?? null] as const)];
    this.db
      .prepare(`INSERT INTO ${table} (${row.map(([c]) => c).join(', ')}) VALUES (${row.map(() => '?').join(', ')})`)
      .run(...row.map(([, v]) => v));
  }

  private updateDefined(table: string, cols: readonly (readonly [string, unknown])[], where: string, ...whereParams: unknown[]): void {
    const present = cols.filter(([, v]) => v !== undefined);
    this.db
      .prepare(`UPDATE ${table} SET ${present.map(([c]) => `${c} = ?`).join(', ')} WHERE ${where}`)
      .run(...present.map(([, v]) => v), ...whereParams);
  }

  private get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.db.prepare(sql).get(...params) as T | undefined;
  }

  private all<T>(sql: string, ...params: unknown[]): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }

  private read<T>(what: string, fn: () => T): T {
    this.ensureOpen();
    try {
      return fn();
    } catch (e) {
      throw this.wrap(what, e);
    }
  }

  /** One row of a query, mapped; undefined when there is none. */
  private readOne<T>(what: string, from: (row: Row) => T, sql: string, ...params: unknown[]): T | undefined {
    return this.read(what, () => {
      const row = this.get<Row>(sql, ...params);
      return row ? from(row) : undefined;
    });
  }

  private runRow(id: string): Row | undefined {
    return this.get<Row>('SELECT * FROM runs WHERE id = ?', id);
  }

  private requireExactRun(id: string): Row {
    const row = this.runRow(id);
    if (!row) throw runNotFound(id);
    return row;
  }

  // ── runs ──────────────────────────────────────────────────────────────────

  createRun(input: CreateRunInput): RunRecord {
    return this.tx('createRun', () => this.insertRun(input));
  }

  private insertRun(input: CreateRunInput): RunRecord {
    const id = input.id ?? newRunId();
    checkNonEmpty('run id', id);
    checkNonEmpty('task', input.task);
    checkNonEmpty('baseDir', input.baseDir);
    const status = checkRunStatus(input.status ?? 'pending');
    if (this.runRow(id)) throw duplicateRun(id);
    if (input.taskKey !== undefined) {
      checkNonEmpty('taskKey', input.taskKey);
      const existing = this.get<Row>('SELECT id FROM runs WHERE task_key = ?', input.taskKey);
      if (existing) throw duplicateTaskKey(input.taskKey, existing.id as string);
    }
    const at = input.createdAt ?? nowIso();
    this.db
      .prepare(
        `INSERT INTO runs (id, task_key, task, base_dir, status, created_at, updated_at, finished_at, pid, model, dry_run, manifest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        input.taskKey ?? null,
        input.task,
        input.baseDir,
        status,
        at,
        at,
        isFinishedStatus(status) ? at : null,
        input.pid ?? null,
        input.model ?? null,
        input.dryRun ? 1 : 0,
        input.manifest === undefined ? null : toJson(input.manifest),
      );
    return runFromRow(this.requireExactRun(id));
  }

  getRun(idOrPrefix: string): RunRecord | undefined {
    return this.read('getRun', () => {
      const exact = this.runRow(idOrPrefix);
      if (exact) return runFromRow(exact);
      if (idOrPrefix.length === 0) return undefined;
      const like = escapeLike(idOrPrefix);
      const rows = this.all<Row>(
        "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\'",
        `${like}%`,
        `%-${like}%`,
      ).filter((r) => matchesAbbrev(r.id as string, idOrPrefix));
      const one = pickOne(
        idOrPrefix,
        rows.map((r) => ({ id: r.id as string, row: r })),
      );
      return one ? runFromRow(one.row) : undefined;
    });
  }

  requireRun(idOrPrefix: string): RunRecord {
    const run = this.getRun(idOrPrefix);
    if (!run) throw runNotFound(idOrPrefix);
    return run;
  }

  listRuns(options: ListRunsOptions = {}): RunRecord[] {
    return this.read('listRuns', () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (options.status !== undefined) {
        const statuses = (typeof options.status === 'string' ? [options.status] : [...options.status]).map(checkRunStatus);
        if (statuses.length === 0) return [];
        where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
        params.push(...statuses);
      }
      if (options.baseDir !== undefined) {
        where.push('base_dir = ?');
        params.push(options.baseDir);
      }
      let sql = 'SELECT * FROM runs';
      if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
      sql += ' ORDER BY created_at DESC, id DESC';
      if (options.limit !== undefined) {
        sql += ' LIMIT ?';
        params.push(checkCount('limit', options.limit));
      }
      return this.all<Row>(sql, ...params).map(runFromRow);
    });
  }

  updateRun(id: string, patch: RunPatch): RunRecord {
    return this.tx('updateRun', () => {
      const row = this.requireExactRun(id);
      const sets: string[] = [];
      const params: unknown[] = [];
      const set = (col: string, value: unknown) => {
        sets.push(`${col} = ?`);
        params.push(value);
      };
      if (patch.status !== undefined) {
        const status = checkRunStatus(patch.status);
        set('status', status);
        if (patch.finishedAt === undefined) {
          if (isFinishedStatus(status)) {
            if (row.finished_at === null || row.status !== status) set('finished_at', nowIso());
          } else {
            set('finished_at', null);
          }
        }
      }
      if (patch.finishedAt !== undefined) set('finished_at', patch.finishedAt);
      if (patch.pid !== undefined) set('pid', patch.pid);
      if (patch.model !== undefined) set('model', patch.model);
      if (patch.dryRun !== undefined) set('dry_run', patch.dryRun ? 1 : 0);
      if (patch.tokens !== undefined) {
        set('tokens_input', checkCount('tokens.input', patch.tokens.input));
        set('tokens_output', checkCount('tokens.output', patch.tokens.output));
      }
      if (patch.error !== undefined) set('error', patch.error);
      if (patch.agentState !== undefined) set('agent_state', patch.agentState);
      if (patch.summary !== undefined) set('summary', patch.summary);
      if ('manifest' in patch) set('manifest', patch.manifest === undefined || patch.manifest === null ? null : toJson(patch.manifest));
      set('updated_at', nowIso());
      this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      return runFromRow(this.requireExactRun(id));
    });
  }

  addRunTokens(id: string, delta: TokenCounts): RunRecord {
    return this.tx('addRunTokens', () => {
      this.requireExactRun(id);
      this.db
        .prepare('UPDATE runs SET tokens_input = tokens_input + ?, tokens_output = tokens_output + ?, updated_at = ? WHERE id = ?')
        .run(checkCount('tokens.input', delta.input), checkCount('tokens.output', delta.output), nowIso(), id);
      return runFromRow(this.requireExactRun(id));
    });
  }

  saveAgentState(id: string, state: string | null): void {
    this.updateRun(id, { agentState: state });
  }

  deleteRun(id: string): boolean {
    return this.tx('deleteRun', () => this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0);
  }

  findRunByTaskKey(taskKey: string): RunRecord | undefined {
    return this.read('findRunByTaskKey', () => {
      const row = this.get<Row>('SELECT * FROM runs WHERE task_key = ?', taskKey);
      return row ? runFromRow(row) : undefined;
    });
  }

  ensureRun(input: CreateRunInput & { taskKey: string }): { run: RunRecord; created: boolean } {
    return this.tx('ensureRun', () => {
      checkNonEmpty('taskKey', input.taskKey);
      const row = this.get<Row>('SELECT * FROM runs WHERE task_key = ?', input.taskKey);
      if (row) return { run: runFromRow(row), created: false };
      return { run: this.insertRun(input), created: true };
    });
  }

  // ── subtasks ──────────────────────────────────────────────────────────────

  upsertSubtask(input: SubtaskUpsert): SubtaskRecord {
    return this.tx('upsertSubtask', () => {
      checkNonEmpty('subtask id', input.id);
      this.requireExactRun(input.runId);
      const existing = this.get<Row>('SELECT * FROM subtasks WHERE run_id = ? AND id = ?', input.runId, input.id);
      const now = nowIso();
      if (input.status !== undefined) checkSubtaskStatus(input.status);
      if (input.attempts !== undefined) checkCount('attempts', input.attempts);
      const count = () => Number(this.get<Row>('SELECT COUNT(*) AS n FROM subtasks WHERE run_id = ?', input.runId)?.n ?? 0);
      this.upsertRow(
        'subtasks',
        [
          ['run_id', input.runId],
          ['id', input.id],
        ],
        existing !== undefined,
        [
          ['position', input.position === undefined ? undefined : checkCount('position', input.position), existing ? null : count()],
          ['phase', input.phase],
          ['title', input.title, input.id],
          ['kind', input.kind, 'feature'],
          ['status', input.status, 'pending'],
          ['prompt', input.prompt],
          ['acceptance', input.acceptance],
          ['files', input.files === undefined ? undefined : JSON.stringify(input.files), JSON.stringify(['**'])],
          ['depends_on', input.dependsOn === undefined ? undefined : JSON.stringify(input.dependsOn), JSON.stringify([])],
          ['worktree', input.worktree],
          ['branch', input.branch],
          ['attempts', input.attempts === undefined ? undefined : Math.round(input.attempts), 0],
          ['reason', input.reason],
          ...workColumns(input, now),
        ],
      );
      return this.getSubtask(input.runId, input.id) as SubtaskRecord;
    });
  }

  getSubtask(runId: string, id: string): SubtaskRecord | undefined {
    return this.readOne('getSubtask', subtaskFromRow, 'SELECT * FROM subtasks WHERE run_id = ? AND id = ?', runId, id);
  }

  listSubtasks(runId: string): SubtaskRecord[] {
    return this.read('listSubtasks', () =>
      this.all<Row>('SELECT * FROM subtasks WHERE run_id = ? ORDER BY position, id', runId).map(subtaskFromRow),
    );
  }

  // ── workers ───────────────────────────────────────────────────────────────

  upsertWorker(input: WorkerUpsert): WorkerRecord {
    return this.tx('upsertWorker', () => {
      checkNonEmpty('worker id', input.workerId);
      this.requireExactRun(input.runId);
      if (input.status !== undefined) checkWorkerStatus(input.status);
      const usage = input.usage === undefined ? undefined : input.usage === null ? null : toJson(input.usage);
      const exitCode = input.exitCode === undefined || input.exitCode === null ? input.exitCode : Math.round(input.exitCode);
      const now = nowIso();
      const existing = this.get<Row>('SELECT 1 FROM workers WHERE run_id = ? AND worker_id = ?', input.runId, input.workerId);
      this.upsertRow(
        'workers',
        [
          ['run_id', input.runId],
          ['worker_id', input.workerId],
        ],
        existing !== undefined,
        [
          ['subtask_id', input.subtaskId],
          ['status', input.status, 'starting'],
          ['run_dir', input.runDir],
          ['profile', input.profile],
          ['usage', usage],
          ['exit_code', exitCode],
          ['error', input.error],
          ...workColumns(input, now),
        ],
      );
      return this.getWorker(input.runId, input.workerId) as WorkerRecord;
    });
  }

  getWorker(runId: string, workerId: string): WorkerRecord | undefined {
    return this.readOne('getWorker', workerFromRow, 'SELECT * FROM workers WHERE run_id = ? AND worker_id = ?', runId, workerId);
  }

  listWorkers(runId: string): WorkerRecord[] {
    return this.read('listWorkers', () =>
      this.all<Row>('SELECT * FROM workers WHERE run_id = ? ORDER BY started_at IS NULL, started_at, worker_id', runId).map(workerFromRow),
    );
  }

  // ── merges ────────────────────────────────────────────────────────────────

  addMerge(input: MergeInput): MergeRecord {
    return this.tx('addMerge', () => {
      this.requireExactRun(input.runId);
      checkNonEmpty('branch', input.branch);
      const outcome = checkMergeOutcome(input.outcome);
      if (outcome === 'merged' && this.merged(input.runId, input.branch)) throw doubleMerge(input.runId, input.branch);
      const info = this.db
        .prepare('INSERT INTO merges (run_id, subtask_id, branch, outcome, sha, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(input.runId, input.subtaskId ?? null, input.branch, outcome, input.sha ?? null, input.detail ?? null, input.at ?? nowIso());
      return mergeFromRow(this.get<Row>('SELECT * FROM merges WHERE id = ?', info.lastInsertRowid) as Row);
    });
  }

  listMerges(runId: string): MergeRecord[] {
    return this.read('listMerges', () => this.all<Row>('SELECT * FROM merges WHERE run_id = ? ORDER BY id', runId).map(mergeFromRow));
  }

  private merged(runId: string, branch: string): boolean {
    const rows = this.all<Row>('SELECT outcome FROM merges WHERE run_id = ? AND branch = ? ORDER BY id', runId, branch);
    return mergedState(rows.map((r) => r.outcome as MergeOutcome));
  }

  hasMerged(runId: string, branch: string): boolean {
    return this.read('hasMerged', () => this.merged(runId, branch));
  }

  // ── remote job results ──────────────────────────────────────────────────

  acceptQueueResult(input: QueueResultInput): boolean {
    return this.tx('acceptQueueResult', () => {
      this.requireExactRun(input.runId);
      const info = this.db
        .prepare(
          `INSERT INTO queue_results (run_id, subtask_id, attempt, job_id, agent, head_sha, accepted_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(
          input.runId,
          checkNonEmpty('subtask id', input.subtaskId),
          checkCount('attempt', input.attempt),
          input.jobId,
          input.agent,
          input.headSha,
          nowIso(),
        );
      return info.changes === 1;
    });
  }

  listQueueResults(runId: string): QueueResultRecord[] {
    return this.read('listQueueResults', () =>
      this.all<Row>('SELECT * FROM queue_results WHERE run_id = ? ORDER BY subtask_id, attempt', runId).map((r) => ({
        runId: r.run_id as string,
        subtaskId: r.subtask_id as string,
        attempt: Number(r.attempt),
        jobId: r.job_id as string,
        agent: r.agent as string,
        headSha: (r.head_sha as string | null) ?? null,
        acceptedAt: r.accepted_at as string,
      })),
    );
  }

  // ── commands ──────────────────────────────────────────────────────────────

  addCommand(input: CommandInput): CommandRecord {
    return this.tx('addCommand', () => {
      if (input.runId !== undefined) this.requireExactRun(input.runId);
      const info = this.db
        .prepare(
          `INSERT INTO commands (run_id, ts, worktree, command, allowed, rule, reason, exit_code, duration_ms, dry_run)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.runId ?? null,
          input.ts ?? nowIso(),
          input.worktree,
          input.command,
          input.allowed ? 1 : 0,
          input.rule ?? null,
          input.reason ?? null,
          input.exitCode === undefined || input.exitCode === null ? null : Math.round(input.exitCode),
          input.durationMs === undefined ? null : checkCount('durationMs', input.durationMs),
          input.dryRun ? 1 : 0,
        );
      return commandFromRow(this.get<Row>('SELECT * FROM commands WHERE id = ?', info.lastInsertRowid) as Row);
    });
  }

  listCommands(options: ListCommandsOptions = {}): CommandRecord[] {
    return this.read('listCommands', () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (options.runId !== undefined) {
        where.push('run_id = ?');
        params.push(options.runId);
      }
      if (options.sinceId !== undefined) {
        where.push('id > ?');
        params.push(options.sinceId);
      }
      let sql = 'SELECT * FROM commands';
      if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
      if (options.limit !== undefined) {
        sql = `SELECT * FROM (${sql} ORDER BY id DESC LIMIT ?)`;
        params.push(checkCount('limit', options.limit));
      }
      sql += ' ORDER BY id';
      return this.all<Row>(sql, ...params).map(commandFromRow);
    });
  }

  // ── events ────────────────────────────────────────────────────────────────

  appendEvent(runId: string, event: EventInput): EventRecord {
    return this.tx('appendEvent', () => {
      this.requireExactRun(runId);
      checkNonEmpty('event type', event.type);
      const seq = this.lastSeq(runId) + 1;
      this.db
        .prepare('INSERT INTO events (run_id, seq, ts, type, worker_id, data) VALUES (?, ?, ?, ?, ?, ?)')
        .run(runId, seq, event.ts ?? nowIso(), event.type, event.workerId ?? null, toJson(event.data));
      return eventFromRow(this.get<Row>('SELECT * FROM events WHERE run_id = ? AND seq = ?', runId, seq) as Row);
    });
  }

  private lastSeq(runId: string): number {
    return Number(this.get<Row>('SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE run_id = ?', runId)?.seq ?? 0);
  }

  lastEventSeq(runId: string): number {
    return this.read('lastEventSeq', () => this.lastSeq(runId));
  }

  listEvents(runId: string, options: ListEventsOptions = {}): EventRecord[] {
    return this.read('listEvents', () => {
      const params: unknown[] = [runId, options.since ?? 0];
      let sql = 'SELECT * FROM events WHERE run_id = ? AND seq > ?';
      if (options.workerId !== undefined) {
        sql += ' AND worker_id = ?';
        params.push(options.workerId);
      }
      sql += ' ORDER BY seq';
      if (options.limit !== undefined) {
        sql += ' LIMIT ?';
        params.push(checkCount('limit', options.limit));
      }
      return this.all<Row>(sql, ...params).map(eventFromRow);
    });
  }

  // ── locks ─────────────────────────────────────────────────────────────────

  tryAcquireLock(request: LockRequest, canTakeOver: (holder: LockRecord) => boolean): LockAttempt {
    return this.tx('tryAcquireLock', () => {
      checkNonEmpty('lock key', request.key);
      checkNonEmpty('lock owner', request.owner);
      const row = this.get<Row>('SELECT * FROM locks WHERE key = ?', request.key);
      const holder = row ? lockFromRow(row) : undefined;
      if (holder && holder.owner === request.owner) {
        this.db.prepare('UPDATE locks SET heartbeat_at = ? WHERE key = ?').run(request.at, request.key);
        return { acquired: true, lock: { ...holder, heartbeatAt: request.at } };
      }
      if (holder && !canTakeOver(holder)) return { acquired: false, holder };
      this.db
        .prepare(`INSERT OR REPLACE INTO locks (key, owner, pid, hostname, run_id, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(request.key, request.owner, request.pid, request.hostname, request.runId ?? null, request.at, request.at);
      const lock = lockFromRow(this.get<Row>('SELECT * FROM locks WHERE key = ?', request.key) as Row);
      return holder ? { acquired: true, lock, previous: holder } : { acquired: true, lock };
    });
  }

  heartbeatLock(key: string, owner: string, at: string): boolean {
    return this.tx(
      'heartbeatLock',
      () => this.db.prepare('UPDATE locks SET heartbeat_at = ? WHERE key = ? AND owner = ?').run(at, key, owner).changes > 0,
    );
  }

  releaseLock(key: string, owner: string | undefined): boolean {
    return this.tx('releaseLock', () =>
      owner === undefined
        ? this.db.prepare('DELETE FROM locks WHERE key = ?').run(key).changes > 0
        : this.db.prepare('DELETE FROM locks WHERE key = ? AND owner = ?').run(key, owner).changes > 0,
    );
  }

  getLock(key: string): LockRecord | undefined {
    return this.read('getLock', () => {
      const row = this.get<Row>('SELECT * FROM locks WHERE key = ?', key);
      return row ? lockFromRow(row) : undefined;
    });
  }

  listLocks(): LockRecord[] {
    return this.read('listLocks', () => this.all<Row>('SELECT * FROM locks ORDER BY key').map(lockFromRow));
  }

  // ── transactions ──────────────────────────────────────────────────────────

  transaction<T>(fn: () => T): T {
    return this.tx('transaction', () => {
      const result = fn();
      if (isThenable(result)) {
        // Rolls back what fn wrote synchronously; the promise is left to itself.
        (result as Promise<unknown>).then(undefined, () => undefined);
        throw asyncTransaction();
      }
      return result;
    });
  }

  checkpoint(): void {
    if (this.closed || this.location === undefined) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A busy reader or a full disk: the log stays, the next checkpoint tries again.
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Opens (creating when missing) `<stateDir>/state.db` and brings its schema up to date. */
/** Where a store lives: `<stateDir>/state.db` on disk, or a private in-memory database (tests). */
export type StoreTarget = { stateDir: string } | { memory: true };

/**
 * Opens the run store. `{memory: true}` is the same SQLite code on a private
 * `:memory:` database, so tests exercise exactly what production runs.
 */
export function openStore(target: StoreTarget, options: SqliteStoreOptions = {}): Store {
  const file = 'memory' in target ? ':memory:' : path.join(path.resolve(target.stateDir), STATE_DB);
  if (!('memory' in target)) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    } catch (cause) {
      throw new StoreError(`cannot create the state dir ${path.dirname(file)}: ${(cause as Error).message}`, {
        cause,
        hint: 'set ORCHESTRATOR_STATE_DIR to a writable directory',
      });
    }
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma(`busy_timeout = ${Math.max(0, Math.round(options.busyTimeoutMs ?? 10_000))}`);
    if (!('memory' in target)) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    migrate(db, file, options.migrations ?? MIGRATIONS);
  } catch (cause) {
    db?.close();
    if (cause instanceof StoreError) throw cause;
    if (isDiskFull(cause)) throw new DiskFullError(file, { cause });
    const code = sqliteCode(cause);
    throw new StoreError(`cannot open the run store ${file}: ${(cause as Error).message}${code ? ` (${code})` : ''}`, {
      cause,
      hint:
        code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
          ? 'the file is not a codex-orchestrator database; move it away'
          : 'check that the state dir is writable (ORCHESTRATOR_STATE_DIR)',
      context: { file, code },
    });
  }
  return new SqliteStore(db, 'memory' in target ? undefined : file, options.taskLedger);
}

/** The on-disk store at `<stateDir>/state.db`. */
export function openSqliteStore(stateDir: string, options: SqliteStoreOptions = {}): Store {
  return openStore({ stateDir }, options);
}
