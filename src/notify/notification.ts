/**
 * What a person is told about a run, and when: folded from the run's
 * RunEvents into a few notification events. The same payload goes to every
 * channel (terminal, tmux, desktop, webhook, hook command); see
 * docs/notifications.md for its fields.
 */
import path from 'node:path';
import { costOf, priceOf, type PriceTable, type TokenTally } from '../cost/index.js';
import type { RunEvent } from '../orchestrator/events.js';

export const NOTIFICATION_EVENTS = [
  'run.succeeded',
  'run.failed',
  'run.interrupted',
  'worker.stuck',
  'worker.crashed',
  'budget.reached',
  'approval.needed',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface Notification {
  /** Payload format version. */
  version: 1;
  event: NotificationEvent;
  runId: string;
  /** One line for a person. */
  summary: string;
  ts: string;
  task: string | null;
  /** The subtask or worker the event is about, when it is about one. */
  taskId: string | null;
  workerId: string | null;
  counts: { subtasks: number; merged: number; failed: number; awaitingApproval: number; workers: number };
  /** Tokens so far (workers, reviewer, orchestrator model); money when a price is known, else null. */
  cost: { tokens: number; usd: number | null };
  /** The run's report.md (written when the run ends; null while it runs or without a state dir). */
  reportPath: string | null;
}

/**
 * Follows one run's events and says which ones a person should hear about.
 * Pure apart from the clock: the caller delivers what `next` returns.
 */
export class NotificationTracker {
  #runId = '';
  #task: string | null = null;
  #subtasks = 0;
  readonly #status = new Map<string, string>();
  #workers = 0;
  #tokens = 0;
  /** Dollars of the tokens whose model has a price; null until one has. */
  #usd: number | null = null;
  #model: string | null = null;
  #workerModel: string | null = null;
  readonly #prices: PriceTable | undefined;
  #awaiting = new Set<string>();
  readonly #stateDir: string | undefined;

  constructor(options: { stateDir?: string; prices?: PriceTable } = {}) {
    this.#stateDir = options.stateDir;
    this.#prices = options.prices;
  }

  #price(model: string | null | undefined, usage: TokenTally | undefined): void {
    if (!usage || !this.#prices) return;
    const price = priceOf(this.#prices, model);
    if (price) this.#usd = (this.#usd ?? 0) + costOf(usage, price);
  }

  next(e: RunEvent): Notification | null {
    switch (e.type) {
      case 'run.started':
        this.#runId = e.runId;
        this.#task = e.task;
        this.#model = e.model;
        this.#workerModel = e.workerModel ?? null;
        return null;
      case 'plan.started':
        this.#runId ||= e.runId;
        this.#task ??= e.task;
        this.#subtasks = e.tasks;
        return null;
      case 'subtask.status':
        this.#status.set(e.taskId, e.status);
        if (e.status !== 'complete') this.#awaiting.delete(e.taskId);
        return null;
      case 'agent.turn':
        this.#price(this.#model, e.usage);
        return null;
      case 'plan.worker':
        if (e.phase === 'started') {
          this.#workers++;
          return null;
        }
        this.#tokens += e.tokens ?? 0;
        this.#price(e.model ?? this.#workerModel, e.usage);
        if (e.purpose === 'review') return null;
        if (e.status === 'stuck')
          return this.#make(
            'worker.stuck',
            `worker ${e.workerId} of ${e.taskId} is stuck${e.reason ? `: ${firstLine(e.reason)}` : ''}`,
            e.ts,
            e.taskId,
            e.workerId,
          );
        if (e.status === 'error' && e.reason !== 'aborted')
          return this.#make(
            'worker.crashed',
            `worker ${e.workerId} of ${e.taskId} failed${e.reason ? `: ${firstLine(e.reason)}` : ''}`,
            e.ts,
            e.taskId,
            e.workerId,
          );
        return null;
      case 'command.finished':
        if (e.worker?.status === 'stuck')
          return this.#make('worker.stuck', `worker in ${e.worktree} is stuck: ${firstLine(e.worker.summary)}`, e.ts, null, null);
        if (e.worker?.status === 'error' && e.worker.summary !== 'aborted')
          return this.#make('worker.crashed', `worker in ${e.worktree} failed: ${firstLine(e.worker.summary)}`, e.ts, null, null);
        return null;
      case 'plan.decision':
        if (e.kind === 'budget' && e.action === 'exhausted')
          return this.#make('budget.reached', `budget reached: ${firstLine(e.reason)}`, e.ts, null, null);
        return null;
      case 'approval.requested':
        this.#runId ||= e.runId;
        this.#awaiting.add(e.taskId);
        return this.#make(
          'approval.needed',
          `${e.taskId} waits for your approval: codex-orch runs diff ${e.runId} ${e.taskId}, then runs approve (or reject --note "…") ${e.runId} ${e.taskId}`,
          e.ts,
          e.taskId,
          null,
        );
      case 'approval.decided':
        this.#awaiting.delete(e.taskId);
        return null;
      case 'run.finished': {
        this.#runId ||= e.runId;
        const event: NotificationEvent =
          e.status === 'succeeded' ? 'run.succeeded' : e.status === 'aborted' ? 'run.interrupted' : 'run.failed';
        const c = this.#counts();
        const done = this.#subtasks ? `; ${c.merged}/${c.subtasks} subtask(s) merged` : '';
        return this.#make(
          event,
          `run ${e.runId} ${event.slice(4)} after ${Math.round(e.wallTimeMs / 1000)} s${done}`,
          e.ts,
          null,
          null,
          true,
        );
      }
      default:
        return null;
    }
  }

  #counts(): Notification['counts'] {
    const statuses = [...this.#status.values()];
    return {
      subtasks: this.#subtasks,
      merged: statuses.filter((s) => s === 'merged').length,
      failed: statuses.filter((s) => s === 'error' || s === 'stuck').length,
      awaitingApproval: this.#awaiting.size,
      workers: this.#workers,
    };
  }

  #make(
    event: NotificationEvent,
    summary: string,
    ts: string,
    taskId: string | null,
    workerId: string | null,
    final = false,
  ): Notification {
    return {
      version: 1,
      event,
      runId: this.#runId,
      summary,
      ts,
      task: this.#task,
      taskId,
      workerId,
      counts: this.#counts(),
      cost: { tokens: this.#tokens, usd: this.#usd === null ? null : Math.round(this.#usd * 1e6) / 1e6 },
      reportPath: final && this.#stateDir && this.#runId ? path.join(this.#stateDir, 'runs', this.#runId, 'report.md') : null,
    };
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
