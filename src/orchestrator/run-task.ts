import fs from 'node:fs';
import path from 'node:path';
import { requireBaseDir, withBaseDir, type Config } from '../config/config.js';
import { failureOf } from '../dispatcher/failure.js';
import type { DispatchOutcome, RunTask } from '../dispatcher/types.js';
import { ConfigError, StoreError, describeError } from '../errors.js';
import { readJsonFile, runDir } from '../store/index.js';
import { loadPolicy } from '../tools/run-repo-command/policy-file.js';
import type { RunEvent, RunEventListener } from './events.js';
import type { RunReport } from './report/report.js';
import { resumeRun } from './resume.js';
import { runOrchestrator } from './run.js';

/** Follows one task's run (notifications): its events, then `flush` once the run has ended. */
export interface RunObserver {
  onEvent: RunEventListener;
  flush(): Promise<void>;
}

/** The two ways a task's run starts; replaceable for tests that run the dispatcher over a stand-in orchestrator. */
export interface TaskRunners {
  run: typeof runOrchestrator;
  resume: typeof resumeRun;
}

/**
 * What every task of a dispatch needs, checked once before any task is taken:
 * the model key, a readable policy file and, when there is a default base dir,
 * that it holds a git checkout in main/. A ConfigError here stops the dispatch
 * (exit 2) and nothing is recorded for any task.
 */
export function checkDispatchConfig(config: Config): void {
  if (!config.openaiApiKey) {
    throw new ConfigError('OPENAI_API_KEY: not set; every dispatched task runs the orchestrator model, which needs a key', {
      variable: 'OPENAI_API_KEY',
      hint: 'export OPENAI_API_KEY (any non-empty value works with a local OPENAI_BASE_URL), then dispatch again',
    });
  }
  loadPolicy(config.policyFile);
  if (config.baseDir !== undefined) {
    const baseDir = requireBaseDir(config);
    if (!fs.existsSync(path.join(baseDir, 'main', '.git'))) {
      throw new ConfigError(`ORCHESTRATOR_BASE_DIR: ${baseDir} has no git checkout in main/`, {
        variable: 'ORCHESTRATOR_BASE_DIR',
        hint: `clone or move your repository to ${path.join(baseDir, 'main')}, or pass another --base-dir`,
      });
    }
  }
}

/**
 * The dispatcher's RunTask in the product: one orchestrator run per task, with
 * the task's own base dir (state dir and command log follow it unless they
 * were set explicitly); `task.resume` continues that run instead (an
 * interrupted attempt). The run id is handed to `context.onRunId` as soon as
 * the run has one. Resolves with an outcome whose `failure` says why it did not
 * succeed (`busy`: the base dir is held by another run); never rejects.
 * Throws a ConfigError up front when the configuration cannot run any task.
 */
export function makeRunTask(
  config: Config,
  options: { onEvent?: (taskId: string, event: RunEvent) => void; runners?: TaskRunners; observe?: (config: Config) => RunObserver } = {},
): RunTask {
  checkDispatchConfig(config);
  const runners = options.runners ?? { run: runOrchestrator, resume: resumeRun };
  return async (task, signal, context): Promise<DispatchOutcome> => {
    const started = Date.now();
    const taskConfig = withBaseDir(config, task.baseDir);
    const observer = options.observe?.(taskConfig);
    const onEvent = (event: RunEvent): void => {
      if (event.type === 'run.started' && event.runId) context?.onRunId?.(event.runId);
      options.onEvent?.(task.id, event);
      observer?.onEvent(event);
    };
    const fresh = (): Promise<RunReport> => runners.run({ task: task.task, config: taskConfig, signal, onEvent });
    const resumed = async (runId: string): Promise<RunReport> => {
      try {
        return await runners.resume({ runId, config: taskConfig, signal, onEvent });
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        // The run was pruned from the store: nothing to continue, so it starts over.
        if (error.message.startsWith('no run "')) return fresh();
        // It had finished before its dispatcher could record it: its report is the outcome.
        const report =
          /already succeeded/.test(error.message) && taskConfig.stateDir
            ? readJsonFile(runDir(taskConfig.stateDir, runId).report)
            : undefined;
        if (report) return report as RunReport;
        throw error;
      }
    };
    try {
      const report = task.resume !== undefined ? await resumed(task.resume) : await fresh();
      const diskFull = report.error !== null && /ENOSPC|SQLITE_FULL|disk is full/i.test(report.error.message);
      return {
        status: report.status === 'succeeded' ? 'succeeded' : 'failed',
        merges: report.merges.length,
        tokens: report.tokens.total,
        durationMs: report.wallTimeMs,
        runId: report.runId,
        error: report.error?.message,
        failure: report.status === 'succeeded' ? undefined : diskFull ? 'disk' : report.status === 'aborted' ? 'interrupted' : 'run',
      };
    } catch (error) {
      return {
        status: 'failed',
        merges: 0,
        tokens: 0,
        durationMs: Date.now() - started,
        error: describeError(error),
        failure: failureOf(error),
        runId: task.resume,
      };
    } finally {
      await observer?.flush();
    }
  };
}
