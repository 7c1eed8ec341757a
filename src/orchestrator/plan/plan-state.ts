/**
 * The plan state: the scheduler's state and the manifest it is mirrored into
 * after every transition (manifest.json, and the run store when there is
 * one). The store is written first, so the file never claims more than the
 * store has; store mirroring is best effort (a failure is logged once and the
 * run goes on with the run directory).
 */
import type { Logger } from '../../logging/logger.js';
import {
  apply,
  createSchedule,
  type Gate,
  type Manifest,
  type ManifestTask,
  type ScheduleEvent,
  type ScheduleState,
} from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import { now, type RunEvent } from '../events.js';
import type { DecisionKind } from './decisions-log.js';
import { saveManifest } from './manifest-file.js';

export interface PlanStateOptions {
  runId: string;
  manifestFile: string;
  store?: Store;
  log: Logger;
  emit: (event: RunEvent) => void;
  decide: (kind: DecisionKind, action: string, reason: string, taskId?: string, data?: Record<string, unknown>) => void;
}

export class PlanState {
  readonly byId = new Map<string, ManifestTask>();
  private state: ScheduleState | undefined;
  private store: Store | undefined;

  constructor(
    readonly manifest: Manifest,
    private readonly o: PlanStateOptions,
  ) {
    for (const phase of manifest.phases) for (const t of phase.tasks) this.byId.set(t.id, t);
    this.store = o.store;
  }

  get schedule(): ScheduleState {
    if (!this.state) throw new Error('the plan state has not started');
    return this.state;
  }

  /** Creates the scheduler state from the manifest as it is now, writes a store row per subtask and saves. */
  start(options: { wip: number; gate?: Gate }): void {
    this.state = createSchedule(this.manifest, options);
    let position = 0;
    for (const phase of this.manifest.phases) {
      for (const t of phase.tasks) {
        const row = {
          runId: this.o.runId,
          id: t.id,
          position: position++,
          phase: phase.name,
          title: t.title,
          kind: t.kind,
          status: t.status,
          prompt: t.prompt,
          files: t.files,
          dependsOn: t.dependsOn,
          attempts: t.attempts,
          acceptance: t.acceptance,
        };
        this.withStore('subtask', (s) => s.upsertSubtask(row));
      }
    }
    this.sync();
  }

  readonly withStore = (what: string, fn: (s: Store) => void): void => {
    if (!this.store) return;
    try {
      fn(this.store);
    } catch (error) {
      this.o.log.warn({ err: error, what }, 'run store write failed; continuing with the run directory only');
      this.store = undefined;
    }
  };

  readonly save = (): void => {
    this.withStore('manifest', (s) => s.updateRun(this.o.runId, { manifest: this.manifest }));
    try {
      saveManifest(this.o.manifestFile, this.manifest);
    } catch (error) {
      this.o.log.error({ err: error }, 'cannot save manifest.json');
    }
  };

  /** Copies the scheduler's statuses into the manifest (events and store rows for what changed), then saves. */
  readonly sync = (): void => {
    for (const [id, t] of this.byId) {
      const s = this.schedule.tasks[id];
      if (!s) continue;
      if (t.status !== s.status || t.reason !== s.reason || t.attempts !== s.attempts) {
        t.status = s.status;
        t.reason = s.reason;
        t.attempts = s.attempts;
        this.o.emit({ type: 'subtask.status', ts: now(), taskId: id, status: s.status, reason: s.reason, attempts: s.attempts });
        this.withStore('subtask', (st) =>
          st.upsertSubtask({
            runId: this.o.runId,
            id,
            status: s.status,
            reason: s.reason,
            attempts: s.attempts,
            worktree: t.worktree,
            branch: t.branch,
            threadId: t.threadId,
            startedAt: t.startedAt,
            endedAt: t.endedAt,
          }),
        );
      }
    }
    this.save();
  };

  /** One scheduler transition: applied, its decision logged, mirrored. */
  readonly transition = (event: ScheduleEvent, reason: string, data?: Record<string, unknown>): void => {
    this.state = apply(this.schedule, event);
    const t = this.byId.get(event.id) as ManifestTask;
    if (event.type === 'merged' || event.type === 'failed' || event.type === 'stuck') t.endedAt = now();
    this.o.decide('schedule', event.type, reason, event.id, data);
    this.sync();
  };
}
