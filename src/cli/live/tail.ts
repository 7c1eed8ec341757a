import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '../../errors.js';
import { readJsonFile, runDir, type Store } from '../../store/index.js';
import { parseEventLine, unwrapShell, type CodexEvent } from '../../workers/codex/index.js';

/**
 * `runs tail <id> --worker <name|id>`: a worker's codex events (its
 * events.jsonl) as readable lines — commands with their exit code (and
 * duration while following), file changes, messages, token usage — or the raw
 * JSONL with --raw. Workers are found by id, id prefix, subtask id or worktree name.
 */
export interface TailWorker {
  workerId: string;
  dir: string;
  /** Worktree directory name, when known. */
  worktree: string | null;
  subtaskId: string | null;
}

function workersOf(store: Store, stateDir: string, runId: string): TailWorker[] {
  const root = path.join(runDir(stateDir, runId).root, 'workers');
  const known = new Map(store.listWorkers(runId).map((w) => [w.workerId, w]));
  let dirs: string[];
  try {
    dirs = fs.readdirSync(root);
  } catch {
    dirs = [];
  }
  const ids = [...new Set([...known.keys(), ...dirs])];
  return ids
    .map((workerId) => {
      const dir = path.join(root, workerId);
      const meta = readJsonFile(path.join(dir, 'meta.json')) as { cwd?: string; startedAt?: string } | undefined;
      return {
        workerId,
        dir,
        worktree: meta?.cwd ? path.basename(meta.cwd) : null,
        subtaskId: known.get(workerId)?.subtaskId ?? null,
        startedAt: meta?.startedAt ?? known.get(workerId)?.startedAt ?? '',
      };
    })
    .filter((w) => fs.existsSync(path.join(w.dir, 'events.jsonl')))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .map(({ startedAt: _s, ...w }) => w);
}

/** The workers a name means: an exact id, else every worker of that worktree or subtask, else an unambiguous id prefix. */
export function resolveWorkers(store: Store, stateDir: string, runId: string, name: string): TailWorker[] {
  const all = workersOf(store, stateDir, runId);
  const exact = all.filter((w) => w.workerId === name);
  if (exact.length) return exact;
  const bare = name.replace(/^task-/, '');
  const byName = all.filter((w) => w.worktree === name || w.worktree === `task-${bare}` || w.subtaskId === name || w.subtaskId === bare);
  if (byName.length) return byName;
  const byPrefix = all.filter((w) => w.workerId.startsWith(name));
  if (byPrefix.length === 1) return byPrefix;
  const list = all.map((w) => `${w.workerId}${w.worktree ? ` (${w.worktree})` : ''}`).join(', ') || 'none';
  if (byPrefix.length > 1)
    throw new StoreError(`worker ${JSON.stringify(name)} is ambiguous in run ${runId}: ${byPrefix.map((w) => w.workerId).join(', ')}`, {
      hint: 'give more of the id',
    });
  throw new StoreError(`run ${runId} has no worker ${JSON.stringify(name)}`, { hint: `its workers: ${list}` });
}

/** A field of a loosely typed codex item, as text ('' when it is not a string). */
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const oneLine = (s: string, n = 160) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

/** Turns codex events into readable lines; keeps item start times so a followed command shows its duration. */
export class CodexEventFormatter {
  private readonly started = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  line(e: CodexEvent): string | null {
    switch (e.type) {
      case 'thread.started':
        return `thread ${e.thread_id}`;
      case 'turn.started':
        return 'turn started';
      case 'turn.completed': {
        const u = e.usage;
        return u ? `turn done — tokens in ${u.input_tokens} (cached ${u.cached_input_tokens}), out ${u.output_tokens}` : 'turn done';
      }
      case 'turn.failed':
        return `turn FAILED: ${oneLine(e.error?.message ?? '')}`;
      case 'error':
        return `error: ${oneLine(e.message)}`;
      case 'item.started':
      case 'item.updated':
      case 'item.completed': {
        const item = e.item as { id: string; type: string } & Record<string, unknown>;
        if (e.type === 'item.started') this.started.set(item.id, this.now());
        if (e.type === 'item.updated') return null;
        const t0 = this.started.get(item.id);
        const took = e.type === 'item.completed' && t0 !== undefined ? ` ${((this.now() - t0) / 1000).toFixed(1)}s` : '';
        switch (item.type) {
          case 'command_execution': {
            const cmd = oneLine(unwrapShell(str(item.command)), 120);
            if (e.type === 'item.started') return `$ ${cmd}`;
            const code = typeof item.exit_code === 'number' ? item.exit_code : null;
            const out =
              typeof item.aggregated_output === 'string' && item.aggregated_output.trim()
                ? `\n    ${oneLine(item.aggregated_output.trim().split('\n').slice(-1)[0] ?? '', 120)}`
                : '';
            return `$ ${cmd} → exit ${code ?? '?'}${took}${out}`;
          }
          case 'file_change': {
            if (e.type === 'item.started') return null;
            const changes = Array.isArray(item.changes) ? (item.changes as { path: string; kind: string }[]) : [];
            return `files: ${changes.map((c) => `${c.kind} ${c.path}`).join(', ')}`;
          }
          case 'agent_message':
            return e.type === 'item.completed' ? `message: ${oneLine(str(item.text), 300)}` : null;
          case 'reasoning':
            return e.type === 'item.completed' && item.text ? `thinking: ${oneLine(str(item.text))}` : null;
          case 'error':
            return `error: ${oneLine(str(item.message))}`;
          case 'mcp_tool_call':
            return e.type === 'item.completed' ? `tool ${str(item.server)}.${str(item.tool)} ${str(item.status)}${took}` : null;
          case 'web_search':
            return e.type === 'item.completed' ? `web search: ${str(item.query)}` : null;
          case 'todo_list':
            return e.type === 'item.completed' ? `todo: ${Array.isArray(item.items) ? item.items.length : 0} item(s)` : null;
          default:
            return e.type === 'item.completed' ? `${item.type}` : null;
        }
      }
      case 'unknown':
        return `(${e.rawType ?? 'not JSON'}) ${oneLine(JSON.stringify(e.raw), 120)}`;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prints the workers' events in order; with follow, keeps reading the last one until it ends. */
export async function tailWorkers(
  workers: TailWorker[],
  options: { follow: boolean; raw: boolean; out?: NodeJS.WritableStream; intervalMs?: number; shouldStop?: () => boolean },
): Promise<void> {
  const out = options.out ?? process.stdout;
  for (const [i, w] of workers.entries()) {
    const last = i === workers.length - 1;
    if (workers.length > 1 && !options.raw) out.write(`== ${w.workerId}${w.worktree ? ` (${w.worktree})` : ''}\n`);
    const file = path.join(w.dir, 'events.jsonl');
    const fmt = new CodexEventFormatter();
    let pos = 0;
    let pending = '';
    let idle = 0;
    for (;;) {
      const size = fs.statSync(file).size;
      if (size > pos) {
        const fd = fs.openSync(file, 'r');
        const buf = Buffer.alloc(size - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        fs.closeSync(fd);
        pos = size;
        idle = 0;
        if (options.raw) out.write(buf);
        else {
          const text = pending + buf.toString('utf8');
          const lines = text.split('\n');
          pending = lines.pop() ?? '';
          for (const l of lines) {
            if (!l.trim()) continue;
            const e = parseEventLine(l);
            const line = e ? fmt.line(e) : `(not JSON) ${oneLine(l, 120)}`;
            if (line !== null) out.write(`${line}\n`);
          }
        }
      }
      if (!options.follow || !last || options.shouldStop?.()) break;
      const meta = readJsonFile(path.join(w.dir, 'meta.json')) as { status?: string } | undefined;
      if (meta?.status && ['complete', 'error', 'stuck'].includes(meta.status) && ++idle > 1) break;
      await sleep(options.intervalMs ?? 300);
    }
  }
}
