/**
 * Tells a person about a run: subscribe `onEvent` to the run's RunEvents; each
 * notification (see notification.ts) goes to every channel that is on —
 * a terminal bell and line (unless quiet), tmux `display-message` when inside
 * tmux, `notify-send` with `desktop`, the webhook (ORCHESTRATOR_WEBHOOK_URL),
 * and the hook commands (ORCHESTRATOR_NOTIFY_COMMAND, the repository's
 * `notify`). Delivery runs in the background and never throws into the run;
 * `flush` waits (bounded) for what is still on its way before the program exits.
 */
import { loadPrices } from '../cost/index.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { RunEvent } from '../orchestrator/events.js';
import { displayMessage, insideTmux } from '../tmux/tmux.js';
import { desktopNotify } from './desktop.js';
import { runHookCommand, type HookResult } from './hook-command.js';
import { NotificationTracker, type Notification } from './notification.js';
import { postWebhook, type WebhookResult } from './webhook.js';

export interface NotifierOptions {
  config: Pick<Config, 'webhookUrl' | 'webhookSecret' | 'webhookTimeoutMs' | 'notifyCommand' | 'notifyDesktop' | 'stateDir' | 'pricesFile'>;
  /** The repository settings' `notify` hook (argv). */
  repoHook?: readonly string[] | undefined;
  /** No bell and line on the terminal. */
  quiet?: boolean;
  /** Also notify-send (or config.notifyDesktop). */
  desktop?: boolean;
  /** Where the bell and line go (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Prints the line instead of writing it to `stream` (a live view puts it above its block); the bell still goes to `stream`. */
  note?: (line: string) => void;
  logger?: Logger;
  /** Webhook retry timing (tests shorten it). */
  webhook?: { retries?: number; backoffMs?: number };
  env?: NodeJS.ProcessEnv;
}

export interface Delivery {
  channel: 'terminal' | 'tmux' | 'desktop' | 'webhook' | 'hook';
  event: Notification['event'];
  ok: boolean;
  attempts?: number;
  error?: string | null;
}

export interface Notifier {
  onEvent(event: RunEvent): void;
  /** Sends one notification now (the tracker's own output goes through here). */
  notify(n: Notification): void;
  /** Waits for deliveries in flight, at most `maxMs` (default 15 s); then gives up on them. */
  flush(maxMs?: number): Promise<void>;
  readonly sent: readonly Notification[];
  readonly deliveries: readonly Delivery[];
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { config } = options;
  const tracker = new NotificationTracker({
    stateDir: config.stateDir,
    prices: loadPrices(config.pricesFile),
  });
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const stop = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const sent: Notification[] = [];
  const deliveries: Delivery[] = [];
  const hooks = [config.notifyCommand, options.repoHook].filter((h): h is readonly string[] => Array.isArray(h) && h.length > 0);
  const desktop = options.desktop === true || config.notifyDesktop;

  const track = (channel: Delivery['channel'], n: Notification, work: Promise<Omit<Delivery, 'channel' | 'event'>>) => {
    const p = work
      .then((r) => {
        deliveries.push({ channel, event: n.event, ...r });
        if (!r.ok) options.logger?.warn({ channel, event: n.event, error: r.error, attempts: r.attempts }, 'notification not delivered');
      })
      .catch((error: unknown) => {
        deliveries.push({ channel, event: n.event, ok: false, error: (error as Error).message });
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const notify = (n: Notification) => {
    sent.push(n);
    const line = `codex-orch: ${n.summary}`;
    if (!options.quiet) {
      try {
        if (options.note) {
          if (stream.isTTY) stream.write('\x07');
          options.note(line);
        } else {
          stream.write(`${stream.isTTY ? '\x07' : ''}${line}\n`);
        }
        deliveries.push({ channel: 'terminal', event: n.event, ok: true });
      } catch {
        /* a closed terminal does not stop the run */
      }
    }
    if (insideTmux(env))
      track(
        'tmux',
        n,
        displayMessage(line).then((r) => ({ ok: r.ok, error: r.ok ? null : r.stderr.trim() })),
      );
    if (desktop)
      track(
        'desktop',
        n,
        desktopNotify(`codex-orch: ${n.event}`, n.summary, n.event === 'run.succeeded' ? 'normal' : 'critical').then((ok) => ({
          ok,
          error: ok ? null : 'notify-send missing or failed',
        })),
      );
    if (config.webhookUrl) {
      track(
        'webhook',
        n,
        postWebhook(n, {
          url: config.webhookUrl,
          secret: config.webhookSecret,
          timeoutMs: config.webhookTimeoutMs,
          signal: stop.signal,
          ...options.webhook,
        }).then((r: WebhookResult) => ({ ok: r.ok, attempts: r.attempts, error: r.error })),
      );
    }
    for (const argv of hooks)
      track(
        'hook',
        n,
        runHookCommand(argv, n).then((r: HookResult) => ({ ok: r.ok, error: r.error })),
      );
  };

  return {
    onEvent(event) {
      try {
        const n = tracker.next(event);
        if (n) notify(n);
      } catch (error) {
        options.logger?.warn({ err: error }, 'notifier failed on an event');
      }
    },
    notify,
    async flush(maxMs = 15_000) {
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
      await Promise.race([Promise.allSettled([...inFlight]).then(() => undefined), deadline]);
      clearTimeout(timer);
      stop.abort();
    },
    sent,
    deliveries,
  };
}
