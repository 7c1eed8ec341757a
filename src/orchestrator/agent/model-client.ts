import { OpenAIProvider, setTracingDisabled, type ModelSettings } from '@openai/agents';
import OpenAI from 'openai';
import type { Config } from '../../config/config.js';
import { definedProps } from '../../defined-props.js';
import { ConfigError } from '../../errors.js';

export interface ModelClientHooks {
  /** Called for every HTTP answer from the model endpoint (retries included). */
  onResponse?: (status: number, attempt: number) => void;
}

/** How many times a 408/409/429/5xx or a dropped connection is retried, with exponential backoff and jitter (the openai client's). */
export const MODEL_MAX_RETRIES = 4;

/**
 * The SDK's default Responses API provider over an OpenAI client built from
 * config: OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible endpoint),
 * bounded retries on 429/5xx (backoff with jitter, Retry-After honoured), no
 * WebSocket transport. 401/404 are not retried.
 */
export function createModelProvider(config: Config, hooks: ModelClientHooks = {}): { provider: OpenAIProvider; client: OpenAI } {
  if (!config.openaiApiKey) {
    throw new ConfigError('OPENAI_API_KEY: not set; the orchestrator model needs a key', {
      variable: 'OPENAI_API_KEY',
      hint: 'export OPENAI_API_KEY (any non-empty value works with a local OPENAI_BASE_URL), or try the offline `yarn demo`',
    });
  }
  // The SDK's global exporter would otherwise still try OpenAI (and print a failure line per batch against a local endpoint).
  if (config.disableTracing) setTracingDisabled(true);
  let attempt = 0;
  const observingFetch: typeof fetch = async (input, init) => {
    attempt++;
    const response = await fetch(input, init);
    hooks.onResponse?.(response.status, attempt);
    if (response.ok) attempt = 0;
    return response;
  };
  const client = new OpenAI({
    apiKey: config.openaiApiKey,
    ...definedProps({ baseURL: config.openaiBaseUrl || undefined }),
    maxRetries: MODEL_MAX_RETRIES,
    timeout: 10 * 60_000,
    fetch: observingFetch,
  });
  const provider = new OpenAIProvider({ openAIClient: client, useResponses: true, useResponsesWebSocket: false });
  return { provider, client };
}

/**
 * The model settings of an agent (orchestrator or reviewer) from ORCHESTRATOR_REASONING_EFFORT /
 * _TEMPERATURE: only the keys that are set, as the SDK treats a present key as a choice.
 */
export function modelSettingsOf(config: Config): ModelSettings {
  return definedProps({
    reasoning: config.reasoningEffort ? { effort: config.reasoningEffort } : undefined,
    temperature: config.temperature,
  });
}
