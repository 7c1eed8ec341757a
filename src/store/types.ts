/**
 * The run store: everything a run needs to be shown, reported and resumed after
 * a crash, behind one synchronous interface, implemented once on SQLite: in the
 * state dir (`openStore({stateDir})`) or on a private in-memory database
 * (`openStore({memory: true})`, for tests; the contract tests run against both).
 *
 * Conventions:
 * - Timestamps are ISO-8601 UTC strings with milliseconds (`2026-11-30T00:15:23.123Z`);
 *   they sort as text.
 * - Optional fields are absent on records when unset. In patches and upserts,
 *   `undefined` (or a missing key) keeps the stored value and `null` clears it.
 * - Every method that writes has committed before it returns.
 * - Records returned are copies: changing them does not change the store.
 * - Misuse (unknown run, bad status, duplicate id, double merge) throws `StoreError`.
 */

import type { TaskLedger } from './task-ledger.js';

export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'aborted', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses after which a run does not change on its own (`interrupted` can be resumed). */
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'aborted'];

/**
 * A subtask's lifecycle (the manifest's `status` field uses the same list).
 * `awaiting_approval` is a `complete` subtask whose merge waits for a person
 * (`run --approve`); only the approval gate writes it, in the store — the
 * scheduler and the manifest keep `complete` — so a resume finds the branch
 * ready and the wait still recorded.
 */
export const SUBTASK_STATUSES = ['pending', 'blocked', 'running', 'stuck', 'error', 'complete', 'awaiting_approval', 'merged'] as const;
export type SubtaskStatus = (typeof SUBTASK_STATUSES)[number];

export const WORKER_STATUSES = [
  'starting',
  'running',
  'waiting-for-input',
  'stalled',
  'succeeded',
  'failed',
  'crashed',
  'aborted',
  'interrupted',
] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/**
 * What happened to one merge attempt of a branch into main.
 * `merged`: the merge commit exists (sha); `reverted`: an earlier `merged` of the
 * same branch was reverted (sha of the revert commit). `hasMerged` is true when the
 * branch's latest merged/reverted record is `merged`.
 */
export const MERGE_OUTCOMES = ['merged', 'conflict', 'smoke-failed', 'reverted', 'failed', 'skipped'] as const;
export type MergeOutcome = (typeof MERGE_OUTCOMES)[number];

export interface TokenCounts {
  input: number;
  output: number;
}

/** Token usage of one codex worker (codex reports cached input separately). */
export interface WorkerUsage {
  input: number;
  output: number;
  cachedInput?: number;
  reasoning?: number;
}

export interface RunRecord {
  id: string;
  /** Idempotency key of the task (dispatcher task id or content hash); unique across runs. */
  taskKey?: string;
  task: string;
  /** Absolute base dir (holds main/). */
  baseDir: string;
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The pid of the process that last drove the run. */
  pid?: number;
  model?: string;
  dryRun: boolean;
  /** Orchestrator-model tokens. */
  tokens: TokenCounts;
  error?: string;
  /** The serialised Agents SDK `RunState` (`state.toString()`), for resuming the conversation. */
  agentState?: string;
  summary?: string;
  /** The accepted plan manifest (any JSON value; the scheduler owns its shape). */
  manifest?: unknown;
}

export interface CreateRunInput {
  /** Default: `newRunId()`. */
  id?: string;
  taskKey?: string;
  task: string;
  baseDir: string;
  /** Default `pending`. */
  status?: RunStatus;
  pid?: number;
  model?: string;
  dryRun?: boolean;
  manifest?: unknown;
  /** Default: now. */
  createdAt?: string;
}

/** Fields of a run that can change. `null` clears an optional field. */
export interface RunPatch {
  status?: RunStatus;
  finishedAt?: string | null;
  pid?: number | null;
  model?: string | null;
  dryRun?: boolean;
  tokens?: TokenCounts;
  error?: string | null;
  agentState?: string | null;
  summary?: string | null;
  manifest?: unknown;
}

export interface ListRunsOptions {
  status?: RunStatus | readonly RunStatus[];
  baseDir?: string;
  /** Newest first; default no limit. */
  limit?: number;
}

export interface SubtaskRecord {
  runId: string;
  id: string;
  /** Order in the plan (phases flattened); `listSubtasks` sorts by it, then id. */
  position: number;
  phase?: string;
  title: string;
  /** feature | fix | refactor | tests | migration | docs (the scheduler validates). */
  kind: string;
  status: SubtaskStatus;
  prompt?: string;
  acceptance?: string;
  files: string[];
  dependsOn: string[];
  worktree?: string;
  branch?: string;
  threadId?: string;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  /** Why it is blocked, stuck, in error, or what the last rework was about. */
  reason?: string;
  updatedAt: string;
}

/**
 * An insert-or-merge of one subtask. For a new subtask the missing fields get
 * defaults (title = id, kind `feature`, status `pending`, files `["**"]`,
 * dependsOn `[]`, attempts 0, position = count of the run's subtasks); for an
 * existing one only the given fields change.
 */
export interface SubtaskUpsert {
  runId: string;
  id: string;
  position?: number;
  phase?: string | null;
  title?: string;
  kind?: string;
  status?: SubtaskStatus;
  prompt?: string | null;
  acceptance?: string | null;
  files?: readonly string[];
  dependsOn?: readonly string[];
  worktree?: string | null;
  branch?: string | null;
  threadId?: string | null;
  attempts?: number;
  startedAt?: string | null;
  endedAt?: string | null;
  reason?: string | null;
}

export interface WorkerRecord {
  runId: string;
  workerId: string;
  subtaskId?: string;
  status: WorkerStatus;
  threadId?: string;
  /** The worker's directory (`runs/<runId>/workers/<workerId>`). */
  runDir?: string;
  /** The codex profile (model/effort escalation step) it ran with. */
  profile?: string;
  usage?: WorkerUsage;
  exitCode?: number;
  error?: string;
  startedAt?: string;
  endedAt?: string;
  updatedAt: string;
}

/** Insert-or-merge of one worker; a new one defaults to status `starting`. */
export interface WorkerUpsert {
  runId: string;
  workerId: string;
  subtaskId?: string | null;
  status?: WorkerStatus;
  threadId?: string | null;
  runDir?: string | null;
  profile?: string | null;
  usage?: WorkerUsage | null;
  exitCode?: number | null;
  error?: string | null;
  startedAt?: string | null;
  endedAt?: string | null;
}

export interface MergeRecord {
  /** Store-assigned, increasing in insertion order. */
  id: number;
  runId: string;
  subtaskId?: string;
  branch: string;
  outcome: MergeOutcome;
  /** Merge commit (merged), revert commit (reverted). */
  sha?: string;
  /** Conflicting files, smoke output tail, reason. */
  detail?: string;
  at: string;
}

export interface MergeInput {
  runId: string;
  subtaskId?: string;
  branch: string;
  outcome: MergeOutcome;
  sha?: string;
  detail?: string;
  /** Default: now. */
  at?: string;
}

export interface QueueResultInput {
  runId: string;
  subtaskId: string;
  attempt: number;
  jobId: string;
  agent: string;
  headSha: string | null;
}

export interface QueueResultRecord extends QueueResultInput {
  acceptedAt: string;
}

export interface CommandRecord {
  id: number;
  /** Absent for commands run outside a run (`codex-orch exec`). */
  runId?: string;
  ts: string;
  worktree: string;
  command: string;
  allowed: boolean;
  rule?: string;
  reason?: string;
  exitCode?: number;
  durationMs?: number;
  dryRun: boolean;
}

export interface CommandInput {
  runId?: string;
  /** Default: now. */
  ts?: string;
  worktree: string;
  command: string;
  allowed: boolean;
  rule?: string;
  reason?: string;
  exitCode?: number | null;
  durationMs?: number;
  dryRun?: boolean;
}

export interface ListCommandsOptions {
  runId?: string;
  /** Only commands with an id greater than this. */
  sinceId?: number;
  /** The last `limit` commands (still in increasing id order). */
  limit?: number;
}

export interface EventRecord {
  runId: string;
  /** 1, 2, 3… per run, assigned by the store, no gaps. */
  seq: number;
  ts: string;
  type: string;
  /** The worker the event is about, for `runs tail <id> --worker`. */
  workerId?: string;
  /** Any JSON value (stored as JSON: Dates become strings, undefined becomes null). */
  data: unknown;
}

export interface EventInput {
  type: string;
  workerId?: string;
  data?: unknown;
  /** Default: now. */
  ts?: string;
}

export interface ListEventsOptions {
  /** Only events with seq greater than this (for tailing). Default 0. */
  since?: number;
  workerId?: string;
  limit?: number;
}

/** A row of the lock table (run locks, base-dir locks). */
export interface LockRecord {
  /** `run:<runId>` or `basedir:<absolute dir>`. */
  key: string;
  /** A random token of the holding handle. */
  owner: string;
  pid: number;
  hostname: string;
  runId?: string;
  acquiredAt: string;
  heartbeatAt: string;
}

export interface LockRequest {
  key: string;
  owner: string;
  pid: number;
  hostname: string;
  runId?: string;
  /** The time written as acquiredAt and heartbeatAt. */
  at: string;
}

export type LockAttempt =
  | { acquired: true; lock: LockRecord; /** The lock that was taken over, when there was one. */ previous?: LockRecord }
  | { acquired: false; holder: LockRecord };

export interface Store {
  readonly kind: 'sqlite' | 'memory';
  /** The database file, or undefined for memory. */
  readonly location: string | undefined;

  /** Creates a run; a duplicate id or task key throws StoreError. */
  createRun(input: CreateRunInput): RunRecord;
  /**
   * The run with this id, or the one run whose id starts with `idOrPrefix` (or whose
   * random suffix — the part after the last `-` — starts with it). Undefined when
   * none; StoreError listing the candidates when several match.
   */
  getRun(idOrPrefix: string): RunRecord | undefined;
  /** Like getRun, but a missing run is a StoreError. */
  requireRun(idOrPrefix: string): RunRecord;
  /** Newest first. */
  listRuns(options?: ListRunsOptions): RunRecord[];
  /** Applies the patch (exact id) and returns the run; sets finishedAt when a finished status arrives without one. */
  updateRun(id: string, patch: RunPatch): RunRecord;
  /** Adds to the run's token counters atomically. */
  addRunTokens(id: string, delta: TokenCounts): RunRecord;
  saveAgentState(id: string, state: string | null): void;
  /** Deletes a run and (cascading) its subtasks, workers, merges, events and commands. */
  deleteRun(id: string): boolean;

  /** The run with this task key, for idempotent submission. */
  findRunByTaskKey(taskKey: string): RunRecord | undefined;
  /** Creates the run unless one with `input.taskKey` exists (then returns that one); race-free across processes. */
  ensureRun(input: CreateRunInput & { taskKey: string }): { run: RunRecord; created: boolean };

  upsertSubtask(input: SubtaskUpsert): SubtaskRecord;
  getSubtask(runId: string, id: string): SubtaskRecord | undefined;
  listSubtasks(runId: string): SubtaskRecord[];

  upsertWorker(input: WorkerUpsert): WorkerRecord;
  getWorker(runId: string, workerId: string): WorkerRecord | undefined;
  /** In order of startedAt (unstarted last), then workerId. */
  listWorkers(runId: string): WorkerRecord[];

  /** Records a merge attempt; a `merged` record for a branch that `hasMerged` already throws StoreError. */
  addMerge(input: MergeInput): MergeRecord;
  listMerges(runId: string): MergeRecord[];
  hasMerged(runId: string, branch: string): boolean;

  /**
   * Records the result of one remote job attempt. True for the first result of
   * (run, subtask, attempt); false for a duplicate, which the caller ignores.
   */
  acceptQueueResult(input: QueueResultInput): boolean;
  listQueueResults(runId: string): QueueResultRecord[];

  addCommand(input: CommandInput): CommandRecord;
  listCommands(options?: ListCommandsOptions): CommandRecord[];

  appendEvent(runId: string, event: EventInput): EventRecord;
  listEvents(runId: string, options?: ListEventsOptions): EventRecord[];
  /** The highest seq of the run, 0 when it has none. */
  lastEventSeq(runId: string): number;

  /**
   * Takes the lock `request.key` when it is free, already ours (same owner), or
   * `canTakeOver(holder)` says the holder is gone. The check and the write are one
   * transaction, so two processes never both acquire.
   */
  tryAcquireLock(request: LockRequest, canTakeOver: (holder: LockRecord) => boolean): LockAttempt;
  /** Moves heartbeatAt; false when the lock is no longer ours. */
  heartbeatLock(key: string, owner: string, at: string): boolean;
  /** Deletes the lock when it is ours (or unconditionally when `owner` is undefined); true when a row went. */
  releaseLock(key: string, owner: string | undefined): boolean;
  getLock(key: string): LockRecord | undefined;
  listLocks(): LockRecord[];

  /**
   * Runs `fn` atomically: everything it writes is committed together or not at
   * all (a throw rolls back and rethrows). Nested calls join the outer one.
   * `fn` must be synchronous; returning a promise throws StoreError.
   */
  transaction<T>(fn: () => T): T;

  /** The dispatcher's task ledger in this database: the one home of task idempotency (see task-ledger.ts). */
  readonly tasks: TaskLedger;
  /**
   * Folds the write-ahead log back into the database and truncates it (at the
   * end of a run and before big writes), so a disk that fills up later does
   * not find a grown state.db-wal in its way. Best effort: never throws.
   */
  checkpoint(): void;

  close(): void;
}
