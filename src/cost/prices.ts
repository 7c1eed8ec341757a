import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { TokenTally } from './tokens.js';

/**
 * The price table: USD per million tokens per model. The default is
 * pricing/models.json of the package; ORCHESTRATOR_PRICES names a file of the
 * same shape whose models are merged over it. A model with no entry has no
 * cost (null), and every display says its tokens are unpriced.
 */

const priceSchema = z.object({ input: z.number().min(0), cachedInput: z.number().min(0).optional(), output: z.number().min(0) }).strict();
export type ModelPrice = z.infer<typeof priceSchema>;

const fileSchema = z
  .object({ $comment: z.string().optional(), updated: z.string().optional(), models: z.record(z.string(), priceSchema) })
  .strict();

export interface PriceTable {
  models: Readonly<Record<string, ModelPrice>>;
  /** The files it came from, default first. */
  sources: string[];
}

export function defaultPricesFile(): string {
  return path.join(packageRoot(), 'pricing', 'models.json');
}

function readPriceFile(file: string): Record<string, ModelPrice> {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`price table ${file}: ${error instanceof SyntaxError ? `not JSON (${error.message})` : 'cannot be read'}`, {
      variable: 'ORCHESTRATOR_PRICES',
      hint: 'a JSON file {"models": {"<model>": {"input": 1.25, "cachedInput": 0.125, "output": 10}}} in USD per million tokens; see docs/budgets.md',
    });
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`price table ${file}: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`, {
      variable: 'ORCHESTRATOR_PRICES',
      hint: 'each model needs "input" and "output" (USD per million tokens), "cachedInput" is optional; see docs/budgets.md',
    });
  }
  return parsed.data.models;
}

const cache = new Map<string, PriceTable>();

/** The default table, with the override file's models merged over it. */
export function loadPrices(overrideFile?: string): PriceTable {
  const key = overrideFile ?? '';
  const hit = cache.get(key);
  if (hit) return hit;
  const base = defaultPricesFile();
  const models = { ...readPriceFile(base) };
  const sources = [base];
  if (overrideFile) {
    Object.assign(models, readPriceFile(overrideFile));
    sources.push(overrideFile);
  }
  const table: PriceTable = { models: Object.freeze(models), sources };
  cache.set(key, table);
  return table;
}

/** The price of a model: its own entry, else the entry without a date suffix (gpt-5-2025-08-07 → gpt-5). */
export function priceOf(table: PriceTable, model: string | null | undefined): ModelPrice | null {
  if (!model) return null;
  const name = model
    .trim()
    .toLowerCase()
    .replace(/^openai\//, '');
  return table.models[name] ?? table.models[name.replace(/-\d{4}-\d{2}-\d{2}$/, '')] ?? null;
}

/** USD of a tally at a price: cached input at the cached price (the input price when the table has none). */
export function costOf(t: TokenTally, price: ModelPrice): number {
  const cached = Math.min(t.cachedInput, t.input);
  return ((t.input - cached) * price.input + cached * (price.cachedInput ?? price.input) + t.output * price.output) / 1_000_000;
}

/** "$0.0123", "$1.23"; null (no price) → "". */
export function formatUsd(usd: number | null): string {
  if (usd === null) return '';
  if (usd === 0) return '$0';
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  if (usd < 100) return `$${usd.toFixed(2)}`;
  return `$${Math.round(usd)}`;
}
