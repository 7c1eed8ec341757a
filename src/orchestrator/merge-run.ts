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
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Manifest, TaskStatus } from '../scheduler/index.js';
import { acquireBaseDirLock, acquireRunLock, ensureRunDir, runDir as runDirPaths, type LockHandle, type RunRecord, type Store } from '../store/index.js';
import type { GatewayContext } from '../tools/run-repo-command/gateway.js';
import { loadPolicy } from '../tools/run-repo-command/policy-file.js';
import { now } from './events.js';
import { executePlan, type PlanRunContext } from './plan/execute-plan.js';
import { loadManifestFile, parseManifest } from './plan/manifest-file.js';
import { recordCommand } from './session/run-record.js';

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

/** The run's saved manifest (manifest.json, else the copy in the store), or a UsageError for a seed-road run. */
export function runManifest(stateDir: string, run: RunRecord): { manifest: Manifest; manifestFile: string } {
  const manifestFile = path.join(runDirPaths(stateDir, run.id).root, 'manifest.json');
  if (fs.existsSync(manifestFile)) return { manifest: loadManifestFile(manifestFile), manifestFile };
  if (run.manifest !== undefined && run.manifest !== null) return { manifest: parseManifest(run.manifest, `run ${run.id} (store)`), manifestFile };
  throw new UsageError(`runs merge is not available for seed-road runs: merges are done by the agent (run ${run.id} has no plan manifest)`, {
    hint: `codex-orch resume ${run.id} continues the run, which merges its completed work`,
  });
}

/**
 * Merges a stopped run's complete subtasks now. Takes the run lock and the
 * base-dir lock first (a live run or a resume in progress refuses), and
 * releases them before it returns.
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
  const candidates = manifest.phases.flatMap((p) => p.tasks).filter((t) => t.status === 'complete').map((t) => t.id);
  const locks: LockHandle[] = [];
  try {
    locks.push(acquireRunLock(store, run.id));
    locks.push(acquireBaseDirLock(store, run.baseDir, { runId: run.id }));
    const log = (args.logger ?? silentLogger).child({ runId: run.id, component: 'runs-merge' });
    const statuses = () => manifest.phases.flatMap((p) => p.tasks).map((t) => ({ id: t.id, status: t.status }));
    if (candidates.length === 0) return { runId: run.id, manifestFile, candidates, merged: [], notMerged: [], subtasks: statuses() };

    const config: Config = Object.freeze({ ...args.config, baseDir: run.baseDir, stateDir, dryRun: false });
    const runDir = ensureRunDir(stateDir, run.id).root;
    const eventsFile = path.join(runDir, 'events.jsonl');
    const event = (type: string, data: Record<string, unknown>) => {
      const e = { type, ts: now(), ...data };
      try {
        store.appendEvent(run.id, { type, ts: e.ts, data: e });
      } catch (error) {
        log.warn({ err: error }, 'cannot record an event in the store');
      }
      fs.appendFileSync(eventsFile, `${JSON.stringify(e)}\n`);
    };
    const gateway: GatewayContext = {
      config,
      baseDir: run.baseDir,
      policy: loadPolicy(config.policyFile),
      logger: log,
      runId: run.id,
      ...(args.signal ? { signal: args.signal } : {}),
      onRecord: (request, result, entry) => {
        try {
          recordCommand(store, run.id, request, result, entry, false);
        } catch (error) {
          log.warn({ err: error }, 'cannot record a command in the store');
        }
      },
    };
    event('run.merge.started', { runId: run.id, candidates, pid: process.pid });
    const result = await executePlan(manifest, {
      config,
      baseDir: run.baseDir,
      runId: run.id,
      runDir,
      gateway,
      store,
      mergeOnly: true,
      // Do not wait for a person's edits in main/: say so at once; they run the command again.
      dirtyWaitMs: 0,
      ...args.executor,
      logger: log,
      ...(args.signal ? { signal: args.signal } : {}),
    });
    const merged = result.merges.map((m) => ({ taskId: m.taskId, branch: m.branch, sha: m.sha }));
    const notMerged = result.left.filter((l) => candidates.includes(l.id));
    event('run.merge.finished', { runId: run.id, merged, notMerged });
    return { runId: run.id, manifestFile, candidates, merged, notMerged, subtasks: result.subtasks.map((s) => ({ id: s.id, status: s.status })) };
  } finally {
    for (const l of locks.reverse()) l.release();
  }
}
