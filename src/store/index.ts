/** Every type of the store's interface (records, inputs, statuses). */
export type * from './types.js';
export { FINISHED_RUN_STATUSES, MERGE_OUTCOMES, RUN_STATUSES, SUBTASK_STATUSES, WORKER_STATUSES } from './types.js';
export {
  RETRYABLE_FAILURES,
  TASK_FAILURES,
  decideClaim,
  type IntakeEntry,
  type TaskClaim,
  type TaskEntry,
  type TaskFailure,
  type TaskLedger,
  type TaskLedgerOptions,
  type TaskOutcome,
  type TaskState,
} from './task-ledger.js';
export { openSqliteStore, openStore, STATE_DB, type SqliteStoreOptions, type StoreTarget } from './sqlite-store.js';

export { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion, type Migration } from './migrations.js';
export {
  DEFAULT_STALE_AFTER_MS,
  acquireBaseDirLock,
  assertBaseDirFree,
  acquireRunLock,
  baseDirLockKey,
  isPidAlive,
  lockStaleness,
  normalizeBaseDir,
  pruneStaleLocks,
  runLockKey,
  type LockHandle,
  type LockOptions,
  type LockTakeover,
  type StaleReason,
  type StalenessOptions,
} from './run-lock.js';
export {
  RUN_ID_PATTERN,
  appendJsonLine,
  ensureRunDir,
  newRunId,
  readJsonFile,
  runDir,
  runsRoot,
  writeFileAtomic,
  writeJsonAtomic,
  type RunDirPaths,
} from './run-dir.js';
