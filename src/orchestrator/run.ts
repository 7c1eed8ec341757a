import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, Runner } from '@openai/agents';
import { loadConfig, requireBaseDir, requireStateDir, type Config, type ConfigOverrides } from '../config/config.js';
import { AbortedError, ConfigError, UsageError, type OrchestratorError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { GatewayContext, CodexRunner } from '../tools/run-repo-command/gateway.js';
import { loadPolicy, summarizePolicy } from '../tools/run-repo-command/policy-file.js';
import { createRunRepoCommandTool } from '../tools/run-repo-command/tool.js';
import { runCodexFromGateway } from '../workers/codex/index.js';
import { classifyRunError } from './api-errors.js';
import { now, type RunEvent, type RunEventListener, type RunStatus } from './events.js';
import { mainHistory, takeSnapshot } from './git-snapshot.js';
import { createModelProvider } from './model-client.js';
import { loadOrchestratorPrompt } from './prompts.js';
import { buildReport, type CommandRecord, type RunReport } from './report.js';
import { renderReportMarkdown } from './report-text.js';

export interface RunOrchestratorOptions {
  /** The task, in the person's words. */
  task: string;
  /** Absolute base dir holding main/ (default: ORCHESTRATOR_BASE_DIR). */
  baseDir?: string;
  /** Orchestrator model (default: ORCHESTRATOR_MODEL). */
  model?: string;
  /** Check and log every command, execute none (default: ORCHESTRATOR_DRY_RUN). */
  dryRun?: boolean;
  maxTurns?: number;
  /** Abort the run: in-flight commands and workers are killed, state and report are written. */
  signal?: AbortSignal;
  /** Progress events, as they happen. */
  onEvent?: RunEventListener;
  /** A ready config; when absent it is loaded from env and .env, with the options above as overrides. */
  config?: Config;
  /** Environment for loading config (default process.env). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Replace the codex worker layer (tests, embedding). */
  runCodex?: CodexRunner;
}

function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${t}-${crypto.randomBytes(3).toString('hex')}`;
}

function resolveConfig(options: RunOrchestratorOptions): Config {
  if (options.config) return options.config;
  const overrides: ConfigOverrides = {
    ORCHESTRATOR_BASE_DIR: options.baseDir,
    ORCHESTRATOR_MODEL: options.model,
    ...(options.dryRun !== undefined ? { ORCHESTRATOR_DRY_RUN: options.dryRun ? '1' : '0' } : {}),
    ...(options.maxTurns !== undefined ? { ORCHESTRATOR_MAX_TURNS: String(options.maxTurns) } : {}),
  };
  return loadConfig({ ...(options.env ? { env: options.env } : {}), overrides });
}

function checkMainRepo(baseDir: string): void {
  const main = path.join(baseDir, 'main');
  if (!fs.existsSync(main)) {
    throw new ConfigError(`${baseDir} has no main/ directory`, {
      variable: 'ORCHESTRATOR_BASE_DIR',
      hint: `clone or move your repository to ${main}; task worktrees are created beside it`,
    });
  }
  if (!fs.existsSync(path.join(main, '.git'))) {
    throw new ConfigError(`${main} is not a git repository`, { variable: 'ORCHESTRATOR_BASE_DIR', hint: 'main/ must be a git checkout (git init or git clone)' });
  }
}

/**
 * Runs the Orchestrator Agent on a task. Rejects only when the run cannot start
 * (bad task, config, base dir, prompt or policy file); once it has started it
 * always resolves with a RunReport whose `status` and `error` say how it ended,
 * and whose files (report.json, report.md, events.jsonl) are in the run directory.
 */
export async function runOrchestrator(options: RunOrchestratorOptions): Promise<RunReport> {
  const task = (options.task ?? '').trim();
  if (task === '') throw new UsageError('the task is empty', { hint: 'say what the workers should do, e.g. codex-orch run "add a --verbose flag"' });
  const config = resolveConfig(options);
  const baseDir = requireBaseDir(config);
  checkMainRepo(baseDir);
  const stateDir = requireStateDir(config);
  const policy = loadPolicy(config.policyFile);
  const runId = newRunId();
  const runDir = path.join(stateDir, 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });
  const log = logger.child({ runId });
  const eventsFile = path.join(runDir, 'events.jsonl');
  const emit = (event: RunEvent) => {
    fs.appendFileSync(eventsFile, `${JSON.stringify(event)}\n`);
    try {
      options.onEvent?.(event);
    } catch (error) {
      log.warn({ err: error }, 'onEvent listener threw');
    }
  };

  const before = await takeSnapshot(baseDir);
  const instructions = loadOrchestratorPrompt({
    baseDir,
    mainBranch: before.mainBranch,
    worktrees: before.worktrees.length ? before.worktrees.map((w) => `\`${w}\``).join(', ') : '(none)',
    branches: before.branches.length ? before.branches.map((b) => `\`${b}\``).join(', ') : '(none)',
    runId,
    dryRunNote: config.dryRun ? '\n- DRY RUN: every command is checked and logged but none is executed; plan as usual.' : '',
    policySummary: summarizePolicy(policy),
  });
  let requests = 0;
  const { provider } = createModelProvider(config, {
    onResponse: (status, attempt) => {
      requests++;
      if (status === 429 || status >= 500) emit({ type: 'model.retry', ts: now(), attempt, status, delayMs: 0 });
    },
  });

  // The run's own controller: the caller's signal aborts it, and so does nothing else.
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const records: CommandRecord[] = [];
  const gateway: GatewayContext = {
    config,
    baseDir,
    policy,
    logger: log,
    runId,
    signal: controller.signal,
    runCodex: options.runCodex ?? runCodexFromGateway,
    plannedWorktrees: new Set<string>(),
    onStart: (request) => emit({ type: 'command.started', ts: now(), worktree: request.worktree, command: request.command }),
    onRecord: (request, result, entry) => {
      records.push({ request, result, entry });
      emit({
        type: 'command.finished',
        ts: now(),
        worktree: request.worktree,
        command: request.command,
        allowed: entry.allowed,
        rule: entry.rule,
        exitCode: entry.exitCode,
        durationMs: entry.durationMs,
        dryRun: entry.dryRun,
        ...(result.worker ? { worker: { status: result.worker.status, goalMet: result.worker.goalMet, summary: result.worker.summary } } : {}),
      });
    },
  };
  const agent = new Agent({
    name: 'Orchestrator',
    instructions,
    model: config.model,
    modelSettings: {
      ...(config.reasoningEffort ? { reasoning: { effort: config.reasoningEffort } } : {}),
      ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    },
    tools: [createRunRepoCommandTool(gateway)],
  });
  const runner = new Runner({ modelProvider: provider, tracingDisabled: config.disableTracing, workflowName: 'codex-orchestrator run' });

  const startedAt = new Date();
  emit({ type: 'run.started', ts: now(), runId, task, baseDir, dryRun: config.dryRun, model: config.model });
  fs.writeFileSync(path.join(runDir, 'task.md'), `${task}\n`);
  log.info({ task, baseDir, model: config.model, dryRun: config.dryRun }, 'run started');

  let status: RunStatus = 'succeeded';
  let finalText = '';
  let failure: OrchestratorError | null = null;
  let usage = { input: 0, output: 0, requests: 0 };
  try {
    if (controller.signal.aborted) throw new AbortedError('the run was interrupted before it started');
    const result = await runner.run(agent, task, { maxTurns: config.maxTurns, signal: controller.signal });
    finalText = typeof result.finalOutput === 'string' ? result.finalOutput : JSON.stringify(result.finalOutput ?? '');
    const u = result.state.usage;
    usage = { input: u.inputTokens, output: u.outputTokens, requests: u.requests };
    if (controller.signal.aborted) throw new AbortedError('the run was interrupted');
  } catch (error) {
    failure = classifyRunError(error, config, controller.signal);
    status = failure.kind === 'aborted' ? 'aborted' : 'failed';
    log.error({ err: error, kind: failure.kind }, 'run ended with an error');
    emit({ type: 'run.error', ts: now(), runId, kind: failure.kind, message: failure.message });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (usage.requests === 0) usage.requests = requests;

  const after = await takeSnapshot(baseDir);
  const history = await mainHistory(baseDir, before.head, after.head);
  const finishedAt = new Date();
  const report = buildReport({
    runId,
    task,
    baseDir,
    model: config.model,
    dryRun: config.dryRun,
    status,
    startedAt,
    finishedAt,
    records,
    before,
    after,
    history,
    orchestratorUsage: usage,
    finalText,
    error: failure ? { kind: failure.kind, message: failure.toLine() } : null,
    runDir,
  });
  fs.writeFileSync(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(runDir, 'report.md'), renderReportMarkdown(report));
  emit({ type: 'run.finished', ts: now(), runId, status, wallTimeMs: report.wallTimeMs });
  log.info({ status, wallTimeMs: report.wallTimeMs, merges: report.merges.length }, 'run finished');
  return report;
}
