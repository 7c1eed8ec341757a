/**
 * `codex-orch run --plan <manifest.json>`: runs a person's own plan with no
 * planning model (and with no review agent, no model at all), then writes the
 * same report as an orchestrator run, with the plan section. A run like any
 * other: in the store before its first side effect, holding the base-dir lock,
 * listed by `runs list`, resumable by `runs resume`, mergeable by `runs merge`.
 *
 * Starting a plan again is safe: a run has a plan key (the normalised plan +
 * the commit main/ was on), and an unfinished run with the same key on the same
 * base dir is resumed (`--resume`), started over (`--new`), or — by default —
 * named in a refusal. Subtasks git already has in main are never redone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { requireBaseDir, requireStateDir, type Config } from '../config/config.js';
import { ConfigError, UsageError, describeError, isOrchestratorError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { Manifest } from '../scheduler/index.js';
import { isAncestor } from '../git/repo.js';
import { loadRepoSettings } from '../git/index.js';
import { openRemoteWorkers, repoIdFor } from '../queue/open-remote.js';
import { remoteLauncher } from './plan/remote-worker-step.js';
import { openSqliteStore, type RunRecord, type Store } from '../store/index.js';
import { now, type RunEventListener, type RunOutcome } from './events.js';
import { takeSnapshot } from './report/git-snapshot.js';
import { planSection, type RunReport } from './report/report.js';
import type { ReviewFn } from './review/types.js';
import { executePlan, type PlanRunContext, type PlanRunResult } from './plan/execute-plan.js';
import { planKey } from './plan/plan-key.js';
import { runManifest } from './plan/manifest-file.js';
import { reconcileRunStatus } from './session/run-record.js';
import { openRunSession, runStartInfo } from './session/run-session.js';

/** What to do when an unfinished run of the same plan exists: continue it, start over, or refuse (naming it). */
export type ExistingPlanRun = 'resume' | 'new' | 'refuse';

export interface RunManifestOptions {
  /** The plan (a new run); a resume reads the run's saved manifest instead. */
  manifest?: Manifest;
  config: Config;
  review?: ReviewFn;
  maxParallel?: number;
  budgets?: PlanRunContext['budgets'];
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  logger?: Logger;
  store?: Store;
  /** Resume this plan run (an id or a prefix). */
  resume?: string;
  /** An unfinished run with the same plan key (default: refuse). */
  existing?: ExistingPlanRun;
  /** Asked instead of `existing` when given (a person at a terminal): what to do with that run. */
  askExisting?: (run: RunRecord) => Promise<ExistingPlanRun>;
  /** The manifest file as the person named it, for the commands in a refusal. */
  planFile?: string;
  /** Extra environment for the codex workers. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Overrides for the executor (tests): stall timeout, dirty-main wait, bounds. */
  executor?: Partial<
    Pick<
      PlanRunContext,
      'workerStallMs' | 'dirtyWaitMs' | 'dirtyPollMs' | 'maxHeals' | 'maxReviewRounds' | 'maxMergeAttempts' | 'maxAcceptanceFixes'
    >
  >;
}

export interface RunManifestResult {
  report: RunReport;
  result: PlanRunResult | null;
}

function checkMain(baseDir: string): void {
  const main = path.join(baseDir, 'main');
  if (!fs.existsSync(path.join(main, '.git'))) {
    throw new ConfigError(`${main} is not a git repository`, {
      variable: 'ORCHESTRATOR_BASE_DIR',
      hint: 'the base dir must hold your repository as main/',
    });
  }
}

/**
 * The newest run of this base dir, not succeeded, that ran this same plan from
 * a commit main/ has since only moved forward from (its own merges, say): its
 * stored plan key is this plan's key on that run's base commit.
 */
export async function findUnfinishedPlanRun(
  store: Store,
  baseDir: string,
  manifest: Manifest,
  head: string | null,
): Promise<RunRecord | undefined> {
  for (const listed of store.listRuns({ baseDir })) {
    if (listed.status === 'succeeded') continue;
    const info = runStartInfo(store, listed.id);
    if (!info.planKey || info.planKey !== planKey(manifest, info.baseHead)) continue;
    if (
      info.baseHead &&
      head &&
      info.baseHead !== head &&
      !(await isAncestor(path.join(baseDir, 'main'), info.baseHead, head).catch(() => false))
    )
      continue;
    return reconcileRunStatus(store, listed);
  }
  return undefined;
}

/**
 * Rejects only when the run cannot start (base dir, policy, prompt templates,
 * repository settings, a busy base dir, an unfinished run of the same plan);
 * otherwise resolves with a report whose status is `succeeded` only when every
 * subtask was merged.
 */
export async function runPlanManifest(options: RunManifestOptions): Promise<RunManifestResult> {
  const { config } = options;
  const baseDir = requireBaseDir(config);
  checkMain(baseDir);
  const stateDir = requireStateDir(config);
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });
  const owned = options.store === undefined;
  const store = options.store ?? openSqliteStore(stateDir);
  try {
    let resume = options.resume;
    let key: string | undefined;
    if (resume === undefined) {
      if (!options.manifest) throw new UsageError('run --plan needs a manifest');
      const head = (await takeSnapshot(baseDir)).head;
      key = planKey(options.manifest, head);
      const existing = await findUnfinishedPlanRun(store, baseDir, options.manifest, head);
      if (existing) {
        const how = options.askExisting ? await options.askExisting(existing) : (options.existing ?? 'refuse');
        if (how === 'resume') resume = existing.id;
        else if (how === 'refuse') {
          const file = options.planFile ?? '<manifest.json>';
          throw new UsageError(
            `this plan was already started as run ${existing.id} (${existing.status}) on this base dir and has not finished`,
            {
              hint: `continue it: codex-orch run --plan ${file} --resume (or codex-orch runs resume ${existing.id}); start over: codex-orch run --plan ${file} --new`,
            },
          );
        }
      }
    }
    return await planRoad({ ...options, store, logger, resume }, key);
  } finally {
    if (owned) store.close();
  }
}

async function planRoad(
  options: RunManifestOptions & { store: Store; logger: Logger },
  key: string | undefined,
): Promise<RunManifestResult> {
  const { config, store } = options;
  const modelName = options.review ? `${config.model} (review only)` : 'none (--plan --no-review)';
  const session = await openRunSession({
    config,
    road: 'plan',
    store,
    logger: options.logger,
    model: modelName,
    task: options.manifest?.task,
    resume: options.resume,
    planKey: key || undefined,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  try {
    const { runId, runDir, logger: log } = session;
    const manifest = session.resumed ? runManifest(session.stateDir, session.run).manifest : (options.manifest as Manifest);
    let result: PlanRunResult | null = null;
    let error: { kind: string; message: string } | null = null;
    // With a job queue configured, each subtask's worker step runs on a `codex-orch agent` machine.
    const mainDir = path.join(session.baseDir, 'main');
    const queued = config.queue
      ? await openRemoteWorkers(config, {
          baseDir: session.baseDir,
          mainDir,
          store,
          repoId: repoIdFor(session.baseDir, loadRepoSettings(mainDir).repo),
          logger: log,
          onStatus: (line) => session.emit({ type: 'plan.decision', ts: now(), kind: 'run', action: 'queue', reason: line }),
        })
      : undefined;
    if (queued) {
      session.emit({
        type: 'plan.decision',
        ts: now(),
        kind: 'run',
        action: 'queue',
        reason: `worker steps go to agents of repository ${queued.repoId} through the job queue; bundles through ${queued.artifacts}`,
      });
    }
    try {
      result = await executePlan(manifest, {
        launcher: queued ? remoteLauncher(queued.remote) : undefined,
        config,
        baseDir: session.baseDir,
        runId,
        runDir,
        gateway: session.gateway,
        logger: log,
        onEvent: session.emit,
        store,
        signal: session.controller.signal,
        review: options.review,
        maxParallel: options.maxParallel,
        budgets: options.budgets,
        workerEnv: options.workerEnv,
        ...options.executor,
      });
    } catch (e) {
      if (isOrchestratorError(e) && (e.kind === 'config' || e.kind === 'usage') && !session.resumed) {
        await queued?.close();
        await session.finish({ status: 'failed', error: e, finalText: '', plan: planSection(null, e.toLine()) });
        throw e;
      }
      error = { kind: isOrchestratorError(e) ? e.kind : 'run', message: describeError(e) };
      log.error({ err: e }, 'plan run failed');
      session.emit({ type: 'run.error', ts: now(), runId, kind: error.kind, message: error.message });
    }
    await queued?.close();

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
    const finalText = result
      ? `Plan ${result.allMerged ? 'finished: every subtask merged' : `incomplete: ${result.subtasks.length - result.left.length}/${result.subtasks.length} merged`}.`
      : '';
    const report = await session.finish({
      status,
      error,
      finalText,
      usage: { input: 0, output: 0, requests: 0 },
      plan: planSection(result, error?.message ?? null),
    });
    return { report, result };
  } finally {
    session.release();
  }
}
