import fs from 'node:fs';
import path from 'node:path';
import { parseEventLine, type CodexEvent } from '../workers/codex/index.js';

/** One readable line of a codex worker's own event stream (its `events.jsonl`). */
export interface WorkerLine {
  kind: 'message' | 'command' | 'file' | 'error' | 'turn' | 'other';
  text: string;
}

const TAIL_BYTES = 96 * 1024;

function line(e: CodexEvent): WorkerLine | undefined {
  switch (e.type) {
    case 'thread.started':
      return { kind: 'turn', text: `thread ${e.thread_id}` };
    case 'turn.completed':
      return { kind: 'turn', text: `turn done${e.usage ? ` · ${e.usage.input_tokens} in, ${e.usage.output_tokens} out` : ''}` };
    case 'turn.failed':
      return { kind: 'error', text: `turn failed: ${e.error?.message ?? ''}` };
    case 'error':
      return { kind: 'error', text: e.message };
    case 'item.completed': {
      const it = e.item as {
        type: string;
        text?: unknown;
        command?: unknown;
        exit_code?: unknown;
        status?: unknown;
        changes?: unknown;
        message?: unknown;
      };
      const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
      if (it.type === 'agent_message') return { kind: 'message', text: str(it.text) };
      if (it.type === 'command_execution')
        return {
          kind: 'command',
          text: `$ ${str(it.command)} → ${typeof it.exit_code === 'number' ? `exit ${it.exit_code}` : str(it.status)}`,
        };
      if (it.type === 'file_change' && Array.isArray(it.changes))
        return { kind: 'file', text: (it.changes as { path: string; kind: string }[]).map((c) => `${c.kind} ${c.path}`).join(', ') };
      if (it.type === 'error') return { kind: 'error', text: str(it.message) };
      if (it.type === 'reasoning') return undefined;
      return { kind: 'other', text: it.type };
    }
    default:
      return undefined;
  }
}

/** The last `max` readable lines of a worker's codex events (the file's tail only: it can be large). */
export function workerLines(runDir: string, max = 60): WorkerLine[] {
  const file = path.join(runDir, 'events.jsonl');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    const rows = buf.toString('utf8').split('\n');
    if (start > 0) rows.shift(); // a partial first line
    const out: WorkerLine[] = [];
    for (const r of rows) {
      if (!r.trim()) continue;
      const e = parseEventLine(r);
      const l = e ? line(e) : undefined;
      if (l) out.push({ kind: l.kind, text: l.text.length > 2000 ? `${l.text.slice(0, 1999)}…` : l.text });
    }
    return out.slice(-max);
  } finally {
    fs.closeSync(fd);
  }
}
