import { formatTokens, formatUsd } from '../../cost/index.js';
import { rowMoney, runMoney, type LiveContext, type LiveRow, type LiveState, type Money, type RowStatus } from './state.js';

/**
 * The live view as text lines: a header with the run's clock and money, one
 * line per worker, then the merge queue, denials and notes. Every line fits
 * the width (cut with …); colour is added by the caller's painter.
 */
export type Painter = (style: 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold', text: string) => string;

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatMoney(m: Money): string {
  const usd = m.usd !== null && m.tokens > 0 ? formatUsd(m.usd) : '';
  return `${formatTokens(m.tokens)} tok${usd ? ` ${usd}` : ''}${m.unpriced ? (usd ? '+?' : ' (no price)') : ''}`;
}

const STATUS_STYLE: Record<RowStatus, Parameters<Painter>[0]> = {
  queued: 'dim',
  waiting: 'dim',
  running: 'cyan',
  reviewing: 'cyan',
  'in merge queue': 'yellow',
  merging: 'yellow',
  merged: 'green',
  done: 'green',
  failed: 'red',
  stuck: 'red',
  stopped: 'yellow',
};

const ICON: Record<RowStatus, string> = {
  queued: '·',
  waiting: '·',
  running: '▶',
  reviewing: '◆',
  'in merge queue': '⧗',
  merging: '⧗',
  merged: '✔',
  done: '✔',
  failed: '✖',
  stuck: '✖',
  stopped: '■',
};

// eslint-disable-next-line no-control-regex
export const ANSI = /\u001b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ANSI, '').length;

/** Cuts plain text to n characters with an ellipsis. */
export function cut(s: string, n: number): string {
  if (n <= 0) return '';
  return s.length > n ? `${s.slice(0, Math.max(0, n - 1))}…` : s;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export interface RenderOptions {
  now: number;
  /** Terminal columns; lines are cut to width - 1. */
  width: number;
  /** At most this many lines (a short terminal); workers that finished go first. */
  height?: number;
  paint?: Painter;
}

function rowLine(r: LiveRow, ctx: LiveContext, o: RenderOptions, labelWidth: number, paint: Painter, state: LiveState): string {
  const elapsed = r.startedAt === null ? '-' : formatElapsed((r.endedAt ?? o.now) - r.startedAt);
  const money = formatMoney(rowMoney(r, ctx, state));
  const label = `${ICON[r.status]} ${pad(cut(r.label, labelWidth), labelWidth)} `;
  const rest = ` ${elapsed.padStart(6)} `;
  const status = pad(r.status, 14);
  const tail = ` ${money}`;
  const room = o.width - 1 - label.length - status.length - rest.length - tail.length;
  if (room <= 8) return cut(`${label}${status}${rest}${tail.trim()}`, o.width - 1);
  // Colour only the status word, after the widths are computed on plain text.
  return `${label}${paint(STATUS_STYLE[r.status], status)}${rest}${pad(cut(r.doing, room), room)}${tail}`;
}

export function renderLive(state: LiveState, ctx: LiveContext, o: RenderOptions): string[] {
  const paint: Painter = o.paint ?? ((_s, t) => t);
  const width = Math.max(20, o.width);
  const rows = [...state.rows.values()].sort((a, b) => a.order - b.order);
  const count = (pred: (r: LiveRow) => boolean) => rows.filter(pred).length;
  const active = count((r) => r.status === 'running' || r.status === 'reviewing');
  const merged = count((r) => r.status === 'merged');
  const failed = count((r) => r.status === 'failed' || r.status === 'stuck');
  const clock = state.startedAt === null ? '' : ` · ${formatElapsed(o.now - state.startedAt)}`;
  const counts = rows.length ? ` · ${active} running, ${merged} merged${failed ? `, ${failed} failed` : ''} of ${rows.length}` : '';
  const out: string[] = [cut(`codex-orch ${state.title || 'run'}${clock}${counts} · ${formatMoney(runMoney(state, ctx))}`, width - 1)];
  const labelWidth = Math.min(28, Math.max(8, ...rows.map((r) => r.label.length)));
  const body = rows.map((r) => rowLine(r, ctx, { ...o, width }, labelWidth, paint, state));
  const extra: string[] = [];
  if (state.mergeQueue.length) {
    const names = state.mergeQueue.map((k) => state.rows.get(k)?.label ?? k);
    extra.push(cut(`merge queue: ${names.join(' → ')}`, width - 1));
  }
  if (state.denials.length) {
    const last = state.denials.slice(-2).map((d) => `${d.worktree}$ ${d.command.replace(/\s+/g, ' ')} (${d.rule ?? 'denied'})`);
    extra.push(cut(`denied ${state.denials.length}: ${last.join('; ')}`, width - 1).replace(/^denied/, paint('red', 'denied')));
  }
  for (const n of state.notes.slice(-2)) extra.push(paint('yellow', cut(n, width - 1)));
  // A short terminal: keep the header, the extra lines and as many workers as fit, active ones first.
  const room = o.height !== undefined ? Math.max(0, o.height - 1 - out.length - extra.length) : body.length;
  if (body.length > room) {
    const order = rows.map((r, i) => ({
      i,
      rank: r.status === 'merged' || r.status === 'done' ? 2 : r.status === 'queued' || r.status === 'waiting' ? 1 : 0,
    }));
    const keep = new Set(
      order
        .sort((a, b) => a.rank - b.rank || a.i - b.i)
        .slice(0, Math.max(0, room - 1))
        .map((x) => x.i),
    );
    const shown = body.filter((_, i) => keep.has(i));
    out.push(...shown, paint('dim', `… ${body.length - shown.length} more`));
  } else out.push(...body);
  out.push(...extra);
  return out;
}
