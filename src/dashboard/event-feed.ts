import type { EventRecord, Store } from '../store/index.js';

/** One open stream of a run's events (an SSE connection). */
export interface FeedSubscriber {
  /** The last seq it was given. */
  last: number;
  /** Writes events; false means the connection is backed up (stop until `resume`). */
  send(events: readonly EventRecord[]): boolean;
}

interface RunFeed {
  store: Store;
  runId: string;
  /** The highest seq read from the store. */
  last: number;
  subscribers: Set<FeedSubscriber>;
  /** Subscribers that fell behind (backed up or joined with an older seq): they catch up from the store. */
  behind: Set<FeedSubscriber>;
  /** Subscribers whose connection is backed up: nothing is written to them until it drains. */
  paused: Set<FeedSubscriber>;
}

export interface EventFeedOptions {
  /** How often a run with listeners is polled; default 25 ms. */
  pollMs?: number;
  /** Most events read from the store at once; default 500. */
  batch?: number;
  /** A poll that failed (it is retried on the next tick). */
  onError?: (error: unknown) => void;
}

/**
 * Reads each watched run's events from the store (written by other processes,
 * so polled by seq) once per tick and fans them out to every listener. Nothing
 * is buffered per listener: one that is backed up is moved aside and later
 * catches up from the store itself, so memory stays bounded however slow a
 * client is, and no event is skipped.
 */
export class EventFeed {
  private readonly feeds = new Map<string, RunFeed>();
  private readonly pollMs: number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  private readonly onError: ((error: unknown) => void) | undefined;

  constructor(options: EventFeedOptions = {}) {
    this.pollMs = options.pollMs ?? 25;
    this.batch = options.batch ?? 500;
    this.onError = options.onError;
  }

  /** Starts streaming `runId`'s events after seq `since` to the subscriber; returns the unsubscribe. */
  subscribe(store: Store, runId: string, sub: FeedSubscriber): () => void {
    const key = `${store.location ?? 'memory'}\u0000${runId}`;
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = { store, runId, last: store.lastEventSeq(runId), subscribers: new Set(), behind: new Set(), paused: new Set() };
      this.feeds.set(key, feed);
    }
    const f = feed;
    f.subscribers.add(sub);
    if (sub.last < f.last) f.behind.add(sub);
    this.ensureTimer();
    this.tick();
    return () => {
      f.subscribers.delete(sub);
      f.behind.delete(sub);
      f.paused.delete(sub);
      if (f.subscribers.size === 0) this.feeds.delete(key);
      if (this.feeds.size === 0) this.stopTimer();
    };
  }

  /** A backed-up subscriber's connection drained: let it catch up. */
  resume(sub: FeedSubscriber): void {
    for (const f of this.feeds.values()) {
      if (f.paused.delete(sub)) f.behind.add(sub);
    }
    this.tick();
  }

  get watchedRuns(): number {
    return this.feeds.size;
  }

  close(): void {
    this.feeds.clear();
    this.stopTimer();
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const f of this.feeds.values()) {
        try {
          this.pollFeed(f);
        } catch (error) {
          // A store that cannot be read now (busy, closed, the run deleted) is tried again next tick.
          this.onError?.(error);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private pollFeed(f: RunFeed): void {
    // Stragglers first, from the store, up to where the feed is.
    for (const sub of [...f.behind]) {
      if (f.paused.has(sub)) continue;
      let ok = true;
      while (ok && sub.last < f.last) {
        // Catching up reads bigger pages: fewer queries for a long replay.
        const events = f.store.listEvents(f.runId, { since: sub.last, limit: this.batch * 4 }).filter((e) => e.seq <= f.last);
        if (events.length === 0) break;
        sub.last = events[events.length - 1]!.seq;
        ok = sub.send(events);
      }
      if (!ok) f.paused.add(sub);
      else if (sub.last >= f.last) f.behind.delete(sub);
    }
    for (;;) {
      const events = f.store.listEvents(f.runId, { since: f.last, limit: this.batch });
      if (events.length === 0) return;
      f.last = events[events.length - 1]!.seq;
      for (const sub of f.subscribers) {
        if (f.behind.has(sub)) continue;
        const fresh = events.filter((e) => e.seq > sub.last);
        if (fresh.length === 0) continue;
        sub.last = fresh[fresh.length - 1]!.seq;
        if (!sub.send(fresh)) {
          f.behind.add(sub);
          f.paused.add(sub);
        }
      }
      if (events.length < this.batch) return;
    }
  }
}
