/* eslint-disable @typescript-eslint/no-unsafe-assignment -- reads fields of the OpenAI client's untyped error objects */
import { MaxTurnsExceededError, ModelBehaviorError } from '@openai/agents';
import OpenAI from 'openai';
import type { Config } from '../../config/config.js';
import { AbortedError, ModelApiError, OrchestratorError, RunFailedError } from '../../errors.js';

/**
 * Turns what the SDK or the OpenAI client threw into one typed error with a
 * one-line message that says which key, endpoint and model were used and what
 * to check — never a raw stack trace.
 */
export function classifyRunError(error: unknown, config: Config, signal?: AbortSignal): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const endpoint = config.openaiBaseUrl ?? 'https://api.openai.com/v1';
  const key = config.openaiApiKey ? `${config.openaiApiKey.slice(0, 3)}…${config.openaiApiKey.slice(-2)}` : '(none)';
  const where = `endpoint ${endpoint}, model ${config.model}, key ${key}`;
  if (signal?.aborted || (error instanceof Error && (error.name === 'AbortError' || error instanceof OpenAI.APIUserAbortError))) {
    return new AbortedError('the run was interrupted');
  }
  if (error instanceof MaxTurnsExceededError) {
    return new RunFailedError(`the orchestrator used all ${config.maxTurns} turns without finishing`, {
      hint: 'raise --max-turns / ORCHESTRATOR_MAX_TURNS, or split the task',
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new ModelApiError(`cannot reach the model API (${where}): ${error.message}`, {
      hint: 'check OPENAI_BASE_URL and your network',
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    const detail = error.message.replace(/\s+/g, ' ').slice(0, 200);
    if (status === 401 || status === 403) {
      return new ModelApiError(`the model API refused the key (HTTP ${status}; ${where})`, {
        status,
        hint: 'check OPENAI_API_KEY',
        cause: error,
      });
    }
    if (status === 404) {
      return new ModelApiError(`the model API answered 404 (${where}): ${detail}`, {
        status,
        hint: 'check ORCHESTRATOR_MODEL and that OPENAI_BASE_URL ends in /v1 and serves the Responses API',
        cause: error,
      });
    }
    if (status === 429 || (status !== undefined && status >= 500)) {
      return new ModelApiError(`the model API kept failing with HTTP ${status} after retries (${where}): ${detail}`, {
        status,
        hint: 'wait and resume, or check the provider status / your rate limits',
        cause: error,
      });
    }
    return new ModelApiError(`the model API answered HTTP ${status ?? '?'} (${where}): ${detail}`, {
      status,
      cause: error,
    });
  }
  if (error instanceof ModelBehaviorError) {
    return new RunFailedError(`the model misbehaved: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new RunFailedError(`the run failed: ${message.split('\n')[0]}`, { cause: error });
}
