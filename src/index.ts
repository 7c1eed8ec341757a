/**
 * The public API of codex-orchestrator. Everything a program embedding it may
 * use is exported here by name; anything else is internal and may change.
 */
export { runOrchestrator } from './orchestrator/run.js';
export type { RunOrchestratorOptions } from './orchestrator/run.js';
export type { RunReport, ReportCommand, ReportWorker, ReportTest, ReportMerge } from './orchestrator/report/report.js';
export type { RunEvent, RunEventListener, RunOutcome } from './orchestrator/events.js';
export { renderReportMarkdown } from './orchestrator/report/report-text.js';
export { makeRunTask } from './orchestrator/run-task.js';

export { loadConfig, withBaseDir } from './config/config.js';
export type { Config, ConfigOverrides, LoadConfigOptions } from './config/config.js';

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
  isOrchestratorError,
} from './errors.js';
export type { ErrorKind } from './errors.js';

export { runRepoCommand } from './tools/run-repo-command/gateway.js';
export type { GatewayContext, CodexRunner } from './tools/run-repo-command/gateway.js';
export { createRunRepoCommandTool } from './tools/run-repo-command/tool.js';
export { checkCommand } from './tools/run-repo-command/policy/index.js';
export { loadPolicy, summarizePolicy } from './tools/run-repo-command/policy-file.js';
export type { Policy } from './tools/run-repo-command/policy-file.js';
export type { CommandRequest, CommandResult, PolicyDecision, CommandLogEntry } from './tools/run-repo-command/types.js';

export { dispatch, envTaskSource, listTaskSource, parseDispatchTasks } from './dispatcher/index.js';
export type { DispatchTask, DispatchOutcome, DispatchSummary, RunTask, TaskSource, SourcedTask } from './dispatcher/index.js';
export { githubTaskSource, type GitHubSourceOptions } from './dispatcher/github-source.js';
export { mcpServerFactory, serveMcpStdio, type McpServerOptions } from './mcp/server.js';
export { serveMcpHttp } from './mcp/http.js';

export { resumeRun } from './orchestrator/resume.js';
export type { ResumeRunOptions } from './orchestrator/resume.js';
export { executePlan } from './orchestrator/plan/execute-plan.js';
export type { PlanRunContext, PlanRunResult, SubtaskSummary } from './orchestrator/plan/execute-plan.js';
export { runPlanManifest } from './orchestrator/run-plan.js';
export type { RunManifestOptions, RunManifestResult } from './orchestrator/run-plan.js';
export { createReviewer } from './orchestrator/review/reviewer.js';
export type { ReviewFn, ReviewInput, ReviewVerdict } from './orchestrator/review/types.js';
export { validatePlan, createSchedule, nextRunnable, simulate } from './scheduler/index.js';
export type { Plan, PlanTask, Manifest, ManifestTask, TaskStatus } from './scheduler/index.js';

export { openSqliteStore, openStore } from './store/index.js';
export type { Store, RunRecord } from './store/index.js';

export { runCodexWorker, resolveCodexBinary, detectCapabilities } from './workers/codex/index.js';
export type { WorkerRun, WorkerResult, CodexEvent } from './workers/codex/index.js';
