/**
 * Run budgets of the plan road: wall time, total tokens (workers and review),
 * money (the same tokens at the price table's prices), and the number of
 * codex worker launches. The tracker only counts and says
 * when a budget is used up; the executor decides what stops (see execute-plan.ts).
 */
export interface PlanBudgets {
  /** Wall time of the whole plan, in milliseconds. */
  wallMs?: number;
  /** Tokens of every worker and review together (input + output). */
  totalTokens?: number;
  /** Codex worker launches (first runs, self-heals and reworks each count one). */
  maxWorkers?: number;
  /** USD of every worker and review together (priced models only; see src/cost/). */
  maxCostUsd?: number;
  /**
   * What a used-up wall, token or cost budget does to the workers already
   * running: 'stop' kills them (the default), 'finish' lets them end (their
   * subtasks may still merge). The worker budget only ever stops launches.
   */
  onBudget?: 'finish' | 'stop';
}

export type BudgetName = Exclude<keyof PlanBudgets, 'onBudget'>;

export interface BudgetStop {
  budget: BudgetName;
  reason: string;
}

export class BudgetTracker {
  tokens = 0;
  costUsd = 0;
  workers = 0;
  exhausted: BudgetStop | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly budgets: PlanBudgets,
    private readonly onExhausted: (stop: BudgetStop) => void,
  ) {
    for (const [k, v] of Object.entries(budgets)) {
      if (k === 'onBudget') {
        if (v !== undefined && v !== 'finish' && v !== 'stop')
          throw new RangeError(`budget onBudget must be finish or stop, got ${String(v)}`);
        continue;
      }
      if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
        throw new RangeError(`budget ${k} must be a positive number, got ${String(v)}`);
      }
    }
  }

  /** Starts the wall-time clock. */
  start(): void {
    const ms = this.budgets.wallMs;
    if (ms === undefined) return;
    this.timer = setTimeout(() => this.exhaust('wallMs', `wall-time budget of ${ms} ms used up`), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether one more worker may be launched; announces the exhaustion the first time it is not. */
  canLaunchWorker(): boolean {
    if (this.exhausted) return false;
    const max = this.budgets.maxWorkers;
    if (max !== undefined && this.workers >= max) {
      this.exhaust('maxWorkers', `worker budget of ${max} launch(es) used up`);
      return false;
    }
    return true;
  }

  workerLaunched(): void {
    this.workers++;
  }

  addTokens(n: number): void {
    this.tokens += n;
    const max = this.budgets.totalTokens;
    if (max !== undefined && this.tokens >= max) this.exhaust('totalTokens', `token budget of ${max} used up (${this.tokens} tokens)`);
  }

  /** Tokens and their price as they are spent (codex reports each finished turn). */
  addUsage(tokens: number, usd: number | null): void {
    this.costUsd += usd ?? 0;
    this.addTokens(tokens);
    const max = this.budgets.maxCostUsd;
    if (max !== undefined && this.costUsd >= max)
      this.exhaust('maxCostUsd', `cost budget of $${max} used up ($${this.costUsd.toFixed(4)})`);
  }

  private exhaust(budget: BudgetName, reason: string): void {
    if (this.exhausted) return;
    this.exhausted = { budget, reason };
    this.stop();
    this.onExhausted(this.exhausted);
  }
}
