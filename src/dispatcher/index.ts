/** The Task Dispatcher: task sources, the dispatch loop, and their types. No terminal output here (see src/cli/). */
export { dispatch } from './dispatch.js';
export {
  DISPATCH_TASKS_FORMATS,
  DISPATCH_TASKS_VAR,
  envTaskSource,
  listTaskSource,
  parseDispatchTasks,
  taskContentId,
} from './env-source.js';
export type { ListTaskResult, ListTaskSource } from './env-source.js';
export type {
  DispatchEvent,
  DispatchOptions,
  DispatchOutcome,
  DispatchSummary,
  DispatchSummaryRow,
  DispatchTask,
  RunTask,
  SourcedTask,
  TaskSource,
} from './types.js';
