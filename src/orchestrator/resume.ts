/**
 * `codex-orch resume <runId>`: continues a run whose process died (or was
 * stopped) from what the store recorded. The run lock is taken over only when
 * its holder is dead or silent (a live one refuses with who holds it); the
 * agent's conversation is restored (or rebuilt from a summary of the store);
 * cut-off workers resume their codex thread; worktrees, branches and merges
 * already made are kept and never made twice. The report covers the whole run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, requireStateDir, type Config } from '../config/config.js';
import { StoreError } from '../errors.js';
import { openSqliteStore, STATE_DB, type Store } from '../store/index.js';
import type { RunReport } from './report/report.js';
import { createReviewer } from './review/reviewer.js';
import { runOrchestrator, type RunOrchestratorOptions } from './run.js';
import { runPlanManifest } from './run-plan.js';
import { runStartInfo } from './session/run-session.js';

export interface ResumeRunOptions extends Omit<RunOrchestratorOptions, 'task' | 'resume' | 'baseDir' | 'dryRun'> {
  /** The run id or an unambiguous prefix (of the id or of its random suffix). */
  runId: string;
}

/**
 * Resumes a run of any road: an agent run continues its conversation, a
 * `run --plan` run its manifest. Rejects when it cannot start (no run store,
 * an unknown or ambiguous id, a run that already succeeded, a run or base dir
 * held by a live process); otherwise resolves with the report of the whole run.
 */
export async function resumeRun(options: ResumeRunOptions): Promise<RunReport> {
  const config: Config =
    options.config ??
    loadConfig({
      env: options.env,
      overrides: {
        ORCHESTRATOR_MODEL: options.model,
        ORCHESTRATOR_MAX_TURNS: options.maxTurns === undefined ? undefined : String(options.maxTurns),
      },
    });
  const stateDir = requireStateDir(config);
  const owned = options.store === undefined;
  // Looking a run up never creates a database.
  if (owned && !fs.existsSync(path.join(stateDir, STATE_DB))) {
    throw new StoreError(`no run "${options.runId}": there is no run store in ${stateDir}`, {
      hint: 'pass --base-dir <dir> or set ORCHESTRATOR_STATE_DIR to where the run was made',
    });
  }
  const store: Store = options.store ?? openSqliteStore(stateDir);
  try {
    const run = store.requireRun(options.runId);
    // The run's own base dir and dry-run mode; the state dir (and its store) stay the ones we found it in.
    const runConfig: Config = Object.freeze({ ...config, baseDir: run.baseDir, dryRun: run.dryRun, stateDir });
    const { runId: _id, ...rest } = options;
    if (runStartInfo(store, run.id).road === 'plan') {
      const review = run.model?.endsWith('(review only)') ? createReviewer(runConfig) : undefined;
      const { report } = await runPlanManifest({
        config: runConfig,
        store,
        resume: run.id,
        review,
        logger: options.logger,
        signal: options.signal,
        onEvent: options.onEvent,
      });
      return report;
    }
    return await runOrchestrator({ ...rest, task: run.task, config: runConfig, store, resume: run.id });
  } finally {
    if (owned) store.close();
  }
}
