import type { CodexEvent, CodexItem } from './events.js';

/**
 * What a codex worker is doing, read from one of its events: the command it
 * runs (and how it ended), the files it edits, its last message, or the
 * tokens of a finished turn. Null for events that say nothing new.
 */
export type CodexActivity =
  | { kind: 'command'; text: string; phase: 'started' | 'finished'; exitCode: number | null }
  | { kind: 'file'; text: string }
  | { kind: 'message'; text: string }
  | { kind: 'thinking'; text: string }
  | { kind: 'tool'; text: string }
  | { kind: 'error'; text: string }
  | { kind: 'usage'; usage: { input: number; cachedInput: number; output: number } };

/** A field of a loosely typed codex item, as text ('' when it is not a string). */
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** `bash -lc 'npm test'` → `npm test`: the shell wrapper codex puts around every command says nothing. */
export function unwrapShell(command: string): string {
  const m = /^(?:\/\S*\/)?(?:ba|z|)sh\s+-l?c\s+(['"])([\s\S]*)$/.exec(command.trim());
  if (!m) return oneLine(command);
  const body = m[2]!;
  return oneLine(body.endsWith(m[1]!) ? body.slice(0, -1) : body);
}

/** A worker's final message is its JSON result: show its summary, not the JSON. */
function resultSummary(text: string): string | null {
  if (!text.trim().startsWith('{')) return null;
  try {
    const v = JSON.parse(text) as { summary?: unknown };
    return typeof v.summary === 'string' ? v.summary : null;
  } catch {
    return null;
  }
}

function itemActivity(item: CodexItem, phase: 'started' | 'completed'): CodexActivity | null {
  const i = item as Record<string, unknown> & { type: string };
  switch (i.type) {
    case 'command_execution':
      return {
        kind: 'command',
        text: unwrapShell(str(i.command)),
        phase: phase === 'started' ? 'started' : 'finished',
        exitCode: typeof i.exit_code === 'number' ? i.exit_code : null,
      };
    case 'file_change': {
      const changes = Array.isArray(i.changes) ? (i.changes as { path: string; kind: string }[]) : [];
      return changes.length
        ? { kind: 'file', text: changes.map((c) => `${c.kind === 'add' ? '+' : c.kind === 'delete' ? '-' : '~'}${c.path}`).join(' ') }
        : null;
    }
    case 'agent_message':
      return phase === 'completed' && typeof i.text === 'string' && i.text.trim()
        ? { kind: 'message', text: oneLine(resultSummary(i.text) ?? i.text) }
        : null;
    case 'reasoning':
      return phase === 'completed' && typeof i.text === 'string' && i.text.trim()
        ? { kind: 'thinking', text: oneLine(i.text.replace(/\*\*/g, '')) }
        : null;
    case 'mcp_tool_call':
      return { kind: 'tool', text: `${str(i.server)}.${str(i.tool)}` };
    case 'web_search':
      return { kind: 'tool', text: `web search ${str(i.query)}` };
    case 'error':
      return { kind: 'error', text: oneLine(str(i.message)) };
    default:
      return null;
  }
}

export function codexActivity(e: CodexEvent): CodexActivity | null {
  switch (e.type) {
    case 'item.started':
      return itemActivity(e.item, 'started');
    case 'item.completed':
      return itemActivity(e.item, 'completed');
    case 'turn.completed':
      return e.usage
        ? { kind: 'usage', usage: { input: e.usage.input_tokens, cachedInput: e.usage.cached_input_tokens, output: e.usage.output_tokens } }
        : null;
    case 'turn.failed':
      return { kind: 'error', text: oneLine(e.error?.message ?? 'turn failed') };
    case 'error':
      return { kind: 'error', text: oneLine(e.message) };
    default:
      return null;
  }
}
