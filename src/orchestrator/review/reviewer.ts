import { Agent, MaxTurnsExceededError, ModelBehaviorError, Runner, type Model, type ModelProvider } from '@openai/agents';
import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { definedProps } from '../../defined-props.js';
import { AbortedError, RunFailedError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logging/logger.js';
import { classifyRunError } from '../agent/api-errors.js';
import { createModelProvider, modelSettingsOf } from '../agent/model-client.js';
import { fillTemplate, loadPromptTemplate } from '../agent/prompts.js';
import { DEFAULT_REVIEW_LIMITS, formatReviewInput, type ReviewLimits } from './review-input.js';
import type { ReviewFn, ReviewInput, ReviewVerdict } from './types.js';

/**
 * The review agent: a second Agents SDK `Agent`, with no tools, that reads one
 * finished subtask (instructions, worker summary, acceptance log, file list,
 * bounded diff) and answers `{ verdict, comments, risk }`.
 *
 * The answer is the agent's `outputType` (a zod schema), so the SDK asks the
 * model for strict JSON output and validates it. An answer that does not
 * validate is retried once, telling the model what was wrong; a second invalid
 * answer rejects with a `RunFailedError` (the executor marks the subtask
 * `error` with that reason) rather than guessing a verdict: approving unreviewed
 * work is unsafe, and sending the worker back for a reviewer's fault wastes a
 * codex round on comments nobody wrote.
 */

export const REVIEW_VERDICTS = ['approve', 'rework'] as const;
export const REVIEW_RISKS = ['low', 'medium', 'high'] as const;

export const reviewVerdictSchema = z.strictObject({
  verdict: z.enum(REVIEW_VERDICTS).describe('approve: the branch may be merged; rework: it goes back to the same worker with the comments'),
  comments: z.string().describe('For rework: what is wrong, where, and what done looks like. For approve: what was checked.'),
  risk: z.enum(REVIEW_RISKS).describe('How much harm merging could do if this review is wrong'),
});

const _verdictMatchesContract: z.output<typeof reviewVerdictSchema> extends ReviewVerdict ? true : never = true;
void _verdictMatchesContract;

/** What the prompt shows as the answer format: derived from the schema, so the two cannot drift. */
export const REVIEW_OUTPUT_FORMAT = `{"verdict": ${REVIEW_VERDICTS.map((v) => `"${v}"`).join(' | ')}, "comments": "<text>", "risk": ${REVIEW_RISKS.map((v) => `"${v}"`).join(' | ')}}`;

export const REVIEWER_PROMPT_VARS = ['outputFormat'] as const;

/** Loads and fills `prompts/reviewer.md`; a missing/empty file or a placeholder mismatch is a ConfigError. */
export function loadReviewerPrompt(dir?: string): string {
  const template = loadPromptTemplate('reviewer.md', REVIEWER_PROMPT_VARS, dir);
  return fillTemplate(template, { outputFormat: REVIEW_OUTPUT_FORMAT }, 'reviewer.md');
}

/** A retry the reviewer made: the model API answered 429/5xx (the client retries), or the answer was invalid (one new attempt). */
export type ReviewerRetry =
  { kind: 'http'; status: number; attempt: number } | { kind: 'invalid-output'; subtaskId: string; error: string };

export interface ReviewerOptions {
  /** Reviewer model (default: the orchestrator's `config.model`). */
  model?: string;
  /** Aborts every review of this reviewer (each call may pass its own signal too). */
  signal?: AbortSignal;
  logger?: Logger;
  onRetry?: (retry: ReviewerRetry) => void;
  /** How much diff and log the model sees. */
  limits?: Partial<ReviewLimits>;
  /** Where `reviewer.md` is (default: the package's prompts/). */
  promptsDir?: string;
}

/** How many answers the reviewer model gets to produce a valid verdict: the first and one retry. */
export const REVIEW_ATTEMPTS = 2;

function isInvalidOutput(error: unknown): error is ModelBehaviorError | MaxTurnsExceededError {
  return error instanceof ModelBehaviorError || error instanceof MaxTurnsExceededError;
}

/**
 * A provider whose models report each response's usage. A run that fails on
 * invalid output carries no usable usage, yet its tokens were spent, so usage
 * is counted per model response rather than read from the run result.
 */
function countingProvider(inner: ModelProvider, onUsage: (input: number, output: number) => void): ModelProvider {
  return {
    async getModel(name?: string): Promise<Model> {
      const model = await inner.getModel(name);
      return new Proxy(model, {
        get(target, prop) {
          if (prop === 'getResponse') {
            return async (request: Parameters<Model['getResponse']>[0]) => {
              const response = await target.getResponse(request);
              onUsage(response.usage?.inputTokens ?? 0, response.usage?.outputTokens ?? 0);
              return response;
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

function retryNote(error: string): string {
  return [
    '',
    '---',
    `Your previous answer to this review was rejected: ${error}`,
    `Answer again with exactly one JSON object of the form ${REVIEW_OUTPUT_FORMAT} and nothing else.`,
  ].join('\n');
}

/**
 * Creates the review function the plan executor calls once per finished
 * subtask and round. The prompt is loaded now, so a broken prompts/ folder
 * fails before any work starts; the model client (bounded retries on 429/5xx,
 * clear 401/404 errors) is shared by all reviews.
 *
 * Rejects with: `ModelApiError` (401/404/unreachable/exhausted retries),
 * `AbortedError`, or `RunFailedError` after two invalid answers.
 */
export function createReviewer(config: Config, options: ReviewerOptions = {}): ReviewFn {
  const instructions = loadReviewerPrompt(options.promptsDir);
  const limits: ReviewLimits = { ...DEFAULT_REVIEW_LIMITS, ...options.limits };
  const log = options.logger ?? silentLogger;
  const model = options.model ?? config.reviewModel ?? config.model;
  const { provider } = createModelProvider(config, {
    onResponse: (status, attempt) => {
      if (status === 429 || status >= 500) options.onRetry?.({ kind: 'http', status, attempt });
    },
  });
  const agent = new Agent({
    name: 'Reviewer',
    instructions,
    model,
    // Same settings as the orchestrator model (ORCHESTRATOR_REASONING_EFFORT / _TEMPERATURE).
    modelSettings: modelSettingsOf(config),
    outputType: reviewVerdictSchema,
    tools: [],
  });
  // Usage per review call: the reviews of one reviewer may run concurrently, so
  // the counter is chosen by an async-local slot set around each call.
  const counters = new AsyncLocalStorage<{ input: number; output: number }>();
  const counted = countingProvider(provider, (input, output) => {
    const c = counters.getStore();
    if (c) {
      c.input += input;
      c.output += output;
    }
  });
  const runner = new Runner({ modelProvider: counted, tracingDisabled: config.disableTracing, workflowName: 'codex-orchestrator review' });

  async function attempts(input: ReviewInput, signal: AbortSignal | undefined, tokens: { input: number; output: number }) {
    const material = formatReviewInput(input, limits);
    let lastError = '';
    for (let attempt = 1; attempt <= REVIEW_ATTEMPTS; attempt++) {
      if (signal?.aborted) throw new AbortedError('the review was interrupted');
      const prompt = attempt === 1 ? material : material + retryNote(lastError);
      try {
        const result = await runner.run(agent, prompt, definedProps({ maxTurns: 1, signal }));
        // The SDK already validated finalOutput against the schema; parse again so the type is exact.
        const verdict = reviewVerdictSchema.parse(result.finalOutput);
        log.info({ subtask: input.subtask.id, round: input.round, attempt, verdict: verdict.verdict, risk: verdict.risk }, 'review');
        return { ...verdict, tokens: { ...tokens } };
      } catch (error) {
        if (signal?.aborted) throw new AbortedError('the review was interrupted');
        if (!isInvalidOutput(error)) throw classifyRunError(error, { ...config, model }, signal);
        lastError = error.message.replace(/\s+/g, ' ').slice(0, 300);
        log.warn({ subtask: input.subtask.id, round: input.round, attempt, error: lastError }, 'reviewer answer invalid');
        if (attempt < REVIEW_ATTEMPTS) options.onRetry?.({ kind: 'invalid-output', subtaskId: input.subtask.id, error: lastError });
      }
    }
    throw new RunFailedError(
      `the reviewer gave no valid verdict for subtask ${input.subtask.id} (round ${input.round}) in ${REVIEW_ATTEMPTS} answers: ${lastError}`,
      {
        hint: `the reviewer model (${model}) must answer with ${REVIEW_OUTPUT_FORMAT}; try another model or run with --no-review`,
        context: { subtaskId: input.subtask.id, round: input.round, tokens: { ...tokens } },
      },
    );
  }

  return async (input: ReviewInput, signal?: AbortSignal) => {
    const signals = [options.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    const combined = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const tokens = { input: 0, output: 0 };
    return counters.run(tokens, () => attempts(input, combined, tokens));
  };
}
