import type { CodexEvent } from '../workers/codex/index.js';

/**
 * One readable line per codex event worth showing (commands with exit code,
 * file changes, messages, usage), for a tmux worker window. A minimal
 * renderer kept apart so it can be unified with `runs tail`'s.
 */
export function workerEventLine(e: CodexEvent): string | null {
  const one = (s: string, n = 160) => {
    const t = s.replace(/\s+/g, ' ').trim();
    return t.length > n ? `${t.slice(0, n - 1)}…` : t;
  };
  switch (e.type) {
    case 'thread.started':
      return `thread ${e.thread_id}`;
    case 'turn.started':
      return 'turn started';
    case 'turn.completed':
      return e.usage
        ? `turn done: tokens in ${e.usage.input_tokens} (cached ${e.usage.cached_input_tokens}), out ${e.usage.output_tokens}`
        : 'turn done';
    case 'turn.failed':
      return `turn FAILED: ${one(e.error?.message ?? 'unknown error')}`;
    case 'error':
      return `error: ${one(e.message)}`;
    case 'item.started':
      return e.item.type === 'command_execution' ? `$ ${one((e.item as { command: string }).command)}` : null;
    case 'item.completed': {
      const item = e.item as { type: string; [k: string]: unknown };
      const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
      if (item.type === 'command_execution') return `$ ${one(str(item.command))}  → exit ${str(item.exit_code) || '?'}`;
      if (item.type === 'file_change')
        return `files: ${((item.changes as { path: string; kind: string }[] | undefined) ?? []).map((c) => `${c.kind} ${c.path}`).join(', ')}`;
      if (item.type === 'agent_message') return `says: ${one(str(item.text), 400)}`;
      if (item.type === 'reasoning') return str(item.text) ? `thinks: ${one(str(item.text))}` : null;
      if (item.type === 'error') return `error: ${one(str(item.message))}`;
      if (item.type === 'mcp_tool_call') return `tool ${str(item.server)}.${str(item.tool)}`;
      if (item.type === 'web_search') return `search: ${one(str(item.query))}`;
      return null;
    }
    default:
      return null;
  }
}
