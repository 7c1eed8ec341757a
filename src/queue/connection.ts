/**
 * Redis connections for BullMQ. Queues, workers and event listeners each get
 * their own connection (BullMQ blocks on some of them), all with the options
 * BullMQ needs for long-running processes: no per-command retry limit, and a
 * reconnect with backoff so a Redis restart is waited out, not fatal.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { QueueError } from '../errors.js';

export interface QueueConnectionOptions {
  url: string;
  /** Called once per outage with a one-line description, and again when Redis is back. */
  onStatus?: (status: 'down' | 'up', message: string) => void;
}

/** Reconnect delays: 100 ms doubling to 5 s, forever (an outage is waited out). */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);
}

export function redisConnection(options: QueueConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => reconnectDelay(times),
    lazyConnect: false,
  };
  const redis = new Redis(options.url, redisOptions);
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    options.onStatus?.('down', `the job queue at ${redactUrl(options.url)} is unreachable (${error.message}); waiting for it to come back`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    options.onStatus?.('up', `the job queue at ${redactUrl(options.url)} is reachable again`);
  });
  return redis;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Pings Redis once; a QueueError naming the URL when it does not answer in `timeoutMs`. */
export async function checkQueue(url: string, timeoutMs = 3_000): Promise<{ version: string; latencyMs: number }> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  const started = performance.now();
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    return { version, latencyMs: Math.round(performance.now() - started) };
  } catch (cause) {
    throw new QueueError(`the job queue at ${redactUrl(url)} does not answer: ${(cause as Error).message}`, {
      hint: 'start Redis (redis-server) or fix ORCHESTRATOR_QUEUE / --queue',
      cause,
    });
  } finally {
    redis.disconnect();
  }
}
