/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unnecessary-type-assertion -- wraps the SDK's model and tool functions, whose argument types the SDK does not export */
/**
 * The agent's conversation, made durable: a journal kept in the run store
 * (`runs.agent_state`) so a run killed with `kill -9` at any point can go on
 * from where it was.
 *
 * Why not the SDK's own persistence: with `@openai/agents` 0.20 a `Session`
 * gets the run's items in one `addItems` call when the run ends (checked for
 * both `run()` and `run({ stream: true })`), and a `RunState` string exists only
 * when a run ends or stops for an approval. Neither survives a crash mid-run.
 * So the journal is written at the two places where the conversation grows:
 *
 * - around every model call (a wrapped `ModelProvider`): the request's input —
 *   which is the whole conversation so far — and then input + the response's
 *   output items (tool calls, messages);
 * - after every tool call (a wrapped `FunctionTool`): its result, keyed by call id.
 *
 * On resume the saved items are the input of a new `runner.run`. Tool calls of
 * the last response without a result were running when the process died; the
 * recovery (`recovery.ts`) answers them before the model is called again.
 */
import type { AgentInputItem, FunctionTool, Model, ModelProvider, ModelRequest, ModelResponse, Tool } from '@openai/agents';
import { definedProps } from '../../defined-props.js';
import type { Store } from '../../store/index.js';

export const CONVERSATION_FORMAT = 'codex-orchestrator/conversation@1';

interface SavedConversation {
  format: typeof CONVERSATION_FORMAT;
  savedAt: string;
  items: AgentInputItem[];
}

/** The saved items of a run's conversation, or undefined when there are none (or they are unreadable). */
export function parseConversation(agentState: string | undefined): AgentInputItem[] | undefined {
  if (!agentState) return undefined;
  try {
    const parsed = JSON.parse(agentState) as Partial<SavedConversation>;
    if (parsed.format !== CONVERSATION_FORMAT || !Array.isArray(parsed.items)) return undefined;
    return parsed.items;
  } catch {
    return undefined;
  }
}

function normaliseInput(input: string | AgentInputItem[]): AgentInputItem[] {
  return typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : [...input];
}

type FunctionCall = Extract<AgentInputItem, { type: 'function_call' }>;

/** A tool call of the conversation that has no result yet. */
export interface DanglingCall {
  callId: string;
  name: string;
  arguments: string;
}

/** Function calls without a matching result (the process died while they ran). */
export function danglingCalls(items: readonly AgentInputItem[]): DanglingCall[] {
  const answered = new Set<string>();
  for (const item of items) {
    if (item.type === 'function_call_result') answered.add(item.callId);
  }
  return items
    .filter((i): i is FunctionCall => i.type === 'function_call')
    .filter((c) => !answered.has(c.callId))
    .map((c) => ({ callId: c.callId, name: c.name, arguments: c.arguments }));
}

/** The item that answers a function call with text. */
export function functionResultItem(callId: string, name: string, text: string): AgentInputItem {
  return { type: 'function_call_result', name, callId, status: 'completed', output: { type: 'text', text } };
}

/** Keeps the conversation of one run in the store; every change is committed before it returns. */
export class ConversationJournal {
  #items: AgentInputItem[];

  constructor(
    private readonly store: Store,
    private readonly runId: string,
    initial: readonly AgentInputItem[] = [],
  ) {
    this.#items = [...initial];
    if (initial.length > 0) this.save();
  }

  get items(): readonly AgentInputItem[] {
    return this.#items;
  }

  /** Before a model call: its input is the whole conversation so far. */
  recordRequest(input: string | AgentInputItem[]): void {
    this.#items = normaliseInput(input);
    this.save();
  }

  /** After a model call: the input plus what the model answered. */
  recordResponse(input: string | AgentInputItem[], response: ModelResponse): void {
    this.#items = [...normaliseInput(input), ...(response.output as AgentInputItem[])];
    this.save();
  }

  /** After a tool call: its result (once per call id). */
  recordToolResult(callId: string, name: string, text: string): void {
    if (this.#items.some((i) => i.type === 'function_call_result' && i.callId === callId)) return;
    this.#items.push(functionResultItem(callId, name, text));
    this.save();
  }

  /** Adds items (a recovered tool result, the resume note) and saves. */
  append(...items: AgentInputItem[]): void {
    this.#items.push(...items);
    this.save();
  }

  private save(): void {
    const saved: SavedConversation = { format: CONVERSATION_FORMAT, savedAt: new Date().toISOString(), items: this.#items };
    this.store.saveAgentState(this.runId, JSON.stringify(saved));
  }
}

export interface ModelCallHooks {
  onRequest?: (request: ModelRequest) => void;
  onResponse?: (request: ModelRequest, response: ModelResponse) => void;
}

/** A provider whose models call the hooks around every (non-streamed) model call. */
export function observeModelProvider(provider: ModelProvider, hooks: ModelCallHooks): ModelProvider {
  const wrap = (model: Model): Model => ({
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      hooks.onRequest?.(request);
      const response = await model.getResponse(request);
      hooks.onResponse?.(request, response);
      return response;
    },
    getStreamedResponse(request: ModelRequest) {
      hooks.onRequest?.(request);
      return model.getStreamedResponse(request);
    },
    // The SDK tells an absent method from a present one: copy only those the model has.
    ...definedProps<Pick<Model, 'supportsPromptModelSelection' | 'getRetryAdvice'>>({
      supportsPromptModelSelection: model.supportsPromptModelSelection,
      getRetryAdvice: model.getRetryAdvice?.bind(model),
    }),
  });
  return {
    getModel(name?: string) {
      const model = provider.getModel(name);
      return model instanceof Promise ? model.then(wrap) : wrap(model);
    },
  };
}

/** Called after a function tool answered, before the answer goes back to the SDK. */
export type ToolResultHook = (call: { callId: string | undefined; name: string; input: string }, output: unknown) => void | Promise<void>;

/** The same tools, each reporting its result to `after` once it has one (function tools only). */
export function observeTools<T extends Tool<any>>(tools: readonly T[], after: ToolResultHook): T[] {
  return tools.map((t) => {
    if (t.type !== 'function') return t;
    const fn = t as unknown as FunctionTool<any, any, any>;
    const invoke: FunctionTool<any, any, any>['invoke'] = async (runContext, input, details) => {
      const output = await fn.invoke(runContext, input, details);
      await after({ callId: details?.toolCall?.callId, name: fn.name, input }, output);
      return output;
    };
    return Object.assign(Object.create(Object.getPrototypeOf(fn) as object) as object, fn, { invoke }) as unknown as T;
  });
}
