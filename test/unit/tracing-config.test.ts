import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const load = (env: Record<string, string>) => loadConfig({ env, dotenvDir: null });

describe('tracing to OpenAI', () => {
  it('is off unless ORCHESTRATOR_TRACING=1, and never against another endpoint', () => {
    expect(load({}).disableTracing).toBe(true);
    expect(load({ ORCHESTRATOR_TRACING: '1' }).disableTracing).toBe(false);
    expect(load({ ORCHESTRATOR_TRACING: '1', OPENAI_BASE_URL: 'https://api.openai.com/v1' }).disableTracing).toBe(false);
    expect(load({ ORCHESTRATOR_TRACING: '1', OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1' }).disableTracing).toBe(true);
    expect(load({ ORCHESTRATOR_TRACING: '1', OPENAI_AGENTS_DISABLE_TRACING: '1' }).disableTracing).toBe(true);
  });

  it('budgets come from the environment', () => {
    expect(load({ ORCHESTRATOR_MAX_COST: '$2.50', ORCHESTRATOR_MAX_WALL: '2h', ORCHESTRATOR_ON_BUDGET: 'finish' }).budgets).toEqual({
      maxCostUsd: 2.5,
      wallMs: 7_200_000,
      onBudget: 'finish',
    });
    expect(() => load({ ORCHESTRATOR_MAX_COST: 'lots' })).toThrow(/ORCHESTRATOR_MAX_COST/);
  });
});
