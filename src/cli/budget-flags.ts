/** The budget flags of run and resume: the options, their config overrides, and the budgets a config ends up with. */
import type { Command } from 'commander';
import type { Config, ConfigOverrides } from '../config/config.js';
import type { PlanBudgets } from '../orchestrator/plan/budgets.js';

export interface BudgetFlags {
  maxCost?: string;
  maxTokens?: string;
  maxWall?: string;
  maxWorkers?: string;
  onBudget?: string;
}

/** The budget flags as config overrides (they win over the ORCHESTRATOR_MAX_* variables). */
export function budgetOverrides(opts: BudgetFlags): ConfigOverrides {
  return {
    ORCHESTRATOR_MAX_COST: opts.maxCost,
    ORCHESTRATOR_MAX_TOKENS: opts.maxTokens,
    ORCHESTRATOR_MAX_WALL: opts.maxWall,
    ORCHESTRATOR_MAX_WORKERS: opts.maxWorkers,
    ORCHESTRATOR_ON_BUDGET: opts.onBudget,
  };
}

/** The budget options of run, resume and dispatch. */
export function budgetOptions(cmd: Command): Command {
  return cmd
    .option('--max-cost <usd>', 'budget: US dollars of worker and review tokens, at the price table (ORCHESTRATOR_MAX_COST)')
    .option('--max-tokens <n>', 'budget: worker and review tokens (ORCHESTRATOR_MAX_TOKENS)')
    .option('--max-wall <time>', 'budget: wall time of the plan, e.g. 90s, 45m, 2h (ORCHESTRATOR_MAX_WALL)')
    .option('--max-workers <n>', 'budget: codex worker launches (ORCHESTRATOR_MAX_WORKERS)')
    .option('--on-budget <finish|stop>', 'when a budget is used up: stop running workers, or let them finish (default stop)');
}

/** A budget the run's engine has (plan workers and reviews), or undefined when none is set. */
export function budgetsOf(config: Config): PlanBudgets | undefined {
  const b = config.budgets;
  return Object.keys(b).length ? { ...b } : undefined;
}
