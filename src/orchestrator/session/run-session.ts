/**
 * One run session for every road (the agent road, `run --plan`, `runs merge`,
 * a resume of either): the store row and the base-dir + run locks (taken
 * before the first side effect), the run directory, the one emitter every
 * event goes through (store → events.jsonl → listener), the gateway context
 * that records each command, the git snapshots the report compares, and
 * `finish`, which writes report.json / report.md and the run's final status.
 * A road is a small function over a session.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { DiskFullError, StoreError, asDiskFull, type OrchestratorError } from '../../errors.js';
import { createLogger, type Logger } from '../../logging/logger.js';
import { ensureRunDir, type RunRecord, type RunStatus as StoreRunStatus, type Store } from '../../store/index.js';
import { gatewaySandbox, type CodexRunner, type GatewayContext } from '../../tools/run-repo-command/gateway.js';
import { loadPolicy } from '../../tools/run-repo-command/policy-file.js';
import { codexActivity, codexModelName } from '../../workers/codex/index.js';
import {
  commandFinishedEvent,
  commandSecurityEvent,
  now,
  type Road,
  type RunEvent,
  type RunEventListener,
  type RunOutcome,
} from '../events.js';
import { mainHistory, takeSnapshot, type GitSnapshot } from '../report/git-snapshot.js';
import { buildReport, reportPricing, type CommandRecord, type ReportPlan, type RunReport } from '../report/report.js';
import { renderReportMarkdown } from '../report/report-text.js';
import { beginRun, initialSnapshot, recordCommand, slimRecord, storedRecords, syncMerges, type ActiveRun } from './run-record.js';

export interface OpenRunSessionOptions {
  config: Config;
  /** The task in the person's words (a resume takes the stored one). */
  task?: string;
  road: Road;
  /** The run store; a given store is not closed by the session. */
  store?: Store;
  /** Resume this run (an id or a prefix) instead of creating one. */
  resume?: string;
  logger?: Logger;
  /** The caller's abort; so does losing the run lock. */
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  runCodex?: CodexRunner;
  /** The model named in the run row and the report (default config.model). */
  model?: string;
  /** Kept with the run's start (store only): the plan key of a `run --plan` run. */
  planKey?: string;
}

/** The store data of a `run.started` event beyond the event itself. */
export interface RunStartExtra {
  snapshot?: GitSnapshot;
  planKey?: string;
}

export interface SessionOutcome {
  status: RunOutcome;
  error: OrchestratorError | { kind: string; message: string } | null;
  finalText: string;
  usage?: { input: number; output: number; requests: number };
  plan?: ReportPlan | undefined;
  /** The status the store keeps when it is not the report's (runs merge leaves a partly merged run resumable). */
  storeStatus?: StoreRunStatus;
}

export interface RunSession {
  readonly road: Road;
  readonly config: Config;
  readonly store: Store;
  readonly run: RunRecord;
  readonly runId: string;
  readonly runDir: string;
  readonly baseDir: string;
  readonly stateDir: string;
  readonly task: string;
  readonly model: string;
  readonly resumed: boolean;
  readonly tookOver: ActiveRun['tookOver'];
  readonly logger: Logger;
  /** Aborted by the caller's signal or when the run lock is lost. */
  readonly controller: AbortController;
  readonly gateway: GatewayContext;
  /** Commands this process ran; the report adds those of earlier processes. */
  readonly records: CommandRecord[];
  /** main/ when the run first started (kept across resumes) and now. */
  readonly before: GitSnapshot;
  readonly current: GitSnapshot;
  emit: (event: RunEvent, extra?: Record<string, unknown>) => void;
  /** A write of the run failed: a full disk stops the run (finish then throws DiskFullError); anything else is logged. */
  noteWriteError: (error: unknown, file: string, what: string) => void;
  /** Merges main gained since the run started, recorded once each. */
  syncMerges: () => Promise<void>;
  /** Writes the report files and the final status; emits run.finished. Call once. */
  finish: (outcome: SessionOutcome) => Promise<RunReport>;
  /** Releases the locks (and closes a store the session opened). Idempotent. */
  release: () => void;
}

function errorLine(error: SessionOutcome['error']): { kind: string; message: string } | null {
  if (!error) return null;
  return { kind: error.kind, message: 'toLine' in error && typeof error.toLine === 'function' ? error.toLine() : error.message };
}

/** The road and plan key of a run, from what its first start recorded. */
export function runStartInfo(store: Store, runId: string): { road: Road; planKey: string | undefined; baseHead: string | null } {
  const first = store.listEvents(runId, { limit: 50 }).find((e) => e.type === 'run.started');
  const data = (first?.data ?? {}) as { road?: Road } & RunStartExtra;
  return { road: data.road ?? 'agent', planKey: data.planKey, baseHead: data.snapshot?.head ?? null };
}

export async function openRunSession(options: OpenRunSessionOptions): Promise<RunSession> {
  const { config, road } = options;
  const stateDir = config.stateDir;
  const baseDir = config.baseDir;
  if (!stateDir || !baseDir) throw new StoreError('the run session needs a base dir and a state dir');
  const logger = options.logger ?? createLogger({ stateDir, level: config.logLevel });
  const policy = loadPolicy(config.policyFile);
  const model = options.model ?? config.model;
  const controller = new AbortController();
  const active = beginRun({
    store: options.store,
    stateDir,
    baseDir,
    task: options.task ?? '',
    model,
    dryRun: config.dryRun,
    resume: options.resume,
    onLost: (error) => {
      logger.error({ err: error }, 'the run lock was taken by another process; stopping');
      controller.abort();
    },
  });
  const onAbort = () => controller.abort();
  try {
    const { store, resumed } = active;
    const run = active.run;
    const runId = run.id;
    const runDir = ensureRunDir(stateDir, runId).root;
    const log = logger.child({ runId });
    const eventsFile = path.join(runDir, 'events.jsonl');
    /** The first full disk seen: the run stops (what is recorded is consistent) and ends with this one line. */
    let diskFull: DiskFullError | undefined;
    const noteWriteError = (error: unknown, file: string, what: string) => {
      const mapped = asDiskFull(error, file);
      if (mapped instanceof DiskFullError) {
        if (!diskFull) {
          diskFull = mapped;
          log.error({ err: error }, 'the disk is full; stopping the run');
          controller.abort();
        }
        return;
      }
      log.error({ err: error }, what);
    };
    const emit = (event: RunEvent, extra: Record<string, unknown> = {}) => {
      try {
        store.appendEvent(runId, { type: event.type, ts: event.ts, data: { ...event, ...extra } });
      } catch (error) {
        noteWriteError(error, path.join(stateDir, 'state.db'), 'cannot record an event in the store');
      }
      try {
        fs.appendFileSync(eventsFile, `${JSON.stringify(event)}\n`);
      } catch (error) {
        noteWriteError(error, eventsFile, 'cannot append to events.jsonl');
      }
      try {
        options.onEvent?.(event);
      } catch (error) {
        log.warn({ err: error }, 'onEvent listener threw');
      }
    };
    if (options.signal?.aborted) controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const records: CommandRecord[] = [];
    const gateway: GatewayContext = {
      config,
      baseDir,
      policy,
      logger: log,
      runId,
      signal: controller.signal,
      runCodex: options.runCodex,
      onStart: (request) => emit({ type: 'command.started', ts: now(), worktree: request.worktree, command: request.command }),
      onCodexEvent: (request, e) => {
        const activity = codexActivity(e);
        if (activity) emit({ type: 'worker.activity', ts: now(), worktree: request.worktree, activity });
      },
      onRecord: (request, result, entry) => {
        const record = { request, result, entry };
        records.push(record);
        try {
          recordCommand(store, runId, request, result, entry, controller.signal.aborted);
        } catch (error) {
          noteWriteError(error, path.join(stateDir, 'state.db'), 'cannot record a command in the store');
        }
        emit(commandFinishedEvent(request, result, entry), { record: slimRecord(record) });
        const security = commandSecurityEvent(request, result);
        if (security) emit(security);
      },
    };
    const sandbox = gatewaySandbox(gateway);
    const priorRecords = resumed ? storedRecords(store, runId) : [];
    const current = await takeSnapshot(baseDir);
    const before = (resumed ? initialSnapshot(store, runId) : undefined) ?? current;
    const task = resumed ? run.task : (options.task ?? '');
    const startedAt = resumed ? new Date(run.createdAt) : new Date();

    if (resumed) {
      const took = active.tookOver;
      emit({
        type: 'run.resumed',
        ts: now(),
        runId,
        pid: process.pid,
        road,
        tookOverFrom: took ? { pid: took.pid, reason: took.reason, heartbeatAt: took.heartbeatAt } : undefined,
      });
      log.info({ task, baseDir, road, tookOver: took }, 'run resumed');
    } else {
      const extra: RunStartExtra = { snapshot: before, planKey: options.planKey || undefined };
      emit(
        {
          type: 'run.started',
          ts: now(),
          runId,
          task,
          baseDir,
          dryRun: config.dryRun,
          model,
          road,
          workerModel: codexModelName(config),
          sandbox: sandbox.backend.description,
        },
        { ...extra },
      );
      fs.writeFileSync(path.join(runDir, 'task.md'), `${task}\n`);
      log.info({ task, baseDir, model, road, dryRun: config.dryRun }, 'run started');
    }

    let finished = false;
    const sync = async () => {
      if (config.dryRun) return;
      await syncMerges(store, runId, baseDir, before.head).then(
        () => undefined,
        (error: unknown) => log.warn({ err: error }, 'cannot record merges'),
      );
    };
    const session: RunSession = {
      road,
      config,
      store,
      run,
      runId,
      runDir,
      baseDir,
      stateDir,
      task,
      model,
      resumed,
      tookOver: active.tookOver,
      logger: log,
      controller,
      gateway,
      records,
      before,
      current,
      emit,
      syncMerges: sync,
      noteWriteError,
      async finish(outcome) {
        if (finished) throw new StoreError(`run ${runId} was already finished by this session`);
        finished = true;
        options.signal?.removeEventListener('abort', onAbort);
        await sync();
        const after = await takeSnapshot(baseDir);
        const history = await mainHistory(baseDir, before.head, after.head);
        const finishedAt = new Date();
        const error = errorLine(outcome.error);
        const stored = store.requireRun(runId);
        const usage = outcome.usage ?? { input: stored.tokens.input, output: stored.tokens.output, requests: 0 };
        const report = buildReport({
          sandbox: { backend: sandbox.backend.name, description: sandbox.backend.description, gaps: sandbox.backend.gaps },
          pricing: reportPricing(config),
          runId,
          task,
          baseDir,
          model: stored.model ?? model,
          dryRun: config.dryRun,
          status: outcome.status,
          startedAt,
          finishedAt,
          records: [...priorRecords, ...records],
          before,
          after,
          history,
          orchestratorUsage: usage,
          finalText: outcome.finalText,
          error,
          runDir,
          plan: outcome.plan,
        });
        try {
          // Fold the WAL back before the big writes, so its growth never stands in their way.
          store.checkpoint();
          fs.writeFileSync(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
          fs.writeFileSync(path.join(runDir, 'report.md'), renderReportMarkdown(report));
          store.updateRun(runId, {
            status: diskFull ? 'interrupted' : (outcome.storeStatus ?? outcome.status),
            error: diskFull ? diskFull.toLine() : error ? error.message : null,
            summary: outcome.finalText ? outcome.finalText.slice(0, 2000) : null,
            finishedAt: finishedAt.toISOString(),
          });
        } catch (writeError) {
          noteWriteError(writeError, runDir, 'cannot write the report');
          if (!diskFull) throw writeError;
        }
        emit({ type: 'run.finished', ts: now(), runId, status: outcome.status, wallTimeMs: report.wallTimeMs });
        log.info({ status: outcome.status, road, wallTimeMs: report.wallTimeMs, merges: report.merges.length }, 'run finished');
        store.checkpoint();
        if (diskFull) {
          // Best effort: a run stopped by a full disk stays resumable, and its lock goes with this process.
          try {
            store.updateRun(runId, { status: 'interrupted', error: diskFull.toLine() });
          } catch {
            /* the disk is still full: the run lock's dead pid marks it interrupted later */
          }
          throw diskFull;
        }
        return report;
      },
      release() {
        options.signal?.removeEventListener('abort', onAbort);
        active.release();
      },
    };
    return session;
  } catch (error) {
    options.signal?.removeEventListener('abort', onAbort);
    active.release();
    throw error;
  }
}
