/**
 * The public API of codex-orchestrator: the run functions, the dispatcher and
 * its task sources, the guard, the run store, the approval gate, the report
 * and event types, and the error classes. Everything else is internal and may
 * change; a new export here is a decision (test/integration/package.test.ts
 * checks the exact list).
 */
export { runOrchestrator, type RunOrchestratorOptions } from './orchestrator/run.js';
export {
  runPlanManifest as runPlan,
  type RunManifestOptions as RunPlanOptions,
  type RunManifestResult as RunPlanResult,
} from './orchestrator/run-plan.js';
export { resumeRun, type ResumeRunOptions } from './orchestrator/resume.js';
export { approveMerge, rejectMerge, pendingApprovals, type ApprovalResult, type PendingApproval } from './orchestrator/approval.js';
export type { RunReport, ReportCommand, ReportWorker, ReportTest, ReportMerge } from './orchestrator/report/report.js';
export { renderReportMarkdown } from './orchestrator/report/report-text.js';
export type { RunEvent, RunEventListener, RunOutcome } from './orchestrator/events.js';
export type { Manifest, ManifestTask, Plan, PlanTask, TaskStatus } from './scheduler/index.js';

export { loadConfig, type Config, type ConfigOverrides, type LoadConfigOptions } from './config/config.js';

export { dispatch, envTaskSource, listTaskSource } from './dispatcher/index.js';
export type { DispatchTask, DispatchOutcome, DispatchSummary, RunTask, TaskSource, SourcedTask } from './dispatcher/index.js';
export { githubTaskSource, type GitHubSourceOptions } from './dispatcher/github-source.js';
export { makeRunTask } from './orchestrator/run-task.js';

export { checkCommand } from './tools/run-repo-command/policy/index.js';
export type { CommandRequest, CommandResult, PolicyDecision, CommandClass } from './tools/run-repo-command/types.js';
export { runRepoCommand, type GatewayContext } from './tools/run-repo-command/gateway.js';
export { createRunRepoCommandTool } from './tools/run-repo-command/tool.js';

export { openStore, type Store, type StoreTarget, type RunRecord } from './store/index.js';

export { serveMcpStdio } from './mcp/server.js';

export {
  OrchestratorError,
  UsageError,
  ConfigError,
  PolicyDeniedError,
  CommandFailedError,
  GitError,
  WorkerError,
  ModelApiError,
  RunFailedError,
  AbortedError,
  StoreError,
  DiskFullError,
  ApprovalError,
  QueueError,
  isOrchestratorError,
  describeError,
  type ErrorKind,
} from './errors.js';
