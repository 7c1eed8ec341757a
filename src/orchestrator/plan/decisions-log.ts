import fs from 'node:fs';
import { appendJsonLine } from '../../store/run-dir.js';

/** What a decision is about: the stage of the run that made it. */
export type DecisionKind = 'schedule' | 'worker' | 'acceptance' | 'review' | 'merge' | 'heal' | 'budget' | 'run' | 'security';

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

  /** Decisions already in the file (an earlier process of the same run), oldest first. */
  readonly prior: Decision[];

  constructor(
    readonly file: string,
    private readonly onDecision?: (d: Decision) => void,
  ) {
    // A resumed run appends to the same file: its seq goes on from the last line there.
    this.prior = readDecisionsFile(file);
    this.seq = this.prior.reduce((m, d) => Math.max(m, d.seq), 0);
  }

  /** Decisions written by this log (not the prior ones). */
  get count(): number {
    return this.entries.length;
  }

  add(
    kind: DecisionKind,
    action: string,
    reason: string,
    extra: { taskId?: string | undefined; data?: Record<string, unknown> } = {},
  ): Decision {
    const d: Decision = {
      seq: ++this.seq,
      at: new Date().toISOString(),
      kind,
      taskId: extra.taskId,
      action,
      reason,
    };
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

/** The decisions of a decisions.jsonl; a missing file is none, a torn last line (a crash mid-write) is skipped. */
export function readDecisionsFile(file: string): Decision[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Decision[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const d = JSON.parse(line) as Decision;
      if (typeof d.seq === 'number' && typeof d.kind === 'string') out.push(d);
    } catch {
      /* a torn line */
    }
  }
  return out;
}
