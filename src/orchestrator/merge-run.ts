/**
 * `codex-orch runs merge <id>`: runs the merge queue now for a stopped
 * plan-road run's complete-but-unmerged subtasks (accepted and reviewed, their
 * branch committed), without a model and without workers: the plan executor in
 * merge-only mode over the saved manifest, with the repository's smoke command
 * through the guarded gateway. Merges are recorded in the store (merges,
 * subtasks, commands, events) and in manifest.json / decisions.jsonl.
 *
 * A subtask whose merge needs a worker (conflict, failed smoke test — the
 * queue reverted it) or cannot happen now (main/ dirty) stays `complete` with
 * the reason; `codex-orch resume <id>` reworks it. A seed-road run has no
 * manifest: its merges are the agent's, so it is refused with a clear message.
 */
import type { Config } from '../config/config.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { TaskStatus } from '../scheduler/index.js';
import { acquireRunLock, type RunRecord, type Store } from '../store/index.js';
import { now } from './events.js';
import { executePlan, type PlanRunContext } from './plan/execute-plan.js';
import { runManifest } from './plan/manifest-file.js';

export { runManifest };
import { planSection } from './report/report.js';
import { openRunSession } from './session/run-session.js';

export interface MergeRunResult {
  runId: string;
  manifestFile: string;
  /** Subtasks that were complete-but-unmerged when the command started. */
  candidates: string[];
  /** What was merged now, in merge order. */
  merged: { taskId: string; branch: string; sha: string }[];
  /** Candidates not merged, with why (they stay complete). */
  notMerged: { id: string; status: TaskStatus; reason: string | null }[];
  /** Every subtask's status afterwards. */
  subtasks: { id: string; status: TaskStatus }[];
}

/**
 * Merges a stopped run's complete subtasks now, in a run session of its own
 * (the run lock and the base-dir lock: a live run or a resume in progress
 * refuses), and writes the run's report again with what was merged.
 */
export async function mergeRunNow(args: {
  store: Store;
  stateDir: string;
  /** Config of the CLI; the run's own base dir replaces its base dir. */
  config: Config;
  run: RunRecord;
  logger?: Logger;
  signal?: AbortSignal;
  /** Overrides for the executor (tests): dirty-main wait. */
  executor?: Partial<Pick<PlanRunContext, 'dirtyWaitMs' | 'dirtyPollMs'>>;
}): Promise<MergeRunResult> {
  const { store, stateDir, run } = args;
  const { manifest, manifestFile } = runManifest(stateDir, run);
  const candidates = manifest.phases
    .flatMap((p) => p.tasks)
    .filter((t) => t.status === 'complete')
    .map((t) => t.id);
  const statuses = () => manifest.phases.flatMap((p) => p.tasks).map((t) => ({ id: t.id, status: t.status }));
  if (candidates.length === 0) {
    // Still refuse a run that is live: its manifest is changing under us.
    acquireRunLock(store, run.id, { heartbeatMs: 0 }).release();
    return { runId: run.id, manifestFile, candidates, merged: [], notMerged: [], subtasks: statuses() };
  }
  const config: Config = Object.freeze({ ...args.config, baseDir: run.baseDir, stateDir, dryRun: false });
  const session = await openRunSession({
    config,
    road: 'merge',
    store,
    resume: run.id,
    logger: (args.logger ?? silentLogger).child({ component: 'runs-merge' }),
    signal: args.signal,
  });
  try {
    session.emit({ type: 'run.merge.started', ts: now(), runId: run.id, candidates, pid: process.pid });
    const result = await executePlan(manifest, {
      config,
      baseDir: run.baseDir,
      runId: run.id,
      runDir: session.runDir,
      gateway: session.gateway,
      store,
      mergeOnly: true,
      // Do not wait for a person's edits in main/: say so at once; they run the command again.
      dirtyWaitMs: 0,
      ...args.executor,
      logger: session.logger,
      signal: session.controller.signal,
    });
    const merged = result.merges.map((m) => ({ taskId: m.taskId, branch: m.branch, sha: m.sha }));
    const notMerged = result.left.filter((l) => candidates.includes(l.id));
    session.emit({ type: 'run.merge.finished', ts: now(), runId: run.id, merged, notMerged });
    const status = result.allMerged ? 'succeeded' : result.aborted ? 'aborted' : 'failed';
    await session.finish({
      status,
      error: result.allMerged
        ? null
        : {
            kind: 'run',
            message: `runs merge: ${result.left.length} of ${result.subtasks.length} subtask(s) not merged: ${result.left.map((l) => `${l.id} (${l.status})`).join(', ')}`,
          },
      finalText: `runs merge: ${merged.length} of ${candidates.length} complete subtask(s) merged.`,
      usage: { input: run.tokens.input, output: run.tokens.output, requests: 0 },
      plan: planSection(result, null),
      // A run with work left keeps the status it stopped with, so resume still applies.
      storeStatus: result.allMerged ? undefined : run.status === 'running' || run.status === 'pending' ? 'interrupted' : run.status,
    });
    return {
      runId: run.id,
      manifestFile,
      candidates,
      merged,
      notMerged,
      subtasks: result.subtasks.map((s) => ({ id: s.id, status: s.status })),
    };
  } finally {
    session.release();
  }
}
