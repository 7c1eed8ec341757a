import fs from 'node:fs';
import path from 'node:path';
import { tool, type AgentInputItem } from '@openai/agents';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { isOrchestratorError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { silentLogger } from '../../logging/logger.js';
import {
  manifestFromPlan,
  submitPlanParameters,
  submitPlanToPlan,
  taskWorktreeName,
  validatePlan,
  type Manifest,
  type Plan,
  type SubmitPlanArgs,
} from '../../scheduler/index.js';
import { writeJsonAtomic } from '../../store/run-dir.js';
import type { GatewayContext } from '../../tools/run-repo-command/gateway.js';
import type { RunEventListener } from '../events.js';
import { executePlan, type PlanRunContext, type PlanRunResult } from '../plan/execute-plan.js';
import { toManifest } from '../plan/manifest-file.js';
import type { ReviewFn } from '../review/types.js';
import type { ReportPlan } from '../report/report.js';

/**
 * The plan road's two tools for the Orchestrator Agent:
 *
 * - `submit_plan` takes the whole plan (the strict `submitPlanParameters`
 *   schema). The program validates it with `validatePlan`; problems go back to
 *   the model as the tool RESULT, one `path: problem` line each, so it can fix
 *   them and submit again. The tool never throws. An accepted plan is saved as
 *   `<runDir>/manifest.json` and kept here for `run_plan`.
 * - `run_plan` (no arguments) executes the accepted plan with the plan
 *   executor (scheduler → workers → acceptance → review → merge queue) and
 *   returns one compact line per subtask, so the orchestrator model spends a
 *   few hundred tokens on a plan instead of one turn per shell step.
 *
 * One plan per run: once `run_plan` has started, `submit_plan` is refused. The
 * manifest in the run directory is the executor's live state; a second plan
 * would overwrite it. Follow-up fixes go through `run_repo_command`.
 */

/** Runs a plan, or resumes a saved manifest (after a restart). */
export type ExecutePlanFn = (plan: Plan | Manifest, ctx: PlanRunContext) => Promise<PlanRunResult>;

export interface PlanToolsContext {
  config: Config;
  baseDir: string;
  runId: string;
  runDir: string;
  gateway: GatewayContext;
  /** Review each finished subtask; absent → no review (merged after acceptance). */
  review?: ReviewFn;
  maxParallel?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: RunEventListener;
  store?: PlanRunContext['store'];
  budgets?: PlanRunContext['budgets'];
  /** Replace the executor (tests, benchmarks). */
  executePlan?: ExecutePlanFn;
}

/** What the tools did, for the run report. */
export interface PlanToolsState {
  /** submit_plan calls, accepted or not. */
  submissions: number;
  /** Problems of each rejected submission, in order. */
  rejections: string[][];
  /** The accepted plan, or (after a restart) the saved manifest run_plan resumes. */
  plan: Plan | Manifest | null;
  manifestFile: string | null;
  status: 'none' | 'accepted' | 'running' | 'finished' | 'failed';
  result: PlanRunResult | null;
  /** Why run_plan failed, when it threw. */
  error: string | null;
  /** Set when the state was restored from an earlier process of the run (a resume). */
  restored?: { fromManifest: string; cutOffRunPlan: boolean; executed: boolean };
}

/** What a resumed run knows about its plan road: the saved manifest and the restored conversation. */
export interface PlanToolsRestore {
  manifest: Manifest;
  manifestFile: string;
  /** The restored conversation (submit_plan / run_plan calls and their answers). */
  items: readonly AgentInputItem[];
  /** Whether an earlier process started the executor (decisions.jsonl exists or a subtask left `pending`). */
  executed: boolean;
}

function outputText(item: AgentInputItem): string {
  if (item.type !== 'function_call_result') return '';
  const out = item.output as unknown;
  if (typeof out === 'string') return out;
  if (out && typeof out === 'object' && 'text' in out && typeof out.text === 'string') return (out as { text: string }).text;
  return '';
}

/** One line per subtask of a saved manifest, for a model asking run_plan again after a restart. */
export function renderManifestForModel(manifest: Manifest): string {
  const tasks = manifest.phases.flatMap((p) => p.tasks);
  const merged = tasks.filter((t) => t.status === 'merged').length;
  return [
    `PLAN ${merged === tasks.length ? 'DONE' : 'INCOMPLETE'}: ${merged}/${tasks.length} subtask(s) merged (from the saved manifest).`,
    ...tasks.map(
      (t) =>
        `- ${t.id} ${t.status}${t.attempts > 1 ? `, attempts ${t.attempts}` : ''}${t.status !== 'merged' && t.reason ? ` — reason: ${oneLine(t.reason)}` : ''}`,
    ),
  ].join('\n');
}

export const SUBMIT_PLAN_DESCRIPTION = [
  'Submit the whole plan for this task: phases in order, each with subtasks {id, title, kind, prompt, files, dependsOn, acceptance}.',
  'The program checks it (unknown ids, cycles, empty prompts, globs outside the repository, dependencies on later phases) and answers ACCEPTED or REJECTED with every problem as `path: problem`; fix them all and submit the whole plan again.',
  'Each subtask gets its own worktree task-<id> and Codex worker; its prompt is all the worker sees.',
  'Subtasks of one phase run in parallel unless their `files` globs overlap. After ACCEPTED, call run_plan.',
].join(' ');

export const RUN_PLAN_DESCRIPTION = [
  'Run the accepted plan: the program creates each worktree, runs its Codex worker, runs the acceptance command, has the branch reviewed,',
  'and merges branches into main one at a time with conflict and failure rework. Returns one line per subtask (status, attempts, review, summary) and the totals.',
  'Takes no arguments. Can run once per run.',
].join(' ');

const MAX_SUMMARY_CHARS = 240;

function oneLine(text: string, max = MAX_SUMMARY_CHARS): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function describeAccepted(plan: Plan, manifestFile: string, baseDir: string): string {
  const tasks = plan.phases.flatMap((p) => p.tasks);
  const lines = [`ACCEPTED: ${tasks.length} subtask(s) in ${plan.phases.length} phase(s), saved as ${manifestFile}.`];
  for (const phase of plan.phases) {
    lines.push(
      `${phase.name}: ${phase.tasks.map((t) => (t.dependsOn.length ? `${t.id} (after ${t.dependsOn.join(', ')})` : t.id)).join(', ')}`,
    );
  }
  const existing = tasks.map((t) => taskWorktreeName(t.id)).filter((w) => fs.existsSync(path.join(baseDir, w)));
  if (existing.length > 0) lines.push(`Note: ${existing.join(', ')} already exist(s) and will be reused with their commits.`);
  lines.push('Call run_plan to execute it.');
  return lines.join('\n');
}

/** The compact answer of run_plan: one line per subtask plus the totals. Built from the result, never from prose. */
export function renderPlanResultForModel(result: PlanRunResult): string {
  const lines: string[] = [];
  const merged = result.subtasks.filter((s) => s.status === 'merged').length;
  lines.push(
    `PLAN ${result.allMerged ? 'DONE' : 'INCOMPLETE'}: ${merged}/${result.subtasks.length} subtask(s) merged${result.stoppedBy ? `; stopped: ${result.stoppedBy}` : ''}.`,
  );
  for (const s of result.subtasks) {
    const parts = [`${s.id} ${s.status}`];
    if (s.attempts > 1) parts.push(`attempts ${s.attempts}`);
    if (s.workers > 1) parts.push(`${s.workers} worker runs`);
    const last = s.reviews[s.reviews.length - 1];
    if (last) parts.push(`review ${last.verdict} (risk ${last.risk}, ${s.reviews.length} round${s.reviews.length > 1 ? 's' : ''})`);
    if (s.merge.conflicts) parts.push(`${s.merge.conflicts} conflict rework(s)`);
    if (s.merge.smokeFailures) parts.push(`${s.merge.smokeFailures} smoke failure(s)`);
    let line = `- ${parts.join(', ')}`;
    if (s.status !== 'merged' && s.reason) line += ` — reason: ${oneLine(s.reason)}`;
    else if (s.summary) line += ` — ${oneLine(s.summary)}`;
    lines.push(line);
  }
  if (result.merges.length > 0) lines.push(`Merged into main in this order: ${result.merges.map((m) => m.branch).join(', ')}.`);
  const w = result.tokens.workers;
  lines.push(`Tokens: workers ${w.input + w.output}, review ${result.tokens.review.input + result.tokens.review.output}.`);
  if (!result.allMerged)
    lines.push(
      'Subtasks not merged keep their worktree and branch; you can inspect or finish them with run_repo_command, or report them as left undone.',
    );
  return lines.join('\n');
}

/** The report section, or undefined when the model never called submit_plan. */
export type { ReportPlan };

export function planReportSection(state: PlanToolsState): ReportPlan | undefined {
  if (state.submissions === 0) return undefined;
  if (state.status === 'none')
    return {
      submissions: state.submissions,
      rejections: state.rejections,
      status: 'rejected',
      manifestFile: null,
      error: null,
      result: null,
    };
  let result: ReportPlan['result'] = null;
  if (state.result) {
    const { manifest: _manifest, ...rest } = state.result;
    result = rest;
  }
  return {
    submissions: state.submissions,
    rejections: state.rejections,
    status: state.status,
    manifestFile: state.manifestFile,
    error: state.error,
    result,
  };
}

function errorLine(error: unknown): string {
  if (isOrchestratorError(error)) return error.toLine();
  return error instanceof Error ? (error.message.split('\n')[0] ?? String(error)) : String(error);
}

export function createPlanTools(ctx: PlanToolsContext) {
  const log = (ctx.logger ?? silentLogger).child({ component: 'plan-tools' });
  const run = ctx.executePlan ?? executePlan;
  const state: PlanToolsState = {
    submissions: 0,
    rejections: [],
    plan: null,
    manifestFile: null,
    status: 'none',
    result: null,
    error: null,
  };

  const submitPlan = tool({
    name: 'submit_plan',
    description: SUBMIT_PLAN_DESCRIPTION,
    parameters: submitPlanParameters,
    strict: true,
    execute: async (args: SubmitPlanArgs) => {
      state.submissions++;
      if (state.status === 'running' || state.status === 'finished' || state.status === 'failed' || state.restored?.executed) {
        return 'REJECTED: a plan has already been run in this run (one plan per run). Finish or fix the remaining work with run_repo_command, or end with your report.';
      }
      const checked = validatePlan(submitPlanToPlan(args));
      if (!checked.ok) {
        state.rejections.push(checked.errors);
        log.info({ submission: state.submissions, errors: checked.errors.length }, 'plan rejected');
        return [
          `REJECTED: the plan has ${checked.errors.length} problem(s). Nothing was saved or run. Fix every one and call submit_plan again with the whole corrected plan:`,
          ...checked.errors.map((e) => `- ${e}`),
        ].join('\n');
      }
      const manifest: Manifest = manifestFromPlan(checked.plan);
      const manifestFile = path.join(ctx.runDir, 'manifest.json');
      try {
        writeJsonAtomic(manifestFile, manifest);
      } catch (error) {
        return `ERROR: the plan is valid but could not be saved (${errorLine(error)}); it was not accepted.`;
      }
      state.plan = checked.plan;
      state.manifestFile = manifestFile;
      state.status = 'accepted';
      log.info({ submission: state.submissions, tasks: manifest.phases.reduce((n, p) => n + p.tasks.length, 0) }, 'plan accepted');
      return describeAccepted(checked.plan, manifestFile, ctx.baseDir);
    },
    errorFunction: (_c, error) => `ERROR: submit_plan failed before checking the plan: ${errorLine(error)}`,
  });

  const runPlan = tool({
    name: 'run_plan',
    description: RUN_PLAN_DESCRIPTION,
    parameters: z.strictObject({}),
    strict: true,
    execute: async () => {
      if (state.status === 'none') return 'ERROR: no accepted plan. Call submit_plan first and wait for ACCEPTED.';
      if (state.status === 'running') return 'ERROR: the plan is already running (call run_plan once).';
      if (state.status === 'finished' && state.result)
        return `The plan has already run; its result:\n${renderPlanResultForModel(state.result)}`;
      if (state.status === 'finished' && state.plan && 'version' in state.plan)
        return `The plan has already run (before the orchestrator restarted); its state:\n${renderManifestForModel(state.plan as Manifest)}`;
      if (state.status === 'failed') return `ERROR: the plan run already failed: ${state.error ?? 'unknown error'}`;
      if (ctx.gateway.dryRun ?? ctx.config.dryRun) {
        return 'DRY RUN: the plan was checked and saved as the manifest but is not run (the plan road creates worktrees and merges by itself). End with your report.';
      }
      return execute();
    },
    errorFunction: (_c, error) => `ERROR: run_plan failed: ${errorLine(error)}`,
  });

  /** Runs (or, with a saved manifest as the plan, resumes) the executor and answers like run_plan. */
  async function execute(): Promise<string> {
    // The boundary: the executor takes a Manifest only (an accepted plan becomes one with every task pending).
    const manifest = toManifest(state.plan as Plan | Manifest);
    state.status = 'running';
    try {
      const result = await run(manifest, {
        config: ctx.config,
        baseDir: ctx.baseDir,
        runId: ctx.runId,
        runDir: ctx.runDir,
        gateway: ctx.gateway,
        review: ctx.review,
        maxParallel: ctx.maxParallel,
        signal: ctx.signal,
        logger: ctx.logger,
        onEvent: ctx.onEvent,
        store: ctx.store,
        budgets: ctx.budgets,
      });
      state.result = result;
      state.status = 'finished';
      return renderPlanResultForModel(result);
    } catch (error) {
      state.status = 'failed';
      state.error = errorLine(error);
      log.error({ err: error }, 'run_plan failed');
      return `ERROR: the plan run failed: ${state.error}`;
    }
  }

  /**
   * A resumed run: the plan tools pick up where the earlier process left them.
   * submissions and rejections are counted from the restored conversation; a
   * plan that was accepted but never run, or stopped part way (abort, budget),
   * runs when run_plan is called (again); a run_plan call that was cut off is
   * answered by `resumeCutOffRunPlan`; a plan that ran to its end is not run
   * again (a later call gets the manifest's statuses).
   */
  function restore(r: PlanToolsRestore): void {
    const calls = r.items.filter((i): i is Extract<AgentInputItem, { type: 'function_call' }> => i.type === 'function_call');
    const results = new Map(r.items.filter((i) => i.type === 'function_call_result').map((i) => [(i as { callId: string }).callId, i]));
    state.submissions = calls.filter((c) => c.name === 'submit_plan').length;
    state.rejections = [];
    for (const c of calls.filter((x) => x.name === 'submit_plan')) {
      const text = results.has(c.callId) ? outputText(results.get(c.callId) as AgentInputItem) : '';
      if (text.startsWith('REJECTED: the plan has'))
        state.rejections.push(
          text
            .split('\n')
            .filter((l) => l.startsWith('- '))
            .map((l) => l.slice(2)),
        );
    }
    const runCalls = calls.filter((c) => c.name === 'run_plan');
    const cutOff = runCalls.some((c) => !results.has(c.callId));
    const answered = runCalls.some(
      (c) => results.has(c.callId) && !/^(ERROR: no accepted plan|DRY RUN)/.test(outputText(results.get(c.callId) as AgentInputItem)),
    );
    const executed = answered || r.executed;
    // A plan stopped part way (an abort, a budget) can be resumed by calling run_plan again; a finished one is not re-run.
    const resumable = r.manifest.phases.some((p) =>
      p.tasks.some((t) => t.status === 'pending' || t.status === 'running' || t.status === 'complete'),
    );
    state.plan = r.manifest;
    state.manifestFile = r.manifestFile;
    state.status = cutOff ? 'running' : executed && !resumable ? 'finished' : 'accepted';
    state.restored = { fromManifest: r.manifestFile, cutOffRunPlan: cutOff, executed };
    log.info({ status: state.status, submissions: state.submissions, cutOff }, 'plan tools restored from the saved manifest');
  }

  /**
   * The answer to a run_plan call the dead process left without one: the
   * executor resumes the saved manifest (merged subtasks stay merged, complete
   * ones go to the merge queue, running ones resume their codex thread), and
   * its real result answers the call.
   */
  async function resumeCutOffRunPlan(): Promise<string> {
    if (!state.restored?.cutOffRunPlan || !state.plan)
      return 'ERROR: there is no cut-off plan run to resume. Call run_plan if a plan is accepted.';
    state.restored.cutOffRunPlan = false;
    if (ctx.gateway.dryRun ?? ctx.config.dryRun) {
      state.status = 'accepted';
      return 'DRY RUN: the plan was checked and saved as the manifest but is not run (the plan road creates worktrees and merges by itself). End with your report.';
    }
    const answer = await execute();
    return `NOTE: the orchestrator restarted while run_plan ran; the plan was resumed from ${state.manifestFile} (merged subtasks were kept, complete ones merged, running ones restarted on their branch and codex thread).\n${answer}`;
  }

  return { tools: [submitPlan, runPlan] as const, state, restore, resumeCutOffRunPlan };
}
