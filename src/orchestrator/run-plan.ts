/**
 * `codex-orch run --plan <manifest.json>`: runs a person's own plan with no
 * planning model (and with no review agent, no model at all), then writes the
 * same report as an orchestrator run, with the plan section.
 */
import fs from 'node:fs';
import path from 'node:path';
import { requireBaseDir, requireStateDir, type Config } from '../config/config.js';
import { ConfigError, isOrchestratorError, describeError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { Manifest } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { appendJsonLine, newRunId } from '../store/run-dir.js';
import type { GatewayContext } from '../tools/run-repo-command/gateway.js';
import { loadPolicy } from '../tools/run-repo-command/policy-file.js';
import { commandFinishedEvent, now, type RunEvent, type RunEventListener, type RunOutcome } from './events.js';
import { mainHistory, takeSnapshot } from './report/git-snapshot.js';
import { buildReport, type CommandRecord, type ReportInput, type RunReport } from './report/report.js';
import { renderReportMarkdown } from './report/report-text.js';
import type { ReviewFn } from './review/types.js';
import { executePlan, type PlanRunContext, type PlanRunResult } from './plan/execute-plan.js';

export interface RunManifestOptions {
  manifest: Manifest;
  config: Config;
  review?: ReviewFn;
  maxParallel?: number;
  budgets?: PlanRunContext['budgets'];
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  logger?: Logger;
  store?: Store;
  /** Extra environment for the codex workers. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Overrides for the executor (tests): stall timeout, dirty-main wait, bounds. */
  executor?: Partial<Pick<PlanRunContext, 'workerStallMs' | 'dirtyWaitMs' | 'dirtyPollMs' | 'maxHeals' | 'maxReviewRounds' | 'maxMergeAttempts' | 'maxAcceptanceFixes'>>;
}

export interface RunManifestResult {
  report: RunReport;
  result: PlanRunResult | null;
}

function checkMain(baseDir: string): void {
  const main = path.join(baseDir, 'main');
  if (!fs.existsSync(path.join(main, '.git'))) {
    throw new ConfigError(`${main} is not a git repository`, { variable: 'ORCHESTRATOR_BASE_DIR', hint: 'the base dir must hold your repository as main/' });
  }
}

/**
 * Rejects only when the run cannot start (base dir, policy, prompt templates,
 * repository settings); otherwise resolves with a report whose status is
 * `succeeded` only when every subtask was merged.
 */
export async function runPlanManifest(options: RunManifestOptions): Promise<RunManifestResult> {
  const { config } = options;
  const baseDir = requireBaseDir(config);
  checkMain(baseDir);
  const stateDir = requireStateDir(config);
  const policy = loadPolicy(config.policyFile);
  const runId = newRunId();
  const runDir = path.join(stateDir, 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });
  const log = logger.child({ runId });
  const eventsFile = path.join(runDir, 'events.jsonl');
  const emit = (event: RunEvent) => {
    appendJsonLine(eventsFile, event);
    try {
      options.onEvent?.(event);
    } catch (error) {
      log.warn({ err: error }, 'onEvent listener threw');
    }
  };
  const records: CommandRecord[] = [];
  const gateway: GatewayContext = {
    config,
    baseDir,
    policy,
    logger: log,
    runId,
    onStart: (request) => emit({ type: 'command.started', ts: now(), worktree: request.worktree, command: request.command }),
    onRecord: (request, result, entry) => {
      records.push({ request, result, entry });
      emit(commandFinishedEvent(request, result, entry));
    },
  };

  const before = await takeSnapshot(baseDir);
  const startedAt = new Date();
  const model = options.review ? `${config.model} (review only)` : 'none (--plan --no-review)';
  emit({ type: 'run.started', ts: now(), runId, task: options.manifest.task, baseDir, dryRun: false, model });
  fs.writeFileSync(path.join(runDir, 'task.md'), `${options.manifest.task}\n`);

  let result: PlanRunResult | null = null;
  let error: { kind: string; message: string } | null = null;
  try {
    result = await executePlan(options.manifest, {
      config,
      baseDir,
      runId,
      runDir,
      gateway,
      logger: log,
      onEvent: emit,
      ...(options.review ? { review: options.review } : {}),
      ...(options.maxParallel !== undefined ? { maxParallel: options.maxParallel } : {}),
      ...(options.budgets ? { budgets: options.budgets } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.workerEnv ? { workerEnv: options.workerEnv } : {}),
      ...options.executor,
    });
  } catch (e) {
    if (isOrchestratorError(e) && (e.kind === 'config' || e.kind === 'usage')) throw e;
    error = { kind: isOrchestratorError(e) ? e.kind : 'run', message: describeError(e) };
    log.error({ err: e }, 'plan run failed');
    emit({ type: 'run.error', ts: now(), runId, kind: error.kind, message: error.message });
  }

  let status: RunOutcome;
  if (result?.aborted) status = 'aborted';
  else if (result?.allMerged) status = 'succeeded';
  else status = 'failed';
  if (!error && result && !result.allMerged && !result.aborted) {
    error = {
      kind: 'run',
      message: `${result.left.length} of ${result.subtasks.length} subtask(s) not merged: ${result.left.map((l) => `${l.id} (${l.status})`).join(', ')}${result.stoppedBy ? `; stopped: ${result.stoppedBy}` : ''}`,
    };
  }
  if (result?.aborted) error = { kind: 'aborted', message: 'the plan run was interrupted' };

  const after = await takeSnapshot(baseDir);
  const history = await mainHistory(baseDir, before.head, after.head);
  const finishedAt = new Date();
  let plan: ReportInput['plan'];
  if (result) {
    const { manifest: _manifest, ...rest } = result;
    plan = { submissions: 0, rejections: [], status: 'finished', manifestFile: result.manifestFile, error: null, result: rest };
  } else {
    plan = { submissions: 0, rejections: [], status: 'failed', manifestFile: null, error: error?.message ?? null, result: null };
  }
  const report = buildReport({
    runId,
    task: options.manifest.task,
    baseDir,
    model,
    dryRun: false,
    status,
    startedAt,
    finishedAt,
    records,
    before,
    after,
    history,
    orchestratorUsage: { input: 0, output: 0, requests: 0 },
    finalText: result ? `Plan ${result.allMerged ? 'finished: every subtask merged' : `incomplete: ${result.subtasks.length - result.left.length}/${result.subtasks.length} merged`}.` : '',
    error,
    runDir,
    plan,
  });
  fs.writeFileSync(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(runDir, 'report.md'), renderReportMarkdown(report));
  emit({ type: 'run.finished', ts: now(), runId, status, wallTimeMs: report.wallTimeMs });
  return { report, result };
}
