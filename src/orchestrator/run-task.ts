import { withBaseDir, type Config } from '../config/config.js';
import type { DispatchOutcome, RunTask } from '../dispatcher/types.js';
import { describeError } from '../errors.js';
import { runOrchestrator } from './run.js';

/**
 * The dispatcher's RunTask in the product: one orchestrator run per task, with
 * the task's own base dir (state dir and command log follow it unless they
 * were set explicitly). Resolves with an outcome; never rejects.
 */
export function makeRunTask(config: Config): RunTask {
  return async (task, signal): Promise<DispatchOutcome> => {
    const started = Date.now();
    const taskConfig = withBaseDir(config, task.baseDir);
    try {
      const report = await runOrchestrator({ task: task.task, config: taskConfig, signal });
      return {
        status: report.status === 'succeeded' ? 'succeeded' : 'failed',
        merges: report.merges.length,
        tokens: report.tokens.total,
        durationMs: report.wallTimeMs,
        runId: report.runId,
        ...(report.error ? { error: report.error.message } : {}),
      };
    } catch (error) {
      return {
        status: 'failed',
        merges: 0,
        tokens: 0,
        durationMs: Date.now() - started,
        error: describeError(error),
      };
    }
  };
}
