import { addTally, tallyTokens, zeroTally, type TokenTally } from './tokens.js';
import { costOf, priceOf, type PriceTable } from './prices.js';

/**
 * One run's tokens and money, by who spent them: the orchestrator model, the
 * review model and the codex workers (each worker, each subtask). This is the
 * one count shown by the live view, the report, `runs list`, `runs show` and
 * every `--json`.
 */
export interface UsagePart extends TokenTally {
  model: string | null;
  /** input + output. */
  tokens: number;
  /** USD; null when the model has no price (tokens only). */
  costUsd: number | null;
}

export interface WorkerUsagePart extends UsagePart {
  workerId: string;
  worktree: string;
  taskId: string | null;
}

export interface RunUsage {
  orchestrator: UsagePart & { requests: number };
  review: UsagePart;
  workers: UsagePart;
  perWorker: WorkerUsagePart[];
  perSubtask: (UsagePart & { taskId: string })[];
  total: TokenTally & {
    tokens: number;
    /** USD of the priced parts; null when nothing with tokens has a price. */
    costUsd: number | null;
    /** Models that spent tokens but have no price: their tokens are in `tokens`, not in `costUsd`. */
    unpriced: string[];
  };
}

export interface UsageInput {
  orchestrator: { model: string | null; tally: TokenTally; requests: number };
  review: { model: string | null; tally: TokenTally };
  workers: { workerId: string; worktree: string; taskId: string | null; model: string | null; tally: TokenTally }[];
}

function part(table: PriceTable, model: string | null, t: TokenTally, unpriced: Set<string>): UsagePart {
  const price = priceOf(table, model);
  const tokens = tallyTokens(t);
  if (!price && tokens > 0) unpriced.add(model ?? '(unknown model)');
  return { model, input: t.input, cachedInput: t.cachedInput, output: t.output, tokens, costUsd: price ? costOf(t, price) : null };
}

const sumCost = (parts: UsagePart[]): number | null => {
  const priced = parts.filter((p) => p.costUsd !== null);
  return priced.length ? priced.reduce((n, p) => n + (p.costUsd as number), 0) : null;
};

/** Pure: who spent what → tokens and USD per part, worker, subtask and run. */
export function priceRunUsage(input: UsageInput, table: PriceTable): RunUsage {
  const unpriced = new Set<string>();
  const perWorker: WorkerUsagePart[] = input.workers.map((w) => ({
    workerId: w.workerId,
    worktree: w.worktree,
    taskId: w.taskId,
    ...part(table, w.model, w.tally, unpriced),
  }));
  const byTask = new Map<string, WorkerUsagePart[]>();
  for (const w of perWorker) if (w.taskId) byTask.set(w.taskId, [...(byTask.get(w.taskId) ?? []), w]);
  const perSubtask = [...byTask].map(([taskId, ws]) => {
    const t = ws.reduce((acc, w) => addTally(acc, w), zeroTally());
    const models = [...new Set(ws.map((w) => w.model))];
    return { taskId, model: models.length === 1 ? (models[0] ?? null) : null, ...t, tokens: tallyTokens(t), costUsd: sumCost(ws) };
  });
  const workerTally = perWorker.reduce((acc, w) => addTally(acc, w), zeroTally());
  const workerModels = [...new Set(perWorker.map((w) => w.model))];
  const workers: UsagePart = {
    model: workerModels.length === 1 ? (workerModels[0] ?? null) : null,
    ...workerTally,
    tokens: tallyTokens(workerTally),
    costUsd: sumCost(perWorker),
  };
  const orchestrator = {
    ...part(table, input.orchestrator.model, input.orchestrator.tally, unpriced),
    requests: input.orchestrator.requests,
  };
  const review = part(table, input.review.model, input.review.tally, unpriced);
  const all = [orchestrator, review, workers].reduce((acc, p) => addTally(acc, p), zeroTally());
  return {
    orchestrator,
    review,
    workers,
    perWorker,
    perSubtask,
    total: { ...all, tokens: tallyTokens(all), costUsd: sumCost([orchestrator, review, ...perWorker]), unpriced: [...unpriced].sort() },
  };
}
