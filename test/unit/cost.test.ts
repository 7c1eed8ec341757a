import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, loadPrices, priceOf, priceRunUsage } from '../../src/cost/index.js';
import { BudgetTracker } from '../../src/orchestrator/plan/budgets.js';
import { parseWallTime } from '../../src/config/schema.js';

describe('price table', () => {
  const table = loadPrices();
  it('ships a default table and finds dated model names', () => {
    expect(priceOf(table, 'gpt-5.1')).toMatchObject({ input: 1.25, output: 10 });
    expect(priceOf(table, 'gpt-5-2025-08-07')).toEqual(priceOf(table, 'gpt-5'));
    expect(priceOf(table, 'scripted-orchestrator')).toBeNull();
    expect(priceOf(table, null)).toBeNull();
  });

  it('prices cached input at the cached price (input includes cached)', () => {
    const usd = costOf({ input: 1_000_000, cachedInput: 400_000, output: 100_000 }, { input: 1, cachedInput: 0.1, output: 10 });
    expect(usd).toBeCloseTo(0.6 + 0.04 + 1, 9);
  });

  it('an override file adds and replaces models; a bad one is one clear error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prices-'));
    const good = path.join(dir, 'p.json');
    fs.writeFileSync(good, JSON.stringify({ models: { 'my-local': { input: 0, output: 0 }, 'gpt-5.1': { input: 2, output: 20 } } }));
    const t = loadPrices(good);
    expect(priceOf(t, 'my-local')).toEqual({ input: 0, output: 0 });
    expect(priceOf(t, 'gpt-5.1')?.input).toBe(2);
    expect(priceOf(t, 'gpt-4o')).not.toBeNull();
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ models: { x: { input: 'cheap' } } }));
    expect(() => loadPrices(bad)).toThrow(/price table .*bad\.json: models\.x\.input/);
  });
});

describe('run usage', () => {
  it('sums parts, workers and subtasks; unpriced models are named and left out of the cost', () => {
    const u = priceRunUsage(
      {
        orchestrator: { model: 'scripted', tally: { input: 100, cachedInput: 0, output: 10 }, requests: 2 },
        review: { model: 'gpt-5.1', tally: { input: 1_000_000, cachedInput: 0, output: 0 } },
        workers: [
          {
            workerId: 'a-1',
            worktree: 'task-a',
            taskId: 'a',
            model: 'gpt-5.1-codex',
            tally: { input: 1_000_000, cachedInput: 0, output: 0 },
          },
          {
            workerId: 'a-2',
            worktree: 'task-a',
            taskId: 'a',
            model: 'gpt-5.1-codex',
            tally: { input: 0, cachedInput: 0, output: 100_000 },
          },
        ],
      },
      loadPrices(),
    );
    expect(u.total.tokens).toBe(110 + 1_000_000 + 1_100_000);
    expect(u.perSubtask).toEqual([expect.objectContaining({ taskId: 'a', tokens: 1_100_000, costUsd: 1.25 + 1 })]);
    expect(u.total.costUsd).toBeCloseTo(1.25 + 1.25 + 1, 9);
    expect(u.total.unpriced).toEqual(['scripted']);
    expect(u.orchestrator.costUsd).toBeNull();
  });
});

describe('budgets', () => {
  it('a cost budget is exhausted once the priced spend reaches it', () => {
    const stops: string[] = [];
    const b = new BudgetTracker({ maxCostUsd: 1 }, (s) => stops.push(s.budget));
    b.addUsage(1000, 0.4);
    b.addUsage(1000, null);
    expect(stops).toEqual([]);
    b.addUsage(1000, 0.7);
    expect(stops).toEqual(['maxCostUsd']);
    expect(b.canLaunchWorker()).toBe(false);
  });

  it('rejects a bad --on-budget value; wall time accepts s, m, h and bare minutes', () => {
    expect(() => new BudgetTracker({ onBudget: 'later' as never }, () => {})).toThrow(/finish or stop/);
    expect(parseWallTime('90s')).toBe(90_000);
    expect(parseWallTime('45')).toBe(45 * 60_000);
    expect(parseWallTime('1.5h')).toBe(5_400_000);
    expect(parseWallTime('soon')).toBeNull();
  });
});
