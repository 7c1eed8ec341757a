import { appendJsonLine } from '../../store/run-dir.js';

/** What a decision is about (seed 003's decisions log). */
export type DecisionKind = 'schedule' | 'worker' | 'acceptance' | 'review' | 'merge' | 'heal' | 'budget' | 'run';

/** One line of `<runDir>/decisions.jsonl`. */
export interface Decision {
  seq: number;
  at: string;
  kind: DecisionKind;
  /** The subtask it is about, when there is one. */
  taskId?: string;
  action: string;
  reason: string;
  /** Small structured facts (files, sha, attempt, verdict…). */
  data?: Record<string, unknown>;
}

/** Appends decisions to `decisions.jsonl` (one write per line) and counts them. */
export class DecisionsLog {
  private seq = 0;
  readonly entries: Decision[] = [];

  constructor(
    readonly file: string,
    private readonly onDecision?: (d: Decision) => void,
  ) {}

  get count(): number {
    return this.seq;
  }

  add(kind: DecisionKind, action: string, reason: string, extra: { taskId?: string | undefined; data?: Record<string, unknown> } = {}): Decision {
    const d: Decision = { seq: ++this.seq, at: new Date().toISOString(), kind, ...(extra.taskId !== undefined ? { taskId: extra.taskId } : {}), action, reason };
    if (extra.data && Object.keys(extra.data).length > 0) d.data = extra.data;
    this.entries.push(d);
    appendJsonLine(this.file, d);
    try {
      this.onDecision?.(d);
    } catch {
      // an observer must not stop the run
    }
    return d;
  }
}
