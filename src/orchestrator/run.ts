import fs from 'node:fs';
import path from 'node:path';
import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { loadConfig, requireBaseDir, requireStateDir, type Config, type ConfigOverrides } from '../config/config.js';
import { AbortedError, ConfigError, UsageError, type OrchestratorError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { CodexRunner } from '../tools/run-repo-command/gateway.js';
import { loadPolicy, summarizePolicy } from '../tools/run-repo-command/policy-file.js';
import { createRunRepoCommandTool } from '../tools/run-repo-command/tool.js';
import { runCodexFromGateway } from '../workers/codex/index.js';
import { classifyRunError } from './agent/api-errors.js';
import { now, type RunEventListener, type RunOutcome } from './events.js';
import { createModelProvider, modelSettingsOf } from './agent/model-client.js';
import { loadOrchestratorPrompt } from './agent/prompts.js';
import type { RunReport } from './report/report.js';
import { InflightTools } from './agent/inflight.js';
import { createPlanTools, planReportSection } from './agent/plan-tools.js';
import { createReviewer } from './review/reviewer.js';
import type { PlanBudgets } from './plan/budgets.js';
import type { Store } from '../store/index.js';
import { observeModelProvider, observeTools, ConversationJournal, parseConversation } from './agent/conversation.js';
import { readDecisionsFile } from './plan/decisions-log.js';
import { loadManifestFile } from './plan/manifest-file.js';
import { prepareResume } from './session/recovery.js';
import { storedTurns } from './session/run-record.js';
import { openRunSession, type RunSession } from './session/run-session.js';

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
  /** Budgets of the plans the orchestrator runs (run_plan): wall time, tokens, cost, worker launches. */
  budgets?: PlanBudgets;
}

function resolveConfig(options: RunOrchestratorOptions): Config {
  if (options.config) return options.config;
  const overrides: ConfigOverrides = {
    ORCHESTRATOR_BASE_DIR: options.baseDir,
    ORCHESTRATOR_MODEL: options.model,
    ORCHESTRATOR_DRY_RUN: options.dryRun === undefined ? undefined : options.dryRun ? '1' : '0',
    ORCHESTRATOR_MAX_TURNS: options.maxTurns === undefined ? undefined : String(options.maxTurns),
  };
  return loadConfig({ env: options.env, overrides });
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
    throw new ConfigError(`${main} is not a git repository`, {
      variable: 'ORCHESTRATOR_BASE_DIR',
      hint: 'main/ must be a git checkout (git init or git clone)',
    });
  }
}

/**
 * A resumed run whose earlier process used the plan road: the plan tools get
 * the saved `<runDir>/manifest.json` back (and what the conversation says
 * about submit_plan / run_plan), so a cut-off run_plan is resumed by the
 * executor instead of the model resubmitting. Returns false when there is no
 * (readable) manifest: the plan tools start empty.
 */
function restorePlanTools(
  planTools: ReturnType<typeof createPlanTools>,
  runDir: string,
  agentState: string | undefined,
  log: Logger,
): boolean {
  const manifestFile = path.join(runDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return false;
  let manifest;
  try {
    manifest = loadManifestFile(manifestFile);
  } catch (error) {
    log.error({ err: error }, 'the saved manifest.json cannot be read; the plan tools start empty');
    return false;
  }
  const executed =
    readDecisionsFile(path.join(runDir, 'decisions.jsonl')).length > 0 ||
    manifest.phases.some((p) => p.tasks.some((t) => t.status !== 'pending'));
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
  if (task === '' && options.resume === undefined)
    throw new UsageError('the task is empty', { hint: 'say what the workers should do, e.g. codex-orch run "add a --verbose flag"' });
  const config = resolveConfig(options);
  const baseDir = requireBaseDir(config);
  checkMainRepo(baseDir);
  const stateDir = requireStateDir(config);
  const policy = loadPolicy(config.policyFile);
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });
  const session = await openRunSession({
    config,
    task,
    road: 'agent',
    logger,
    runCodex: options.runCodex ?? runCodexFromGateway,
    store: options.store,
    resume: options.resume,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  try {
    return await agentRoad(session, policy, options.budgets);
  } finally {
    session.release();
  }
}

/** The agent road over a session: the Orchestrator Agent's loop, with the plan tools beside run_repo_command. */
async function agentRoad(session: RunSession, policy: ReturnType<typeof loadPolicy>, budgets: PlanBudgets | undefined): Promise<RunReport> {
  const { config, baseDir, stateDir, store, resumed, runId, runDir, controller, gateway, emit, current, task } = session;
  const log = session.logger;
  const priorTurns = resumed ? storedTurns(store, runId) : 0;
  gateway.plannedWorktrees = new Set<string>();
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
      const cachedInput =
        (response.usage as { inputTokensDetails?: { cached_tokens?: number }[] }).inputTokensDetails?.[0]?.cached_tokens ?? 0;
      emit({
        type: 'agent.turn',
        ts: now(),
        turn: ++turn,
        usage: { input: response.usage.inputTokens, cachedInput, output: response.usage.outputTokens },
      });
    },
  });

  /** After every tool call, before its answer goes back to the model: merges, then the conversation. */
  const afterTool = async (call: { callId: string | undefined; name: string; input: string }, output: unknown) => {
    let worktree: unknown;
    try {
      worktree = (JSON.parse(call.input) as { worktree?: unknown }).worktree;
    } catch {
      worktree = undefined;
    }
    if (call.name !== 'run_repo_command' || worktree === 'main') await session.syncMerges();
    if (call.callId) journal.recordToolResult(call.callId, call.name, typeof output === 'string' ? output : JSON.stringify(output));
  };
  // The plan road beside run_repo_command: submit_plan / run_plan; a second agent reviews each subtask.
  const planTools = createPlanTools({
    budgets,
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
    modelSettings: modelSettingsOf(config),
    tools: inflight.wrap(observeTools([createRunRepoCommandTool(gateway), ...planTools.tools], afterTool)),
  });
  const runner = new Runner({ modelProvider, tracingDisabled: config.disableTracing, workflowName: 'codex-orchestrator run' });

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
        resumeRunPlan: restoredPlan ? planTools.resumeCutOffRunPlan : undefined,
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
  }
  // Tool calls of the last turn may still be stopping their commands and workers.
  const stillRunning = await inflight.settle(30_000);
  if (stillRunning > 0) log.warn({ stillRunning }, 'tool calls still running 30 s after the run ended');
  if (usage.requests === 0) usage.requests = requests;
  // Tokens of every process of the run, as the store counted them per model response.
  const stored = store.requireRun(runId);
  usage = { input: stored.tokens.input, output: stored.tokens.output, requests: priorTurns + usage.requests };
  return session.finish({ status, error: failure, finalText, usage, plan: planReportSection(planTools.state) });
}
