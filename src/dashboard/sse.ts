import type http from 'node:http';
import type { EventRecord, Store } from '../store/index.js';
import type { EventFeed, FeedSubscriber } from './event-feed.js';
import { SECURITY_HEADERS } from './http-kit.js';

export interface SseOptions {
  /** A comment line this often keeps proxies and the browser from closing an idle stream; default 15 s. */
  heartbeatMs?: number;
  /** What the browser waits before reconnecting; default 1000 ms. */
  retryMs?: number;
}

/** One SSE message per event: `id` is the run's event seq, so a reconnect's `Last-Event-ID` resumes after it. */
export function sseMessage(e: EventRecord): string {
  const data = JSON.stringify({ seq: e.seq, ts: e.ts, type: e.type, workerId: e.workerId || undefined, data: e.data });
  return `id: ${e.seq}\nevent: run-event\ndata: ${data}\n\n`;
}

/** Where a (re)connecting client resumes: `Last-Event-ID` (the browser's reconnect) wins over `?since=`. */
export function resumeSeq(req: http.IncomingMessage, url: URL): number {
  const raw = req.headers['last-event-id'] ?? url.searchParams.get('since') ?? '0';
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Streams a run's events from `since` on as Server-Sent Events until the client goes. */
export function streamRunEvents(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  feed: EventFeed,
  store: Store,
  runId: string,
  since: number,
  options: SseOptions = {},
): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(`retry: ${options.retryMs ?? 1000}\n: run ${runId} from seq ${since}\n\n`);
  const sub: FeedSubscriber = {
    last: since,
    send(events) {
      let chunk = '';
      for (const e of events) chunk += sseMessage(e);
      return res.write(chunk);
    },
  };
  const onDrain = () => feed.resume(sub);
  res.on('drain', onDrain);
  const unsubscribe = feed.subscribe(store, runId, sub);
  const heartbeat = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.off('drain', onDrain);
  };
  req.on('close', close);
  res.on('close', close);
  res.on('error', close);
}
