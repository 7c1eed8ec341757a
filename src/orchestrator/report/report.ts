import { loadPrices, priceRunUsage, type PriceTable, type RunUsage } from '../../cost/index.js';
import type { Config } from '../../config/config.js';
import { parseLine } from '../../tools/run-repo-command/parse.js';
import { codexModelName } from '../../workers/codex/index.js';
import type { CommandLogEntry, CommandRequest, CommandResult } from '../../tools/run-repo-command/types.js';
import type { RunOutcome } from '../events.js';
import type { PlanRunResult } from '../plan/execute-plan.js';
import type { GitSnapshot, MainHistory, ReportMerge } from './git-snapshot.js';

export type { ReportMerge };

/** One gateway call as the run recorded it. */
export interface CommandRecord {
  request: CommandRequest;
  result: CommandResult;
  entry: CommandLogEntry;
}

/** A command as the report lists it: the log entry's fields, and how it ran. */
export interface ReportCommand extends Pick<
  CommandLogEntry,
  'ts' | 'worktree' | 'command' | 'allowed' | 'rule' | 'reason' | 'exitCode' | 'durationMs' | 'dryRun'
> {
  kind: 'shell' | 'codex' | 'denied' | 'dry-run';
}

export interface ReportWorker {
  worktree: string;
  command: string;
  status: string;
  threadId: string | null;
  goalMet: boolean | null;
  summary: string;
  changedFiles: string[];
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number };
  runDir: string;
  durationMs: number;
  /** 'plan': started by the plan executor directly, not through the gateway (absent: a gateway `codex exec`). */
  via?: 'plan';
  /** Plan workers: the subtask, and why the worker ran (initial, heal, acceptance, review, conflict, smoke). */
  taskId?: string;
  purpose?: string;
}

export interface ReportTest {
  worktree: string;
  command: string;
  exitCode: number | null;
  ok: boolean;
  durationMs: number;
  /** Plan runs: the subtask's acceptance command, or the smoke test after a merge. */
  kind?: 'acceptance' | 'smoke';
}

/** The run report's plan section: what submit_plan and run_plan (or run --plan) did. */
export interface ReportPlan {
  submissions: number;
  /** The problems of each rejected submission, in order (what the model was told). */
  rejections: string[][];
  /** rejected: submit_plan was called but no plan was accepted. */
  status: 'accepted' | 'running' | 'finished' | 'failed' | 'rejected';
  manifestFile: string | null;
  /** Why run_plan failed, when the executor threw. */
  error: string | null;
  /** The executor's result (the final manifest is in manifestFile); null when run_plan did not finish. */
  result: Omit<PlanRunResult, 'manifest'> | null;
}

/** The report's plan section from the executor's result. */
export function planSection(result: PlanRunResult | null, error: string | null): ReportPlan {
  if (!result) return { submissions: 0, rejections: [], status: 'failed', manifestFile: null, error, result: null };
  const { manifest: _manifest, ...rest } = result;
  return { submissions: 0, rejections: [], status: 'finished', manifestFile: result.manifestFile, error: null, result: rest };
}

/** What happened in a run, built from what the program recorded — never from the model's prose. */
export interface RunReport {
  version: 1;
  runId: string;
  task: string;
  baseDir: string;
  mainBranch: string;
  model: string;
  dryRun: boolean;
  status: RunOutcome;
  startedAt: string;
  finishedAt: string;
  wallTimeMs: number;
  mainHeadBefore: string | null;
  mainHeadAfter: string | null;
  /** Every task worktree the run created, also those already removed (see worktreesRemoved). */
  worktreesCreated: string[];
  /** Of worktreesCreated, those the run removed again (after their merge). */
  worktreesRemoved: string[];
  branchesCreated: string[];
  commands: ReportCommand[];
  denials: { worktree: string; command: string; rule: string | null; reason: string }[];
  workers: ReportWorker[];
  tests: ReportTest[];
  merges: ReportMerge[];
  filesTouchedInMain: string[];
  tokens: {
    orchestrator: { input: number; output: number; requests: number };
    workers: { input: number; cachedInput: number; output: number };
    total: number;
  };
  /**
   * The run's tokens by who spent them (orchestrator, review, each worker and
   * subtask, input/cached/output) and their cost at the price table: the one
   * count `runs list`, `runs show` and the live view show. `usage.total.tokens`
   * equals `tokens.total`.
   */
  usage?: RunUsage;
  finalText: string;
  error: { kind: string; message: string } | null;
  runDir: string;
  /**
   * The plan road, when the model called submit_plan: submissions, the plan
   * executor's per-subtask summaries, merges, workers and tokens. Plan workers
   * and reviews are counted in `tokens` (workers / total); their merges are in
   * `merges` like any other (read from main's history).
   */
  plan?: ReportPlan;
  /** The OS sandbox the commands ran in (absent in reports written before it existed). */
  sandbox?: ReportSandbox;
  /** Gateway calls that changed repository metadata they may not (restored; the subtask stopped). */
  securityEvents?: { worktree: string; command: string; detail: string }[];
}

export interface ReportSandbox {
  backend: string;
  description: string;
  gaps: readonly string[];
}

const TEST_PROGRAMS = new Set(['pytest', 'vitest', 'jest', 'mocha', 'tsc']);

/** Whether one simple command (its words) runs a project's tests. */
export function isTestCommand(words: readonly string[]): boolean {
  const [p, a, b] = words;
  if (p === undefined) return false;
  if (TEST_PROGRAMS.has(p)) return true;
  if (
    (p === 'npm' || p === 'yarn' || p === 'pnpm') &&
    (a === 'test' ||
      a === 't' ||
      (a === 'run' && b !== undefined && /^test/.test(b)) ||
      (p === 'yarn' && a !== undefined && /^test/.test(a)))
  )
    return true;
  if ((p === 'make' || p === 'cargo' || p === 'go') && a === 'test') return true;
  if ((p === 'python' || p === 'python3') && a === '-m' && (b === 'pytest' || b === 'unittest')) return true;
  if (p === 'node' && a === '--test') return true;
  return false;
}

function lineRunsTests(record: CommandRecord): boolean {
  // The guard's analysis when the record has it; records stored before it existed are parsed.
  const analysed = record.result.analysis?.commands;
  if (analysed) return analysed.some((c) => isTestCommand(c.words));
  return parseLine(record.request.command).commands.some(
    (c) => c.name !== null && isTestCommand([c.name.value, ...c.args.map((x) => x.value)]),
  );
}

export interface ReportInput {
  runId: string;
  task: string;
  baseDir: string;
  model: string;
  dryRun: boolean;
  status: RunOutcome;
  startedAt: Date;
  finishedAt: Date;
  records: readonly CommandRecord[];
  before: GitSnapshot;
  after: GitSnapshot;
  history: MainHistory;
  orchestratorUsage: { input: number; output: number; requests: number };
  finalText: string;
  error: { kind: string; message: string } | null;
  runDir: string;
  plan?: ReportPlan | undefined;
  sandbox?: ReportSandbox | undefined;
  /** Prices and the models of the review agent and the codex workers (default: the package's table, models unknown). */
  pricing?: { prices: PriceTable; reviewModel: string | null; workerModel: string | null };
}

/** The price table and models of a run with this config, for `ReportInput.pricing`. */
export function reportPricing(config: Config): NonNullable<ReportInput['pricing']> {
  return { prices: loadPrices(config.pricesFile), reviewModel: config.reviewModel ?? config.model, workerModel: codexModelName(config) };
}

/** Pure: records + git facts → RunReport. */
export function buildReport(input: ReportInput): RunReport {
  const commands: ReportCommand[] = input.records.map(({ request, result, entry }) => ({
    ts: entry.ts,
    worktree: request.worktree,
    command: request.command,
    allowed: entry.allowed,
    rule: entry.rule,
    reason: entry.reason,
    exitCode: entry.exitCode,
    durationMs: entry.durationMs,
    dryRun: entry.dryRun,
    kind: !entry.allowed ? 'denied' : entry.dryRun ? 'dry-run' : result.worker ? 'codex' : 'shell',
  }));
  const workers: ReportWorker[] = input.records
    .filter((r) => r.result.worker)
    .map(({ request, result }) => {
      const w = result.worker as NonNullable<CommandResult['worker']>;
      return {
        worktree: request.worktree,
        command: request.command,
        status: w.status,
        threadId: w.threadId,
        goalMet: w.goalMet,
        summary: w.summary,
        changedFiles: w.changedFiles,
        usage: w.usage,
        runDir: w.runDir,
        durationMs: result.durationMs,
      };
    });
  // The plan's acceptance and smoke commands are tests whatever they look like (`test -f a.txt` is one).
  const planTests = new Map<string, 'acceptance' | 'smoke'>();
  for (const t of input.plan?.result?.testRuns ?? []) planTests.set(`${t.worktree}\0${t.command}`, t.kind);
  const tests: ReportTest[] = input.records
    .filter(
      (r) =>
        r.entry.allowed &&
        !r.entry.dryRun &&
        !r.result.worker &&
        (planTests.has(`${r.request.worktree}\0${r.request.command}`) || lineRunsTests(r)),
    )
    .map(({ request, result }) => {
      const kind = planTests.get(`${request.worktree}\0${request.command}`);
      return {
        worktree: request.worktree,
        command: request.command,
        exitCode: result.exitCode,
        ok: result.exitCode === 0,
        durationMs: result.durationMs,
        kind,
      };
    });
  const workerTokens = workers.reduce(
    (acc, w) => ({
      input: acc.input + w.usage.inputTokens,
      cachedInput: acc.cachedInput + w.usage.cachedInputTokens,
      output: acc.output + w.usage.outputTokens,
    }),
    { input: 0, cachedInput: 0, output: 0 },
  );
  const planTokens = input.plan?.result?.tokens;
  if (planTokens) {
    workerTokens.input += planTokens.workers.input;
    workerTokens.cachedInput += planTokens.workers.cachedInput;
    workerTokens.output += planTokens.workers.output;
  }
  const reviewTokens = planTokens ? planTokens.review.input + planTokens.review.output : 0;
  // Plan workers did not go through the gateway; list them too (their tokens are already counted just above).
  for (const w of input.plan?.result?.workers ?? []) {
    const { taskId, purpose, worktree, status, threadId, goalMet, summary, changedFiles, usage, runDir, durationMs } = w;
    workers.push({
      worktree,
      command: `(plan) ${purpose} worker of ${taskId}`,
      status,
      threadId,
      goalMet,
      summary,
      changedFiles,
      usage,
      runDir,
      durationMs,
      via: 'plan',
      taskId,
      purpose,
    });
  }
  const pricing = input.pricing ?? { prices: loadPrices(), reviewModel: null, workerModel: null };
  const usage = priceRunUsage(
    {
      orchestrator: {
        model: input.model,
        tally: { input: input.orchestratorUsage.input, cachedInput: 0, output: input.orchestratorUsage.output },
        requests: input.orchestratorUsage.requests,
      },
      review: {
        model: pricing.reviewModel,
        tally: { input: planTokens?.review.input ?? 0, cachedInput: 0, output: planTokens?.review.output ?? 0 },
      },
      workers: workers.map((w, i) => ({
        workerId: w.runDir ? w.runDir.split('/').pop() || `worker-${i + 1}` : `worker-${i + 1}`,
        worktree: w.worktree,
        taskId: w.taskId ?? null,
        model: pricing.workerModel,
        tally: { input: w.usage.inputTokens, cachedInput: w.usage.cachedInputTokens, output: w.usage.outputTokens },
      })),
    },
    pricing.prices,
  );
  const beforeWorktrees = new Set(input.before.worktrees);
  const beforeBranches = new Set(input.before.branches);
  const afterWorktrees = new Set(input.after.worktrees);
  // A plan names its task worktree and branch alike (task-<id>); merged ones are gone from the snapshot after.
  const planWorktrees = (input.plan?.result?.worktreesCreated ?? []).filter((w) => !beforeWorktrees.has(w));
  const worktreesCreated = [...new Set([...input.after.worktrees.filter((w) => !beforeWorktrees.has(w)), ...planWorktrees])];
  return {
    version: 1,
    runId: input.runId,
    task: input.task,
    baseDir: input.baseDir,
    mainBranch: input.before.mainBranch,
    model: input.model,
    dryRun: input.dryRun,
    status: input.status,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    wallTimeMs: input.finishedAt.getTime() - input.startedAt.getTime(),
    mainHeadBefore: input.before.head,
    mainHeadAfter: input.after.head,
    worktreesCreated,
    worktreesRemoved: worktreesCreated.filter((w) => !afterWorktrees.has(w)),
    branchesCreated: [
      ...new Set([...input.after.branches.filter((b) => !beforeBranches.has(b)), ...planWorktrees.filter((w) => !beforeBranches.has(w))]),
    ],
    commands,
    denials: commands.filter((c) => !c.allowed).map((c) => ({ worktree: c.worktree, command: c.command, rule: c.rule, reason: c.reason })),
    workers,
    tests,
    merges: input.history.merges,
    filesTouchedInMain: input.history.filesTouched,
    tokens: {
      orchestrator: input.orchestratorUsage,
      workers: workerTokens,
      total: input.orchestratorUsage.input + input.orchestratorUsage.output + workerTokens.input + workerTokens.output + reviewTokens,
    },
    usage,
    finalText: input.finalText,
    error: input.error,
    runDir: input.runDir,
    plan: input.plan,
    sandbox: input.sandbox,
    securityEvents: input.records
      .filter((r) => r.result.securityEvent)
      .map(({ request, result }) => ({ worktree: request.worktree, command: request.command, detail: result.securityEvent as string })),
  };
}
