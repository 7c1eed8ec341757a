/**
 * The orchestrator's MCP tools. Each has a zod input schema, returns
 * `structuredContent` plus a short text, and answers within 60 s (clients time
 * out): long waits are bounded (`wait_run` ≤ 50 s) and runs go on in their own
 * processes. Errors are tool errors carrying the CLI's one-line message; a bad
 * call never takes the server down.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { requireBaseDir, requireStateDir } from '../config/config.js';
import { approveMerge, rejectMerge } from '../orchestrator/approval.js';
import { retrySubtask } from '../orchestrator/retry.js';
import { describeError, StoreError, UsageError } from '../errors.js';
import { parseManifest } from '../orchestrator/plan/manifest-file.js';
import { reconcileRunStatus, runIsLive } from '../orchestrator/session/run-record.js';
import { runListRow, runView } from '../orchestrator/run-view.js';
import { FINISHED_RUN_STATUSES, RUN_STATUSES, runLockKey, type RunRecord, type Store } from '../store/index.js';
import { checkCommand } from '../tools/run-repo-command/policy/index.js';
import { loadPolicy } from '../tools/run-repo-command/policy-file.js';
import { launchRun, type CliCommand } from './launch.js';
import type { RunsAccess } from './runs-access.js';
import { subtaskDiff } from './subtask-diff.js';

export interface ToolDeps {
  runs: RunsAccess;
  cli: CliCommand;
  env: NodeJS.ProcessEnv;
  /** Poll interval of wait_run / stop_run (ms). */
  pollMs?: number;
}

/** Longest a tool may take before it answers (clients commonly time out at 60 s). */
export const TOOL_DEADLINE_MS = 55_000;
export const MAX_WAIT_SECONDS = 50;

interface ToolOutput {
  structured: Record<string, unknown>;
  text: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withDeadline<T>(name: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreError(`${name} did not finish within ${TOOL_DEADLINE_MS / 1000} s`, {
            hint: 'try again; runs go on in their own processes',
          }),
        ),
      TOOL_DEADLINE_MS,
    );
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const runId = z.string().min(1).max(200).describe('run id, or an unambiguous prefix of it (or of its last part)');
const baseDir = z
  .string()
  .min(1)
  .describe(
    "absolute base dir holding main/ (default: the server's --base-dir / ORCHESTRATOR_BASE_DIR, or where this server started the run)",
  );
const taskId = z.string().min(1).max(100).describe('subtask id in the plan');

/** What in a running run waits for a person: stuck subtasks, workers waiting for input. */
function attentionOf(store: Store, run: RunRecord): string[] {
  const out: string[] = [];
  for (const t of store.listSubtasks(run.id))
    if (t.status === 'stuck') out.push(`subtask ${t.id} is stuck${t.reason ? `: ${t.reason.split('\n')[0]}` : ''}`);
    else if (t.status === 'awaiting_approval')
      out.push(`subtask ${t.id} waits for approval before its merge: approve_merge or reject_merge`);
  for (const w of store.listWorkers(run.id)) if (w.status === 'waiting-for-input') out.push(`worker ${w.workerId} waits for input`);
  return out;
}

function fullView(store: Store, stateDir: string, run: RunRecord) {
  const view = runView(store, stateDir, run);
  const mergeQueue = view.subtasks.filter((t) => t.status === 'complete').map((t) => t.id);
  const t = view.usage.total;
  // The headline of `usage`: what the run has cost so far (tokens, and USD where the models have a price).
  const cost = {
    tokens: {
      orchestrator: view.usage.orchestrator.tokens,
      review: view.usage.review.tokens,
      workers: view.usage.workers.tokens,
      total: t.tokens,
    },
    usd: t.costUsd,
    unpriced: t.unpriced,
  };
  return { ...view, cost, mergeQueue, attention: attentionOf(store, run) };
}

function viewText(v: ReturnType<typeof fullView>): string {
  const r = v.run;
  const subtasks = v.subtasks.length ? `; subtasks ${v.subtasks.map((t) => `${t.id}=${t.status}`).join(', ')}` : '';
  const merges = v.merges.filter((m) => m.outcome === 'merged').length;
  const err = r.error ? `; error: ${r.error}` : '';
  const att = v.attention.length ? `; needs attention: ${v.attention.join('; ')}` : '';
  return `run ${r.id} ${r.status}${v.live ? ' (live)' : ''}${subtasks}; ${merges} merge(s); ${v.cost.tokens.total} tokens${v.cost.usd !== null ? ` ($${v.cost.usd.toFixed(2)})` : ''}${err}${att}`;
}

export function registerTools(server: McpServer, deps: ToolDeps): string[] {
  const names: string[] = [];
  // The SDK's overloads do not infer through a generic schema; every tool here is a z.object.
  const register = server.registerTool.bind(server) as unknown as (
    name: string,
    config: Record<string, unknown>,
    cb: (args: unknown) => Promise<CallToolResult>,
  ) => void;
  const pollMs = deps.pollMs ?? 500;
  const add = <S extends z.ZodObject>(
    name: string,
    meta: { title: string; description: string; readOnly: boolean; destructive?: boolean },
    input: S,
    fn: (args: z.infer<S>) => Promise<ToolOutput>,
  ): void => {
    names.push(name);
    register(
      name,
      {
        title: meta.title,
        description: meta.description,
        inputSchema: input,
        annotations: { readOnlyHint: meta.readOnly, destructiveHint: meta.destructive ?? false, openWorldHint: false },
      },
      async (args: unknown) => {
        try {
          const out = await withDeadline(name, fn(args as z.infer<S>));
          return { content: [{ type: 'text' as const, text: out.text }], structuredContent: out.structured };
        } catch (error) {
          return { content: [{ type: 'text' as const, text: `${name}: ${describeError(error)}` }], isError: true };
        }
      },
    );
  };

  const { runs } = deps;
  const withRun = <T>(
    id: string,
    dir: string | undefined,
    fn: (store: Store, stateDir: string, run: RunRecord) => Promise<T> | T,
  ): Promise<T> => {
    const config = runs.configFor(runs.baseDirFor(id, dir));
    return runs.withStore(config, (store, stateDir) => fn(store, stateDir, reconcileRunStatus(store, store.requireRun(id))));
  };

  add(
    'check_command',
    {
      title: 'Check a command against the guard',
      description:
        'Asks the command guard whether run_repo_command would allow this shell line in this worktree (main, or task-<slug> beside it). Nothing is executed. Returns {allowed, rule, reason}.',
      readOnly: true,
    },
    z.strictObject({
      worktree: z.string().min(1).describe('main, or a task-<slug> worktree name'),
      command: z.string().min(1).describe('the shell line'),
      baseDir: baseDir.optional(),
    }),
    (a) => {
      const config = runs.configFor(a.baseDir);
      const dir = requireBaseDir(config);
      const decision = checkCommand({ worktree: a.worktree, command: a.command }, { baseDir: dir, policy: loadPolicy(config.policyFile) });
      const structured = { allowed: decision.allowed, rule: decision.rule ?? null, reason: decision.reason };
      return Promise.resolve({
        structured,
        text: `${decision.allowed ? 'allowed' : 'denied'}${decision.rule ? ` (${decision.rule})` : ''}: ${decision.reason}`,
      });
    },
  );

  add(
    'list_runs',
    {
      title: 'List runs',
      description: 'Runs of a base dir, newest first: id, task, status, subtasks done/total, merges, tokens, live.',
      readOnly: true,
    },
    z.strictObject({
      baseDir: baseDir.optional(),
      status: z.enum(RUN_STATUSES).optional(),
      limit: z.number().int().min(1).max(500).optional(),
    }),
    async (a) =>
      runs.withStore(runs.configFor(a.baseDir), (store, stateDir) => {
        const rows = store
          .listRuns()
          .map((r) => reconcileRunStatus(store, r))
          .filter((r) => !a.status || r.status === a.status)
          .slice(0, a.limit ?? 50)
          .map((r) => runListRow(store, stateDir, r));
        const text = rows.length
          ? rows
              .map(
                (r) =>
                  `${r.id} ${r.status} ${r.subtasks.total ? `${r.subtasks.done}/${r.subtasks.total} ` : ''}${r.task.replace(/\s+/g, ' ').slice(0, 80)}`,
              )
              .join('\n')
          : 'no runs';
        return { structured: { runs: rows }, text };
      }),
  );

  add(
    'get_run',
    {
      title: 'Show a run',
      description:
        'One run as `codex-orch runs show --json` gives it (record, live, lock, workers, merges, subtasks with status, worktrees, files), plus cost (tokens), mergeQueue (complete subtasks waiting to merge) and attention.',
      readOnly: true,
    },
    z.strictObject({ runId, baseDir: baseDir.optional() }),
    async (a) =>
      withRun(a.runId, a.baseDir, (store, stateDir, run) => {
        const v = fullView(store, stateDir, run);
        return { structured: v, text: viewText(v) };
      }),
  );

  add(
    'wait_run',
    {
      title: 'Wait for a run',
      description: `Waits until the run ends, needs attention, or timeoutSeconds (at most ${MAX_WAIT_SECONDS}) pass; returns why it returned and the run (as get_run). Call again to keep waiting.`,
      readOnly: true,
    },
    z.strictObject({ runId, timeoutSeconds: z.number().min(0).max(MAX_WAIT_SECONDS).default(30), baseDir: baseDir.optional() }),
    async (a) => {
      const deadline = Date.now() + a.timeoutSeconds * 1000;
      for (;;) {
        const out = await withRun(a.runId, a.baseDir, (store, stateDir, run) => {
          const v = fullView(store, stateDir, run);
          const ended = run.status !== 'running' && run.status !== 'pending';
          const reason = ended ? 'ended' : v.attention.length > 0 ? 'attention' : Date.now() >= deadline ? 'timeout' : undefined;
          return reason ? { structured: { reason, ...v }, text: `${reason}: ${viewText(v)}` } : undefined;
        });
        if (out) return out;
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
      }
    },
  );

  add(
    'get_diff',
    {
      title: "A subtask's diff",
      description:
        'The unified diff of one subtask of a plan run: what its merge brought into main, or its branch since it forked from main when not merged yet. Files with line counts; the diff is cut at 200 kB.',
      readOnly: true,
    },
    z.strictObject({ runId, task: taskId, baseDir: baseDir.optional() }),
    async (a) =>
      withRun(a.runId, a.baseDir, async (store, _stateDir, run) => {
        const d = await subtaskDiff(store, run, a.task);
        const head = `${d.branch} (${d.source === 'merged' ? `merged ${d.head.slice(0, 10)}` : 'not merged'}): ${d.files.map((f) => `${f.path} +${f.additions ?? '?'} -${f.deletions ?? '?'}`).join(', ') || 'no changes'}`;
        return { structured: { ...d }, text: `${head}\n\n${d.diff}` };
      }),
  );

  add(
    'start_run',
    {
      title: 'Start a run',
      description:
        'Starts an orchestrator run in its own process (it goes on if this server exits): either `task` (the planning model plans and runs it) or `plan` (your own manifest {version: 1, task, phases: [{name, tasks: [{id, title, prompt, files?, dependsOn?, acceptance?}]}]}, no planning model). Work is merged into main/ of the base dir; nothing is pushed. Returns the runId; follow it with wait_run / get_run.',
      readOnly: false,
    },
    z.strictObject({
      task: z.string().min(1).optional().describe('the task, in your words'),
      plan: z.record(z.string(), z.unknown()).optional().describe('a plan manifest object instead of a task'),
      baseDir: baseDir.optional(),
      maxParallel: z.number().int().min(1).max(32).optional().describe('with plan: most subtasks running at once'),
      review: z.boolean().optional().describe('with plan: false merges on the acceptance command alone, no review model (default true)'),
      approve: z.boolean().optional().describe('stop before each merge until approve_merge / reject_merge'),
      model: z.string().min(1).optional().describe('orchestrator (or, with plan, review) model'),
      budgets: z
        .strictObject({
          maxCost: z.number().positive().optional().describe('USD'),
          maxTokens: z.number().int().positive().optional(),
          maxWall: z.string().min(1).optional().describe('wall time, e.g. 30m'),
          maxWorkers: z.number().int().positive().optional(),
        })
        .optional(),
    }),
    async (a) => {
      if ((a.task === undefined) === (a.plan === undefined))
        throw new UsageError('start_run: give either task or plan', { hint: 'plan is a manifest object; task is text' });
      if (a.plan === undefined && (a.maxParallel !== undefined || a.review !== undefined))
        throw new UsageError('maxParallel and review go with plan');
      const config = runs.configFor(a.baseDir);
      const dir = requireBaseDir(config);
      if (!fs.existsSync(path.join(dir, 'main', '.git')))
        throw new UsageError(`${dir} has no main/ git repository`, { hint: 'baseDir must hold your repository as main/' });
      const stateDir = requireStateDir(config);
      const argv = ['run', '--base-dir', dir, '--json'];
      if (a.plan !== undefined) {
        parseManifest(a.plan, 'plan');
        const file = path.join(stateDir, 'mcp', 'plans', `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.json`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${JSON.stringify(a.plan, null, 2)}\n`);
        argv.push('--plan', file);
        if (a.maxParallel !== undefined) argv.push('--max-parallel', String(a.maxParallel));
        if (a.review === false) argv.push('--no-review');
      }
      if (a.model !== undefined) argv.push('--model', a.model);
      if (a.approve) argv.push('--approve');
      const b = a.budgets ?? {};
      if (b.maxCost !== undefined) argv.push('--max-cost', String(b.maxCost));
      if (b.maxTokens !== undefined) argv.push('--max-tokens', String(b.maxTokens));
      if (b.maxWall !== undefined) argv.push('--max-wall', b.maxWall);
      if (b.maxWorkers !== undefined) argv.push('--max-workers', String(b.maxWorkers));
      if (a.task !== undefined) argv.push('--', a.task);
      const launched = await launchRun({ cli: deps.cli, argv, stateDir, env: deps.env });
      runs.remember(launched.runId, dir);
      return {
        structured: { runId: launched.runId, pid: launched.pid, baseDir: dir, log: launched.log },
        text: `started run ${launched.runId} (pid ${launched.pid}) on ${dir}; follow it with wait_run / get_run`,
      };
    },
  );

  add(
    'approve_merge',
    {
      title: 'Approve a waiting merge',
      description:
        'A run started with approve: true stops before each merge; this lets the subtask merge (its branch as it is now). Same as codex-orch runs approve <run> <task>.',
      readOnly: false,
    },
    z.strictObject({ runId, task: taskId, baseDir: baseDir.optional() }),
    async (a) => {
      const out = await withRun(a.runId, a.baseDir, (store, _s, run) => approveMerge(store, run.id, a.task));
      return { structured: { ...out }, text: `approved ${a.task} of run ${out.runId}; the merge queue merges it next` };
    },
  );

  add(
    'reject_merge',
    {
      title: 'Reject a waiting merge',
      description:
        'Sends a subtask waiting for approval back to its worker with your note (on its codex thread); it is asked about again after the rework. Same as codex-orch runs reject <run> <task> --note "…".',
      readOnly: false,
    },
    z.strictObject({
      runId,
      task: taskId,
      note: z.string().min(1).max(10_000).describe('what the worker should change'),
      baseDir: baseDir.optional(),
    }),
    async (a) => {
      const out = await withRun(a.runId, a.baseDir, (store, _s, run) => rejectMerge(store, run.id, a.task, a.note));
      return { structured: { ...out }, text: `rejected ${a.task} of run ${out.runId}; sent back to its worker with the note` };
    },
  );

  add(
    'retry_subtask',
    {
      title: 'Retry a failed subtask',
      description:
        'A failed or stuck subtask of a stopped plan run starts again from main (a new branch and codex thread; the earlier branch is kept as task-<slug>-attempt-<n>); the subtasks blocked by it become runnable, and the run is resumed in its own process. Refused while the run is live (stop_run first), for a merged or running subtask. Same as codex-orch runs retry <run> <task>.',
      readOnly: false,
    },
    z.strictObject({ runId, task: taskId, baseDir: baseDir.optional() }),
    async (a) => {
      const out = await withRun(a.runId, a.baseDir, async (store, stateDir, run) => {
        const r = await retrySubtask({
          store,
          stateDir,
          runId: run.id,
          taskId: a.task,
          resume: (found) =>
            launchRun({
              cli: deps.cli,
              argv: ['resume', found.id, '--base-dir', found.baseDir, '--json'],
              stateDir,
              env: deps.env,
              runId: found.id,
            }),
        });
        runs.remember(run.id, run.baseDir);
        return r;
      });
      return {
        structured: { ...out },
        text: `retrying ${out.taskId} of run ${out.runId} (it was ${out.previous})${out.unblocked.length ? `; runnable again: ${out.unblocked.join(', ')}` : ''}; resuming the run (pid ${out.resumed?.pid})`,
      };
    },
  );

  add(
    'stop_run',
    {
      title: 'Stop a run',
      description:
        'Sends SIGTERM to the process driving the run: running workers are stopped, its state and report are written, and it can be resumed with resume_run. Waits up to 20 s for it to stop.',
      readOnly: false,
      destructive: true,
    },
    z.strictObject({ runId, baseDir: baseDir.optional() }),
    async (a) => {
      const target = await withRun(a.runId, a.baseDir, (store, _s, run) => {
        const lock = store.getLock(runLockKey(run.id));
        if (FINISHED_RUN_STATUSES.includes(run.status) || !lock || !runIsLive(store, run.id)) {
          throw new UsageError(`run ${run.id} is not running (status ${run.status})`, {
            hint: run.status === 'interrupted' ? 'resume it with resume_run' : 'nothing to stop',
          });
        }
        if (lock.hostname !== os.hostname())
          throw new UsageError(`run ${run.id} is driven by pid ${lock.pid} on ${lock.hostname}, not this machine`);
        return { id: run.id, pid: lock.pid };
      });
      try {
        process.kill(target.pid, 'SIGTERM');
      } catch (error) {
        throw new StoreError(`could not signal pid ${target.pid} of run ${target.id}: ${(error as Error).message}`);
      }
      const deadline = Date.now() + 20_000;
      for (;;) {
        const status = await withRun(target.id, a.baseDir, (store, _s, run) => (runIsLive(store, run.id) ? undefined : run.status));
        if (status !== undefined)
          return { structured: { runId: target.id, pid: target.pid, stopped: true, status }, text: `run ${target.id} stopped (${status})` };
        if (Date.now() > deadline)
          return {
            structured: { runId: target.id, pid: target.pid, stopped: false, status: 'running' },
            text: `run ${target.id}: SIGTERM sent to pid ${target.pid}; still stopping`,
          };
        await sleep(pollMs);
      }
    },
  );

  add(
    'resume_run',
    {
      title: 'Resume a run',
      description: 'Continues an interrupted or stopped run in its own process (codex-orch resume <id>).',
      readOnly: false,
    },
    z.strictObject({ runId, baseDir: baseDir.optional() }),
    async (a) => {
      const found = await withRun(a.runId, a.baseDir, (store, stateDir, run) => {
        if (runIsLive(store, run.id))
          throw new UsageError(`run ${run.id} is running already (pid ${store.getLock(runLockKey(run.id))?.pid})`);
        if (run.status === 'succeeded') throw new UsageError(`run ${run.id} already succeeded; there is nothing to resume`);
        return { id: run.id, baseDir: run.baseDir, stateDir };
      });
      const launched = await launchRun({
        cli: deps.cli,
        argv: ['resume', found.id, '--base-dir', found.baseDir, '--json'],
        stateDir: found.stateDir,
        env: deps.env,
        runId: found.id,
      });
      runs.remember(found.id, found.baseDir);
      return {
        structured: { runId: found.id, pid: launched.pid, log: launched.log },
        text: `resuming run ${found.id} (pid ${launched.pid})`,
      };
    },
  );

  return names;
}
