import { createLogUpdate } from 'log-update';
import { loadPrices, type PriceTable } from '../../cost/index.js';
import type { RunEvent } from '../../orchestrator/events.js';
import { paint } from '../output.js';
import { displayMode, type DisplayMode } from './mode.js';
import { plainEventLine } from './plain.js';
import { ANSI, cut, renderLive, visibleLength } from './render.js';
import { applyEvent, newLiveState, type LiveContext, type LiveState } from './state.js';

/**
 * The progress display of a run on stderr. Live mode keeps one line per
 * worker up to date in place (log-update rewrites only the lines that
 * changed), with the lines that matter for the record — denials, errors,
 * merges, subtask outcomes — printed above it for the scrollback. Plain mode
 * prints those lines only. Redraws are coalesced: at most one frame per
 * `frameMs` while events arrive, and one a second for the clocks.
 */
export interface LiveViewOptions {
  quiet?: boolean;
  /** false with --no-progress. */
  progress?: boolean;
  stream?: NodeJS.WriteStream;
  prices?: PriceTable;
  workerModel?: string | null;
  model?: string | null;
  /** Minimum ms between two frames (default 25: an event shows within 50 ms even on a loaded machine; at most 40 frames a second, and only while events arrive). */
  frameMs?: number;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export interface LiveView {
  readonly mode: DisplayMode;
  readonly state: LiveState;
  onEvent(event: RunEvent): void;
  /** A line for the scrollback (above the live block; a plain line otherwise). */
  note(line: string): void;
  /** Draws the last frame and leaves it in the scrollback; idempotent. */
  stop(): void;
}

/** Lines that also go to the scrollback in live mode (the rest of the story is in the redrawn block). */
function persistent(e: RunEvent): boolean {
  switch (e.type) {
    case 'run.started':
    case 'command.security':
    case 'run.error':
    case 'model.retry':
    case 'plan.started':
    case 'plan.finished':
      return true;
    case 'command.finished':
      return !e.allowed || Boolean(e.worker) || (e.exitCode !== 0 && !e.dryRun);
    case 'subtask.status':
      return e.status === 'merged' || e.status === 'error' || e.status === 'stuck';
    case 'plan.decision':
      return (
        e.kind === 'budget' ||
        e.kind === 'security' ||
        (e.kind === 'merge' && e.action !== 'queued' && e.action !== 'merging' && e.action !== 'smoke-started' && e.action !== 'merged')
      );
    default:
      return false;
  }
}

export function createLiveView(options: LiveViewOptions = {}): LiveView {
  const stream = options.stream ?? process.stderr;
  const mode = displayMode(stream, { quiet: options.quiet, progress: options.progress, env: options.env });
  const clock = options.now ?? Date.now;
  const state = newLiveState({ model: options.model ?? null });
  let ctx: LiveContext | undefined;
  const context = (): LiveContext => (ctx ??= { prices: options.prices ?? loadPrices(), workerModel: options.workerModel ?? null });
  const painter = (style: 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold', text: string) => paint(style, text, stream);
  const frameMs = options.frameMs ?? 25;

  if (mode !== 'live') {
    return {
      mode,
      state,
      onEvent(event) {
        applyEvent(state, event, clock());
        if (mode === 'quiet') return;
        const line = plainEventLine(event, painter);
        if (line !== null) stream.write(`${line}\n`);
      },
      note(line) {
        if (mode !== 'quiet') stream.write(`${line}\n`);
      },
      stop() {},
    };
  }

  const log = createLogUpdate(stream);
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let lastFrame = 0;
  let stopped = false;
  const frame = () => {
    // A terminal resized to nothing mid-run: stop drawing rather than compute a zero-width frame.
    if (!(stream.columns > 0) || !(stream.rows > 0)) return;
    lastFrame = clock();
    log(renderLive(state, context(), { now: lastFrame, width: stream.columns, height: stream.rows, paint: painter }).join('\n'));
  };
  const persist = (line: string) =>
    log.persist(stream.columns > 1 && visibleLength(line) > stream.columns - 1 ? cut(line.replace(ANSI, ''), stream.columns - 1) : line);
  const draw = () => {
    timer = undefined;
    if (!stopped) frame();
  };
  const schedule = () => {
    if (timer || stopped) return;
    const wait = Math.max(0, lastFrame + frameMs - clock());
    timer = setTimeout(draw, wait);
    timer.unref();
  };
  return {
    mode,
    state,
    onEvent(event) {
      applyEvent(state, event, clock());
      if (stopped) return;
      if (persistent(event)) {
        const line = plainEventLine(event, painter);
        // One event, one line on a terminal: cut to the width (colour codes do not count) rather than wrap.
        if (line !== null) persist(line);
      }
      if (!ticker && state.startedAt !== null) {
        ticker = setInterval(schedule, 1000);
        ticker.unref();
      }
      schedule();
    },
    note(line) {
      if (stopped) stream.write(`${line}\n`);
      else {
        persist(line);
        schedule();
      }
    },
    stop() {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      if (ticker) clearInterval(ticker);
      timer = ticker = undefined;
      if (state.rows.size > 0 || state.startedAt !== null) frame();
      stopped = true;
      log.done();
    },
  };
}
