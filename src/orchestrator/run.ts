import fs from 'node:fs';
import path from 'node:path';
import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { loadConfig, requireBaseDir, requireStateDir, type Config, type ConfigOverrides } from '../config/config.js';
import { AbortedError, ConfigError, UsageError, type OrchestratorError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { GatewayContext, CodexRunner } from '../tools/run-repo-command/gateway.js';
import { loadPolicy, summarizePolicy } from '../tools/run-repo-command/policy-file.js';
import { createRunRepoCommandTool } from '../tools/run-repo-command/tool.js';
import { runCodexFromGateway } from '../workers/codex/index.js';
import { classifyRunError } from './agent/api-errors.js';
import { commandFinishedEvent, now, type RunEvent, type RunEventListener, type RunOutcome } from './events.js';
import { mainHistory, takeSnapshot } from './report/git-snapshot.js';
import { createModelProvider } from './agent/model-client.js';
import { loadOrchestratorPrompt } from './agent/prompts.js';
import { buildReport, type CommandRecord, type RunReport } from './report/report.js';
import { renderReportMarkdown } from './report/report-text.js';
import { InflightTools } from './agent/inflight.js';
import { createPlanTools, planReportSection } from './agent/plan-tools.js';
import { createReviewer } from './review/reviewer.js';
import { ensureRunDir, type Store } from '../store/index.js';
import { observeModelProvider, observeTools, ConversationJournal, parseConversation } from './agent/conversation.js';
import { readDecisionsFile } from './plan/decisions-log.js';
import { loadManifestFile } from './plan/manifest-file.js';
import { prepareResume } from './session/recovery.js';
import { beginRun, initialSnapshot, recordCommand, slimRecord, storedRecords, storedTurns, syncMerges } from './session/run-record.js';

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
  /** The run store (default: SQLite in the state dir, `openSqliteStore(stateDir)`); a given store is not closed. */
  store?: Store;
  /**
   * Resume this run (an id or a prefix) instead of starting one: use `resumeRun`
   * (resume.ts), which fills task and base dir from the store.
   */
  resume?: string;
  /** Replace the codex worker layer (tests, embedding). */
  runCodex?: CodexRunner;
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
 * A resumed run whose earlier process used the plan road: the plan tools get
 * the saved `<runDir>/manifest.json` back (and what the conversation says
 * about submit_plan / run_plan), so a cut-off run_plan is resumed by the
 * executor instead of the model resubmitting. Returns false when there is no
 * (readable) manifest: the plan tools start empty.
 */
function restorePlanTools(planTools: ReturnType<typeof createPlanTools>, runDir: string, agentState: string | undefined, log: Logger): boolean {
  const manifestFile = path.join(runDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return false;
  let manifest;
  try {
    manifest = loadManifestFile(manifestFile);
  } catch (error) {
    log.error({ err: error }, 'the saved manifest.json cannot be read; the plan tools start empty');
    return false;
  }
  const executed = readDecisionsFile(path.join(runDir, 'decisions.jsonl')).length > 0 || manifest.phases.some((p) => p.tasks.some((t) => t.status !== 'pending'));
  planTools.restore({ manifest, manifestFile, items: parseConversation(agentState) ?? [], executed });
  return true;
}

/**
 * Runs the Orchestrator Agent on a task. Rejects only when the run cannot start
 * (bad task, config, base dir, prompt or policy file, a base dir or run held by
 * another live process); once it has started it always resolves with a
 * RunReport whose `status` and `error` say how it ended, and whose files
 * (report.json, report.md, events.jsonl) are in the run directory.
 *
 * The run is durable: the store (state.db) gets the run and its status, every
 * command, worker, merge and event, and the agent's conversation, each written
 * before the step it records is reported done — so `resumeRun` can continue it
 * after the process is killed at any point.
 */
export async function runOrchestrator(options: RunOrchestratorOptions): Promise<RunReport> {
  const task = (options.task ?? '').trim();
  if (task === '') throw new UsageError('the task is empty', { hint: 'say what the workers should do, e.g. codex-orch run "add a --verbose flag"' });
  const config = resolveConfig(options);
  const baseDir = requireBaseDir(config);
  checkMainRepo(baseDir);
  const stateDir = requireStateDir(config);
  const policy = loadPolicy(config.policyFile);
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });

  // The run's own controller: the caller's signal aborts it, and so does losing the run's lock.
  const controller = new AbortController();
  const active = beginRun({
    ...(options.store ? { store: options.store } : {}),
    stateDir,
    baseDir,
    task,
    model: config.model,
    dryRun: config.dryRun,
    ...(options.resume !== undefined ? { resume: options.resume } : {}),
    onLost: (error) => {
      logger.error({ err: error }, 'the run lock was taken by another process; stopping');
      controller.abort();
    },
  });
  try {
    return await driveRun(options, { task, config, baseDir, stateDir, policy, logger, controller, active });
  } finally {
    active.release();
  }
}

async function driveRun(
  options: RunOrchestratorOptions,
  ctx: {
    task: string;
    config: Config;
    baseDir: string;
    stateDir: string;
    policy: ReturnType<typeof loadPolicy>;
    logger: Logger;
    controller: AbortController;
    active: ReturnType<typeof beginRun>;
  },
): Promise<RunReport> {
  const { task, config, baseDir, stateDir, policy, controller } = ctx;
  const { store, resumed } = ctx.active;
  const runId = ctx.active.run.id;
  const runDir = ensureRunDir(stateDir, runId).root;
  const log = ctx.logger.child({ runId });
  const eventsFile = path.join(runDir, 'events.jsonl');
  /** Store first, then events.jsonl, then the listener; `extra` goes to the store only. */
  const emit = (event: RunEvent | { type: string; ts: string; [key: string]: unknown }, extra: Record<string, unknown> = {}) => {
    try {
      store.appendEvent(runId, { type: event.type, ts: event.ts, data: { ...event, ...extra } });
    } catch (error) {
      log.error({ err: error }, 'cannot record an event in the store');
    }
    fs.appendFileSync(eventsFile, `${JSON.stringify(event)}\n`);
    try {
      options.onEvent?.(event as RunEvent);
    } catch (error) {
      log.warn({ err: error }, 'onEvent listener threw');
    }
  };

  // What earlier processes of this run did (a resume): the report covers the whole run.
  const priorRecords = resumed ? storedRecords(store, runId) : [];
  const priorTurns = resumed ? storedTurns(store, runId) : 0;
  const current = await takeSnapshot(baseDir);
  const before = (resumed ? initialSnapshot(store, runId) : undefined) ?? current;
  const instructions = loadOrchestratorPrompt({
    baseDir,
    mainBranch: current.mainBranch,
    worktrees: current.worktrees.length ? current.worktrees.map((w) => `\`${w}\``).join(', ') : '(none)',
    branches: current.branches.length ? current.branches.map((b) => `\`${b}\``).join(', ') : '(none)',
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
  const journal = new ConversationJournal(store, runId);
  let turn = priorTurns;
  const modelProvider = observeModelProvider(provider, {
    onRequest: (request) => journal.recordRequest(request.input),
    onResponse: (request, response) => {
      journal.recordResponse(request.input, response);
      store.addRunTokens(runId, { input: response.usage.inputTokens, output: response.usage.outputTokens });
      emit({ type: 'agent.turn', ts: now(), turn: ++turn });
    },
  });

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
      const record = { request, result, entry };
      records.push(record);
      try {
        recordCommand(store, runId, request, result, entry, controller.signal.aborted);
      } catch (error) {
        log.error({ err: error }, 'cannot record a command in the store');
      }
      emit(commandFinishedEvent(request, result, entry), { record: slimRecord(record) });
    },
  };
  /** After every tool call, before its answer goes back to the model: merges, then the conversation. */
  const afterTool = async (call: { callId: string | undefined; name: string; input: string }, output: unknown) => {
    let worktree: unknown;
    try {
      worktree = (JSON.parse(call.input) as { worktree?: unknown }).worktree;
    } catch {
      worktree = undefined;
    }
    if (!config.dryRun && (call.name !== 'run_repo_command' || worktree === 'main')) {
      await syncMerges(store, runId, baseDir, before.head).catch((error: unknown) => log.warn({ err: error }, 'cannot record merges'));
    }
    if (call.callId) journal.recordToolResult(call.callId, call.name, typeof output === 'string' ? output : JSON.stringify(output));
  };
  // The plan road beside run_repo_command: submit_plan / run_plan; a second agent reviews each subtask.
  const planTools = createPlanTools({
    config,
    baseDir,
    runId,
    runDir,
    gateway,
    review: createReviewer(config, { signal: controller.signal, logger: log }),
    signal: controller.signal,
    logger: log,
    onEvent: emit,
    store,
  });
  const inflight = new InflightTools();
  const agent = new Agent({
    name: 'Orchestrator',
    instructions,
    model: config.model,
    modelSettings: {
      ...(config.reasoningEffort ? { reasoning: { effort: config.reasoningEffort } } : {}),
      ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    },
    tools: inflight.wrap(observeTools([createRunRepoCommandTool(gateway), ...planTools.tools], afterTool)),
  });
  const runner = new Runner({ modelProvider, tracingDisabled: config.disableTracing, workflowName: 'codex-orchestrator run' });

  const startedAt = resumed ? new Date(ctx.active.run.createdAt) : new Date();
  if (resumed) {
    const took = ctx.active.tookOver;
    emit({ type: 'run.resumed', ts: now(), runId, pid: process.pid, ...(took ? { tookOverFrom: { pid: took.pid, reason: took.reason, heartbeatAt: took.heartbeatAt } } : {}) });
    log.info({ task, baseDir, tookOver: took }, 'run resumed');
  } else {
    emit({ type: 'run.started', ts: now(), runId, task, baseDir, dryRun: config.dryRun, model: config.model }, { snapshot: before });
    fs.writeFileSync(path.join(runDir, 'task.md'), `${task}\n`);
    log.info({ task, baseDir, model: config.model, dryRun: config.dryRun }, 'run started');
  }

  let status: RunOutcome = 'succeeded';
  let finalText = '';
  let failure: OrchestratorError | null = null;
  let usage = { input: 0, output: 0, requests: 0 };
  try {
    if (controller.signal.aborted) throw new AbortedError('the run was interrupted before it started');
    let input: string | AgentInputItem[] = task;
    if (resumed) {
      const run = store.requireRun(runId);
      const restoredPlan = restorePlanTools(planTools, runDir, run.agentState, log);
      const prepared = await prepareResume({
        store,
        run,
        stateDir,
        gateway,
        worktrees: current.worktrees,
        logger: log,
        ...(restoredPlan ? { resumeRunPlan: planTools.resumeCutOffRunPlan } : {}),
      });
      input = prepared.items;
      journal.append(...prepared.items);
      emit({
        type: 'run.recovered',
        ts: now(),
        runId,
        conversationRestored: prepared.summary.conversationRestored,
        workers: prepared.summary.workers.map((w) => ({ workerId: w.workerId, status: w.status, threadId: w.threadId, killed: w.killed })),
        answered: prepared.summary.answered,
      });
      if (controller.signal.aborted) throw new AbortedError('the run was interrupted');
    }
    const result = await runner.run(agent, input, { maxTurns: config.maxTurns, signal: controller.signal });
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
  // Tool calls of the last turn may still be stopping their commands and workers.
  const stillRunning = await inflight.settle(30_000);
  if (stillRunning > 0) log.warn({ stillRunning }, 'tool calls still running 30 s after the run ended');
  if (usage.requests === 0) usage.requests = requests;
  // Tokens of every process of the run, as the store counted them per model response.
  const stored = store.requireRun(runId);
  usage = { input: stored.tokens.input, output: stored.tokens.output, requests: priorTurns + usage.requests };

  if (!config.dryRun) await syncMerges(store, runId, baseDir, before.head).catch((error: unknown) => log.warn({ err: error }, 'cannot record merges'));
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
    records: [...priorRecords, ...records],
    before,
    after,
    history,
    orchestratorUsage: usage,
    finalText,
    error: failure ? { kind: failure.kind, message: failure.toLine() } : null,
    runDir,
    plan: planReportSection(planTools.state),
  });
  fs.writeFileSync(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(runDir, 'report.md'), renderReportMarkdown(report));
  store.updateRun(runId, {
    status,
    error: failure ? failure.toLine() : null,
    summary: finalText ? finalText.slice(0, 2000) : null,
    finishedAt: finishedAt.toISOString(),
  });
  emit({ type: 'run.finished', ts: now(), runId, status, wallTimeMs: report.wallTimeMs });
  log.info({ status, wallTimeMs: report.wallTimeMs, merges: report.merges.length }, 'run finished');
  return report;
}
