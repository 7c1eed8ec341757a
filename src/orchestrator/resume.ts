/**
 * `codex-orch resume <runId>`: continues a run whose process died (or was
 * stopped) from what the store recorded. The run lock is taken over only when
 * its holder is dead or silent (a live one refuses with who holds it); the
 * agent's conversation is restored (or rebuilt from a summary of the store);
 * cut-off workers resume their codex thread; worktrees, branches and merges
 * already made are kept and never made twice. The report covers the whole run.
 */
import { loadConfig, requireStateDir, type Config } from '../config/config.js';
import { openSqliteStore, type Store } from '../store/index.js';
import type { RunReport } from './report/report.js';
import { runOrchestrator, type RunOrchestratorOptions } from './run.js';

export interface ResumeRunOptions extends Omit<RunOrchestratorOptions, 'task' | 'resume' | 'baseDir' | 'dryRun'> {
  /** The run id or an unambiguous prefix (of the id or of its random suffix). */
  runId: string;
}

/**
 * Resumes a run. Rejects when it cannot start (unknown or ambiguous id, a run
 * that already succeeded, a run or base dir held by a live process); otherwise
 * resolves with the report of the whole run, like `runOrchestrator`.
 */
export async function resumeRun(options: ResumeRunOptions): Promise<RunReport> {
  const config: Config =
    options.config ??
    loadConfig({
      ...(options.env ? { env: options.env } : {}),
      overrides: {
        ORCHESTRATOR_MODEL: options.model,
        ...(options.maxTurns !== undefined ? { ORCHESTRATOR_MAX_TURNS: String(options.maxTurns) } : {}),
      },
    });
  const stateDir = requireStateDir(config);
  const owned = options.store === undefined;
  const store: Store = options.store ?? openSqliteStore(stateDir);
  try {
    const run = store.requireRun(options.runId);
    // The run's own base dir and dry-run mode; the state dir (and its store) stay the ones we found it in.
    const runConfig: Config = Object.freeze({ ...config, baseDir: run.baseDir, dryRun: run.dryRun, stateDir });
    const { runId: _id, ...rest } = options;
    return await runOrchestrator({ ...rest, task: run.task, config: runConfig, store, resume: run.id });
  } finally {
    if (owned) store.close();
  }
}
