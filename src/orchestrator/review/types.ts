import type { PlanTask } from '../../scheduler/index.js';

/** What the review agent is shown about one finished subtask. */
export interface ReviewInput {
  subtask: PlanTask;
  /** The task branch against the main it was created from: file list and bounded diff. */
  diff: { files: { path: string; status: string; additions?: number; deletions?: number }[]; diff: string; truncated: boolean };
  /** Output of the acceptance command (empty when the subtask has none). */
  acceptanceLog: string;
  acceptancePassed: boolean | null;
  /** 1 for the first review, 2 after one rework round, … */
  round: number;
  /** The worker's own summary of what it did. */
  workerSummary: string;
}

/** The review agent's answer, validated with zod. */
export interface ReviewVerdict {
  verdict: 'approve' | 'rework';
  comments: string;
  risk: 'low' | 'medium' | 'high';
}

/** Reviews one subtask; never throws for a model failure (returns a rework/approve decision or rejects with an OrchestratorError). */
export type ReviewFn = (input: ReviewInput, signal?: AbortSignal) => Promise<ReviewVerdict & { tokens: { input: number; output: number } }>;
