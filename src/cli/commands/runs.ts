import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, requireStateDir, type Config } from '../../config/config.js';
import { StoreError, UsageError, isOrchestratorError } from '../../errors.js';
import { removeWorktree, runGit } from '../../git/index.js';
import type { RunReport } from '../../orchestrator/report/report.js';
import { renderReportMarkdown } from '../../orchestrator/report/report-text.js';
import { mergeRunNow, type MergeRunResult } from '../../orchestrator/merge-run.js';
import { resumeRun } from '../../orchestrator/resume.js';
import { reconcileRunStatus, runIsLive } from '../../orchestrator/session/run-record.js';
import { runListRow, runView, runWorktrees } from '../../orchestrator/run-view.js';

export { runWorktrees, type RunListRow } from '../../orchestrator/run-view.js';
import type { RunEvent } from '../../orchestrator/events.js';
import type { CodexActivity } from '../../workers/codex/index.js';
import { activityText, liveViewFor, plainEventLine, resolveWorkers, tailWorkers } from '../live/index.js';
import { formatUsd } from '../../cost/index.js';
import {
  FINISHED_RUN_STATUSES,
  RUN_STATUSES,
  openSqliteStore,
  pruneStaleLocks,
  readJsonFile,
  runDir,
  runLockKey,
  runsRoot,
  type EventRecord,
  type RunRecord,
  type RunStatus,
  type Store,
} from '../../store/index.js';
import { EXIT, exitCodesHelp } from '../exit-codes.js';
import { paint, printErr, printOut } from '../output.js';
import { withInterrupt } from '../interrupt.js';
import { budgetOptions, budgetOverrides, budgetsOf, printReport } from './run.js';
import { resolveFromCwd } from '../args.js';
import { startNotifier } from '../notifications.js';
import { registerRunsApproval } from './runs-approval.js';
import { registerRunsDiff } from './runs-diff.js';
import { registerRunsTmux } from './runs-tmux.js';

/**
 * `codex-orch runs …`: see and manage every run of a state dir (list, show,
 * tail, report, resume, merge, clean, prune), and `codex-orch resume <id>`.
 * Ids may be abbreviated (a prefix of the id or of its random suffix).
 */

export interface StoreOptions {
  baseDir?: string;
  stateDir?: string;
  json?: boolean;
}

function configFrom(opts: StoreOptions): Config {
  return loadConfig({
    overrides: { ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir), ORCHESTRATOR_STATE_DIR: resolveFromCwd(opts.stateDir) },
  });
}

/** Opens the store of the selected state dir; a missing one is an error (nothing to show), not a new database. */
export function withStore<T>(opts: StoreOptions, fn: (store: Store, stateDir: string, config: Config) => Promise<T> | T): Promise<T> {
  const config = configFrom(opts);
  const stateDir = requireStateDir(config);
  if (!fs.existsSync(path.join(stateDir, 'state.db'))) {
    throw new StoreError(`no run store in ${stateDir} (no state.db)`, {
      hint: 'pass --base-dir <dir> or set ORCHESTRATOR_STATE_DIR to where the runs were made',
    });
  }
  const store = openSqliteStore(stateDir);
  return Promise.resolve()
    .then(() => fn(store, stateDir, config))
    .finally(() => store.close());
}

export const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

const short = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

function statusColor(status: RunStatus): string {
  const style =
    status === 'succeeded'
      ? 'green'
      : status === 'running'
        ? 'cyan'
        : status === 'interrupted'
          ? 'yellow'
          : status === 'pending'
            ? 'dim'
            : 'red';
  return paint(style, status);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => stripAnsi(r[i] ?? '').length)));
  for (const r of rows)
    printOut(
      r
        .map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - stripAnsi(c).length)))
        .join('  ')
        .trimEnd(),
    );
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

/**
 * Worktrees of the run's plan subtasks that are complete but not merged (from
 * the store, else the saved manifest): their branch is finished work waiting
 * for `runs merge`, so neither clean nor prune may take it away.
 */
export function unmergedCompleteWork(store: Store, stateDir: string, run: RunRecord): Map<string, string> {
  const out = new Map<string, string>();
  const note = (id: string, worktree: string | null | undefined) => {
    const name = worktree ? path.basename(worktree) : `task-${id}`;
    out.set(name, `subtask ${id} is complete but not merged; merge it with codex-orch runs merge ${run.id}`);
  };
  for (const t of store.listSubtasks(run.id)) if (t.status === 'complete') note(t.id, t.worktree);
  const manifest = readJsonFile(path.join(runDir(stateDir, run.id).root, 'manifest.json')) as
    { phases?: { tasks?: { id: string; status?: string; worktree?: string | null }[] }[] } | undefined;
  for (const phase of manifest?.phases ?? []) for (const t of phase.tasks ?? []) if (t.status === 'complete') note(t.id, t.worktree);
  return out;
}

export interface CleanResult {
  runId: string;
  removed: string[];
  kept: { worktree: string; reason: string }[];
  branchesDeleted: string[];
  branchesKept: { branch: string; reason: string }[];
}

/**
 * Removes a run's task worktrees (never one with uncommitted changes: the git
 * layer refuses) and, with `branches`, deletes their branches with `git branch -d`
 * (git refuses a branch that is not merged; never -D).
 */
export async function cleanRun(store: Store, stateDir: string, run: RunRecord, options: { branches?: boolean } = {}): Promise<CleanResult> {
  if (runIsLive(store, run.id)) {
    const lock = store.getLock(runLockKey(run.id));
    throw new StoreError(`run ${run.id} is running (pid ${lock?.pid}); its worktrees are in use`, {
      hint: 'wait for it to finish or stop it first',
    });
  }
  const result: CleanResult = { runId: run.id, removed: [], kept: [], branchesDeleted: [], branchesKept: [] };
  const mainDir = path.join(run.baseDir, 'main');
  const waiting = unmergedCompleteWork(store, stateDir, run);
  for (const name of runWorktrees(store, stateDir, run)) {
    const slug = name.slice('task-'.length);
    const why = waiting.get(name);
    if (why) {
      result.kept.push({ worktree: name, reason: why });
      continue;
    }
    let gone = false;
    try {
      const r = await removeWorktree(run.baseDir, slug);
      if (r.removed) result.removed.push(name);
      gone = true;
    } catch (error) {
      result.kept.push({ worktree: name, reason: isOrchestratorError(error) ? error.message : String(error) });
    }
    if (gone && options.branches) {
      const branch = name;
      const exists = await runGit(mainDir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { allowFail: true });
      if (exists.exitCode !== 0) continue;
      const del = await runGit(mainDir, ['branch', '-d', branch], { allowFail: true });
      if (del.exitCode === 0) result.branchesDeleted.push(branch);
      else result.branchesKept.push({ branch, reason: (del.stderr || del.stdout).trim().split('\n')[0] ?? 'git branch -d refused' });
    }
  }
  return result;
}

export interface PruneResult {
  worktreesRemoved: { runId: string; worktree: string }[];
  worktreesKept: { runId: string; worktree: string; reason: string }[];
  locksRemoved: { key: string; pid: number }[];
  runsDeleted: string[];
  dirsDeleted: string[];
}

/** Worktrees of finished runs, stale locks, and runs (rows and directories) finished more than `olderThanDays` ago. */
export async function pruneRuns(store: Store, stateDir: string, options: { olderThanDays: number; now?: number }): Promise<PruneResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.olderThanDays * 86_400_000;
  const result: PruneResult = { worktreesRemoved: [], worktreesKept: [], locksRemoved: [], runsDeleted: [], dirsDeleted: [] };
  result.locksRemoved = pruneStaleLocks(store).map((l) => ({ key: l.key, pid: l.pid }));
  for (const listed of store.listRuns()) {
    const run = reconcileRunStatus(store, listed);
    if (!FINISHED_RUN_STATUSES.includes(run.status)) continue;
    const cleaned = await cleanRun(store, stateDir, run);
    for (const w of cleaned.removed) result.worktreesRemoved.push({ runId: run.id, worktree: w });
    for (const k of cleaned.kept) result.worktreesKept.push({ runId: run.id, ...k });
    const finished = Date.parse(run.finishedAt ?? run.updatedAt);
    if (finished < cutoff && cleaned.kept.length === 0 && unmergedCompleteWork(store, stateDir, run).size === 0) {
      fs.rmSync(runDir(stateDir, run.id).root, { recursive: true, force: true });
      store.deleteRun(run.id);
      result.runsDeleted.push(run.id);
    }
  }
  // Run directories the store does not know (a deleted database, a crash before the run was recorded).
  let dirs: string[];
  try {
    dirs = fs.readdirSync(runsRoot(stateDir));
  } catch {
    dirs = [];
  }
  for (const d of dirs) {
    const full = path.join(runsRoot(stateDir), d);
    let known: boolean;
    try {
      known = store.getRun(d)?.id === d;
    } catch {
      known = true;
    }
    if (known) continue;
    const mtime = fs.statSync(full).mtimeMs;
    const manifest = readJsonFile(path.join(full, 'manifest.json')) as { phases?: { tasks?: { status?: string }[] }[] } | undefined;
    const hasWaitingWork = (manifest?.phases ?? []).some((p) => (p.tasks ?? []).some((t) => t.status === 'complete'));
    if (mtime < cutoff && !hasWaitingWork) {
      fs.rmSync(full, { recursive: true, force: true });
      result.dirsDeleted.push(d);
    }
  }
  return result;
}

function eventLine(e: EventRecord): string {
  const t = e.ts.slice(11, 19);
  // Stored event data is JSON of a RunEvent: its fields are strings and numbers.
  const d = (e.data ?? {}) as Record<string, string | number | boolean | null | undefined>;
  let text: string;
  switch (e.type) {
    case 'command.started':
      text = `${d.worktree}$ ${d.command}`;
      break;
    case 'command.finished':
      text = `${d.worktree}$ ${d.command} → ${d.allowed === false ? `DENIED (${d.rule})` : d.dryRun ? 'dry run' : `exit ${d.exitCode}`} ${d.durationMs} ms`;
      break;
    case 'run.started':
      text = `${d.task}`;
      break;
    case 'run.finished':
      text = `${d.status} in ${Math.round(Number(d.wallTimeMs) / 1000)} s`;
      break;
    case 'run.error':
      text = `${d.kind}: ${d.message}`;
      break;
    case 'worker.activity': {
      const a = d.activity as CodexActivity | undefined;
      text = `${String(d.worktree)} ${a ? (a.kind === 'usage' ? `turn done — tokens in ${a.usage.input} (cached ${a.usage.cachedInput}), out ${a.usage.output}` : (activityText(a) ?? a.kind)) : ''}`;
      break;
    }
    default: {
      const plain = plainEventLine(d as unknown as RunEvent);
      if (plain !== null) {
        text = plain.trim();
        break;
      }
      const { ts: _ts, type: _type, record: _r, snapshot: _s, ...rest } = d;
      text = JSON.stringify(rest);
    }
  }
  return `${t} ${String(e.seq).padStart(4)} ${paint('cyan', e.type)} ${text}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tailRun(store: Store, runId: string, opts: { follow?: boolean; json?: boolean; intervalMs?: number }): Promise<void> {
  let since = 0;
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    for (;;) {
      const events = store.listEvents(runId, { since });
      for (const e of events) {
        process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${eventLine(e)}\n`);
        since = e.seq;
      }
      if (!opts.follow || stop) return;
      if (events.length === 0) {
        const run = store.requireRun(runId);
        if (run.status !== 'running' && run.status !== 'pending') return;
        if (!runIsLive(store, runId)) return; // its process died: nothing more will come
      }
      await sleep(opts.intervalMs ?? 300);
    }
  } finally {
    process.off('SIGINT', onSig);
  }
}

type ResumeCommandOptions = StoreOptions & { quiet?: boolean; maxTurns?: string; model?: string; progress?: boolean } & Parameters<
    typeof budgetOverrides
  >[0];

async function resumeCommand(id: string, opts: ResumeCommandOptions): Promise<void> {
  const config = loadConfig({
    overrides: {
      ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir),
      ORCHESTRATOR_STATE_DIR: resolveFromCwd(opts.stateDir),
      ORCHESTRATOR_MODEL: opts.model,
      ORCHESTRATOR_MAX_TURNS: opts.maxTurns,
      ...budgetOverrides(opts),
    },
  });
  const budgets = budgetsOf(config);
  const progress = liveViewFor(config, { quiet: Boolean(opts.quiet), progress: opts.progress !== false });
  const notifier = startNotifier(config, { quiet: Boolean(opts.quiet), note: (l) => progress.note(l) });
  try {
    if (!opts.quiet) printErr(`codex-orch: resuming run ${id}`);
    const report = await withInterrupt('the run', (signal) =>
      resumeRun({
        runId: id,
        config,
        signal,
        ...(budgets ? { budgets } : {}),
        onEvent: (e) => {
          progress.onEvent(e);
          notifier.onEvent(e);
        },
      }),
    );
    progress.stop();
    printReport(report, Boolean(opts.json));
  } finally {
    progress.stop();
    await notifier.flush();
  }
}

export function storeOptions(cmd: Command): Command {
  return cmd
    .option('-b, --base-dir <dir>', 'base dir whose runs to use (default: ORCHESTRATOR_BASE_DIR)')
    .option('--state-dir <dir>', 'state dir holding state.db (default: ORCHESTRATOR_STATE_DIR or <base dir>/.codex-orchestrator)')
    .option('--json', 'machine-readable output on stdout');
}

function resumeOptions(cmd: Command): Command {
  return budgetOptions(
    storeOptions(cmd)
      .option('-m, --model <name>', 'orchestrator model (default: ORCHESTRATOR_MODEL)')
      .option('--max-turns <n>', 'maximum orchestrator model turns for this process')
      .option('-q, --quiet', 'no progress display')
      .option('--no-progress', 'plain progress lines instead of the live view'),
  ).addHelpText(
    'after',
    `\nBudgets given here start from zero for this process: a new budget for what is left.${exitCodesHelp(['ok', 'failed', 'usage', 'modelApi', 'worker', 'git', 'store', 'aborted'], { store: 'run store (unknown id, or held by a live process)' })}`,
  );
}

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .summary('list, inspect, tail, resume and clean up runs')
    .description(
      'Runs of a state dir (selected by --base-dir, ORCHESTRATOR_BASE_DIR or ORCHESTRATOR_STATE_DIR). Ids may be abbreviated: a prefix of the id or of its last part.',
    );

  storeOptions(runs.command('list').description('runs, newest first: id, task, status, subtasks done/total, merges, tokens, age'))
    .option('--status <status>', `only runs with this status (${RUN_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most n runs')
    .action(async (opts: StoreOptions & { status?: string; limit?: string }) => {
      if (opts.status && !RUN_STATUSES.includes(opts.status as RunStatus))
        throw new UsageError(`--status ${opts.status}: expected one of ${RUN_STATUSES.join(', ')}`);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
        throw new UsageError(`--limit ${opts.limit}: expected a positive integer`);
      await withStore(opts, (store, stateDir) => {
        const rows = store
          .listRuns()
          .map((r) => reconcileRunStatus(store, r))
          .filter((r) => !opts.status || r.status === opts.status)
          .slice(0, limit)
          .map((r) => runListRow(store, stateDir, r));
        if (opts.json) return json({ runs: rows });
        if (rows.length === 0) return printOut('no runs');
        printTable([
          ['ID', 'STATUS', 'SUBTASKS', 'MERGES', 'TOKENS', 'COST', 'AGE', 'TASK'].map((h) => paint('bold', h)),
          ...rows.map((r) => [
            r.id,
            statusColor(r.status) + (r.awaitingApproval ? paint('yellow', ` (${r.awaitingApproval} to approve)`) : ''),
            r.subtasks.total ? `${r.subtasks.done}/${r.subtasks.total}` : '-',
            String(r.merges),
            String(r.tokens.total),
            r.costUsd !== null ? `${formatUsd(r.costUsd)}${r.unpriced.length ? '+?' : ''}` : '-',
            age(r.createdAt),
            short(r.task, 60),
          ]),
        ]);
      });
    });

  storeOptions(
    runs.command('show').argument('<id>', 'run id or prefix').description('one run: status, lock, workers, merges, subtasks, files'),
  ).action(async (id: string, opts: StoreOptions) => {
    await withStore(opts, (store, stateDir) => {
      const run = reconcileRunStatus(store, store.requireRun(id));
      const shown = runView(store, stateDir, run);
      const { lock, workers, merges, subtasks, files } = shown;
      const { source: usageSource, ...usage } = shown.usage;
      if (opts.json) return json(shown);
      printOut(`${paint('bold', run.id)}  ${statusColor(run.status)}${shown.live && lock ? ` (pid ${lock.pid})` : ''}`);
      printOut(`task:      ${short(run.task, 200)}`);
      printOut(`base dir:  ${run.baseDir}`);
      printOut(`created:   ${run.createdAt} (${age(run.createdAt)} ago)${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`);
      printOut(`model:     ${run.model ?? '-'}${run.dryRun ? ' (dry run)' : ''}`);
      const t = usage.total;
      printOut(
        `tokens:    ${t.tokens} (in ${t.input}, cached ${t.cachedInput}, out ${t.output}; orchestrator ${usage.orchestrator.tokens}, review ${usage.review.tokens}, workers ${usage.workers.tokens})` +
          `${t.costUsd !== null ? ` cost ${formatUsd(t.costUsd)}` : ''}${t.unpriced.length ? `; no price for ${t.unpriced.join(', ')}` : ''}${usageSource === 'store' ? ' — so far' : ''}`,
      );
      printOut(`commands:  ${shown.commands.total}${shown.commands.denied ? ` (${shown.commands.denied} denied)` : ''}`);
      if (run.error) printOut(`error:     ${run.error}`);
      if (subtasks.length) printOut(`subtasks:  ${subtasks.map((t) => `${t.id}=${t.status}`).join(', ')}`);
      printOut(`worktrees: ${shown.worktrees.join(', ') || 'none'}`);
      printOut(`merges:    ${merges.map((m) => `${m.branch} ${m.outcome}${m.sha ? ` ${m.sha.slice(0, 10)}` : ''}`).join(', ') || 'none'}`);
      for (const w of workers)
        printOut(
          `worker:    ${w.workerId} ${w.status}${w.threadId ? ` thread ${w.threadId}` : ''}${w.usage ? ` tokens ${w.usage.input + w.usage.output}` : ''}`,
        );
      printOut(`files:     ${files.root}`);
      for (const t of store.listSubtasks(run.id).filter((x) => x.status === 'awaiting_approval')) {
        printOut(
          paint(
            'yellow',
            `waiting for approval: ${t.id} — codex-orch runs diff ${run.id} ${t.id}; codex-orch runs approve|reject ${run.id} ${t.id}`,
          ),
        );
      }
      if (run.status === 'interrupted' || run.status === 'aborted') printOut(paint('yellow', `resume with: codex-orch resume ${run.id}`));
    });
  });

  storeOptions(
    runs
      .command('tail')
      .argument('<id>', 'run id or prefix')
      .description("the run's events as readable lines (or one worker's codex events with --worker); -f follows until the run ends"),
  )
    .option('-f, --follow', 'keep printing new events until the run (or the worker) ends')
    .option(
      '--worker <name|id>',
      "a worker's codex events: by worktree or subtask name (all its workers, in order), worker id or id prefix",
    )
    .option('--raw', 'the events as JSON Lines, as recorded')
    .action(async (id: string, opts: StoreOptions & { follow?: boolean; worker?: string; raw?: boolean }) => {
      await withStore(opts, async (store, stateDir) => {
        const run = store.requireRun(id);
        if (opts.worker) {
          const workers = resolveWorkers(store, stateDir, run.id, opts.worker);
          let stop = false;
          const onSig = () => (stop = true);
          process.once('SIGINT', onSig);
          try {
            return await tailWorkers(workers, {
              follow: Boolean(opts.follow),
              raw: Boolean(opts.raw || opts.json),
              shouldStop: () => stop,
            });
          } finally {
            process.off('SIGINT', onSig);
          }
        }
        return tailRun(store, run.id, { follow: Boolean(opts.follow), json: Boolean(opts.json || opts.raw) });
      });
    });

  storeOptions(
    runs.command('report').argument('<id>', 'run id or prefix').description("the run's report (report.md, or report.json with --json)"),
  ).action(async (id: string, opts: StoreOptions) => {
    await withStore(opts, (store, stateDir) => {
      const run = reconcileRunStatus(store, store.requireRun(id));
      const report = readJsonFile(runDir(stateDir, run.id).report) as RunReport | undefined;
      if (!report) {
        throw new StoreError(`run ${run.id} has no report yet (status ${run.status})`, {
          hint:
            run.status === 'running' ? `follow it with codex-orch runs tail ${run.id} -f` : `resume it with codex-orch resume ${run.id}`,
        });
      }
      if (opts.json) json(report);
      else process.stdout.write(renderReportMarkdown(report));
    });
  });

  resumeOptions(
    runs
      .command('resume')
      .argument('<id>', 'run id or prefix')
      .description('continue a run whose process died or was stopped (same as codex-orch resume)'),
  ).action(resumeCommand);

  storeOptions(
    runs
      .command('merge')
      .argument('<id>', 'run id or prefix')
      .description(
        "runs of a plan (run --plan, or a plan the orchestrator made): merge the stopped run's complete-but-unmerged subtasks now (merge queue and smoke test; no model, no workers)",
      ),
  ).action(async (id: string, opts: StoreOptions) => {
    await withStore(opts, async (store, stateDir, config) => {
      const run = reconcileRunStatus(store, store.requireRun(id));
      const r: MergeRunResult = await withInterrupt('the merge queue', (signal) => mergeRunNow({ store, stateDir, config, run, signal }));
      if (r.notMerged.length > 0) process.exitCode = EXIT.failed;
      if (opts.json) return json(r);
      if (r.candidates.length === 0) {
        printOut(
          `run ${run.id}: nothing to merge (no subtask is complete and unmerged; ${r.subtasks.map((t) => `${t.id}=${t.status}`).join(', ')})`,
        );
        return;
      }
      printOut(
        `run ${run.id}: merged ${r.merged.length} of ${r.candidates.length} complete subtask(s)${r.merged.length ? `: ${r.merged.map((m) => `${m.taskId} (${m.branch} ${m.sha.slice(0, 10)})`).join(', ')}` : ''}`,
      );
      for (const l of r.notMerged) printOut(paint('yellow', `not merged ${l.id}: ${l.reason ?? l.status}`));
    });
  });

  storeOptions(
    runs
      .command('clean')
      .argument('<id>', 'run id or prefix')
      .description("remove the run's task worktrees (never ones with uncommitted changes); keeps branches unless --branches"),
  )
    .option('--branches', 'also delete their branches when merged (git branch -d; unmerged branches are kept)')
    .action(async (id: string, opts: StoreOptions & { branches?: boolean }) => {
      await withStore(opts, async (store, stateDir) => {
        const run = store.requireRun(id);
        const r = await cleanRun(store, stateDir, run, { branches: Boolean(opts.branches) });
        if (opts.json) json(r);
        else {
          printOut(`run ${run.id}: removed ${r.removed.length} worktree(s)${r.removed.length ? `: ${r.removed.join(', ')}` : ''}`);
          for (const k of r.kept) printOut(paint('yellow', `kept ${k.worktree}: ${k.reason}`));
          if (opts.branches) {
            if (r.branchesDeleted.length) printOut(`deleted branches: ${r.branchesDeleted.join(', ')}`);
            for (const b of r.branchesKept) printOut(paint('yellow', `kept branch ${b.branch}: ${b.reason}`));
          }
        }
        if (r.kept.length > 0) process.exitCode = EXIT.failed;
      });
    });

  storeOptions(
    runs.command('prune').description('remove worktrees of finished runs, stale locks, and runs finished more than --older-than days ago'),
  )
    .option('--older-than <days>', 'delete run records and directories of runs finished more than this many days ago (default 30)')
    .action(async (opts: StoreOptions & { olderThan?: string }) => {
      const days = Number(opts.olderThan ?? 30);
      if (!(Number.isFinite(days) && days >= 0)) throw new UsageError(`--older-than ${opts.olderThan}: expected a number of days`);
      await withStore(opts, async (store, stateDir) => {
        const r = await pruneRuns(store, stateDir, { olderThanDays: days });
        if (opts.json) return json(r);
        printOut(
          `removed ${r.worktreesRemoved.length} worktree(s), ${r.locksRemoved.length} stale lock(s), ${r.runsDeleted.length + r.dirsDeleted.length} old run(s)`,
        );
        for (const k of r.worktreesKept) printOut(paint('yellow', `kept ${k.worktree} of ${k.runId}: ${k.reason}`));
      });
    });

  registerRunsDiff(runs);
  registerRunsApproval(runs);
  registerRunsTmux(runs);

  resumeOptions(
    program
      .command('resume')
      .argument('<id>', 'run id or prefix')
      .summary('continue a run whose process died or was stopped (alias of runs resume)')
      .description(
        'Continue a run whose process died or was stopped: its conversation, workers and merges are picked up from the run store; nothing done is done twice. Same as codex-orch runs resume.',
      ),
  ).action(resumeCommand);
}
