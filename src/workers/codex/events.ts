import { z } from 'zod';

/**
 * Typed codex `exec --json` events (JSON Lines on stdout). The union is
 * discriminated on `type`; an event whose type this build does not know is kept
 * as `{ type: 'unknown', rawType, raw }` (and logged by the caller), never a crash.
 * Item payloads are loose (`passthrough`) because codex adds fields over time.
 */

const usageSchema = z
  .object({
    input_tokens: z.number().default(0),
    cached_input_tokens: z.number().default(0),
    output_tokens: z.number().default(0),
    reasoning_output_tokens: z.number().optional(),
  })
  .passthrough();

const itemBase = { id: z.string() };

export const codexItemSchema = z.union([
  z.object({ ...itemBase, type: z.literal('agent_message'), text: z.string() }).passthrough(),
  z.object({ ...itemBase, type: z.literal('reasoning'), text: z.string().optional() }).passthrough(),
  z
    .object({
      ...itemBase,
      type: z.literal('command_execution'),
      command: z.string(),
      aggregated_output: z.string().optional(),
      exit_code: z.number().nullable().optional(),
      status: z.string(),
    })
    .passthrough(),
  z
    .object({
      ...itemBase,
      type: z.literal('file_change'),
      changes: z.array(z.object({ path: z.string(), kind: z.string() }).passthrough()),
      status: z.string(),
    })
    .passthrough(),
  z
    .object({
      ...itemBase,
      type: z.literal('mcp_tool_call'),
      server: z.string().optional(),
      tool: z.string().optional(),
      status: z.string().optional(),
    })
    .passthrough(),
  z.object({ ...itemBase, type: z.literal('web_search'), query: z.string().optional() }).passthrough(),
  z.object({ ...itemBase, type: z.literal('todo_list'), items: z.array(z.unknown()).optional() }).passthrough(),
  z.object({ ...itemBase, type: z.literal('error'), message: z.string() }).passthrough(),
  // Any other item kind: keep it.
  z.object({ ...itemBase, type: z.string() }).passthrough(),
]);
export type CodexItem = z.infer<typeof codexItemSchema>;

export const knownEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('thread.started'), thread_id: z.string() }).passthrough(),
  z.object({ type: z.literal('turn.started') }).passthrough(),
  z.object({ type: z.literal('turn.completed'), usage: usageSchema.optional() }).passthrough(),
  z.object({ type: z.literal('turn.failed'), error: z.object({ message: z.string() }).passthrough().optional() }).passthrough(),
  z.object({ type: z.literal('item.started'), item: codexItemSchema }).passthrough(),
  z.object({ type: z.literal('item.updated'), item: codexItemSchema }).passthrough(),
  z.object({ type: z.literal('item.completed'), item: codexItemSchema }).passthrough(),
  z.object({ type: z.literal('error'), message: z.string() }).passthrough(),
]);
export type KnownCodexEvent = z.infer<typeof knownEventSchema>;

export interface UnknownCodexEvent {
  type: 'unknown';
  /** The `type` field as codex sent it (may be missing). */
  rawType: string | null;
  raw: unknown;
}

export type CodexEvent = KnownCodexEvent | UnknownCodexEvent;

export const KNOWN_EVENT_TYPES = new Set([
  'thread.started',
  'turn.started',
  'turn.completed',
  'turn.failed',
  'item.started',
  'item.updated',
  'item.completed',
  'error',
]);

/** One parsed stdout line: an event, or `null` when the line is not JSON at all. */
export function parseEventLine(line: string): CodexEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { type: 'unknown', rawType: null, raw: value };
  }
  const parsed = knownEventSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const t = (value as { type?: unknown }).type;
  return { type: 'unknown', rawType: typeof t === 'string' ? t : null, raw: value };
}
