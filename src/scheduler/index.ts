/** The planning and scheduling core: pure, no I/O. */
export {
  TASK_KINDS,
  TASK_STATUSES,
  planSchema,
  planPhaseSchema,
  planTaskSchema,
  manifestSchema,
  manifestPhaseSchema,
  manifestTaskSchema,
  submitPlanParameters,
  submitPlanToPlan,
  manifestFromPlan,
  planFromManifest,
  type TaskKind,
  type TaskStatus,
  type Plan,
  type PlanPhase,
  type PlanTask,
  type PlanInput,
  type Manifest,
  type ManifestPhase,
  type ManifestTask,
  type SubmitPlanArgs,
} from './plan-schema.js';
export { validatePlan, validateManifest, globProblem, formatPath, type ValidationResult } from './validate-plan.js';
export { taskSlug, taskWorktreeName, isSlugSafeId, TASK_ID_PATTERN, TASK_ID_MAX_LENGTH } from './task-slug.js';
export { globsOverlap, globPairOverlaps, globMatches, isLiteralGlob, normalizeGlob } from './overlap.js';
export {
  createSchedule,
  nextRunnable,
  apply,
  isDone,
  summary,
  statusOf,
  openPhase,
  whyNotRunnable,
  scheduleEvent,
  ScheduleError,
  type Gate,
  type ScheduleOptions,
  type ScheduleState,
  type ScheduleGraph,
  type ScheduleEvent,
  type ScheduleSummary,
  type TaskState,
} from './scheduler.js';
export { simulate, criticalPath, type SimulateOptions, type SimulatedTask, type SimulationResult } from './simulate.js';
