/** The Task Dispatcher: task sources, the dispatch loop, and their types. No terminal output here (see src/cli/). */
export { busyDelay, dispatch, isInterrupted } from './dispatch.js';
export {
  DISPATCH_TASKS_FORMATS,
  DISPATCH_TASKS_VAR,
  envTaskSource,
  isValidTaskId,
  listTaskSource,
  parseDispatchTasks,
  parseTaskObject,
  taskContentId,
} from './env-source.js';
export type { ListTaskResult, ListTaskSource } from './env-source.js';
export {
  DEFAULT_INBOX_MAX_BYTES,
  DEFAULT_INBOX_POLL_MS,
  INBOX_DIRS,
  inboxTaskSource,
  parseInboxFile,
  type InboxResult,
  type InboxSourceOptions,
  type InboxTaskSource,
} from './inbox-source.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  DISPATCH_TOKEN_VAR,
  httpTaskSource,
  tokenMatches,
  type HttpSourceOptions,
  type HttpTaskSource,
  type IntakeRecord,
  type IntakeState,
  type KnownTask,
} from './http-source.js';
export {
  createMemoryLedger,
  duplicateOutcome,
  ledgerSet,
  openDispatchLedger,
  runToResume,
  withIdempotency,
  type DispatchLedger,
  type IdempotencyOptions,
  type LedgerClaim,
  type LedgerEntry,
  type LedgerOptions,
  type LedgerSet,
  type LedgerState,
} from './ledger.js';
export { mergeSources } from './merge-sources.js';
export type {
  DispatchEvent,
  DispatchOptions,
  DispatchOutcome,
  DispatchSummary,
  DispatchSummaryRow,
  DispatchTask,
  OutcomeFailure,
  RunnableTask,
  RunTask,
  RunTaskContext,
  SourcedTask,
  TaskSource,
} from './types.js';
