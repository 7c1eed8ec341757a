/**
 * POSTs a notification as JSON. Signed when a secret is set:
 * `X-Codex-Orch-Signature: sha256=<hex HMAC-SHA256 of the exact body>`.
 * Each attempt has a timeout; network errors, timeouts, 429 and 5xx are
 * retried (3 times by default, with doubling backoff); other answers are final.
 * Never throws: the result says what happened.
 */
import crypto from 'node:crypto';

export const SIGNATURE_HEADER = 'x-codex-orch-signature';
export const EVENT_HEADER = 'x-codex-orch-event';
export const DELIVERY_HEADER = 'x-codex-orch-delivery';

export interface WebhookOptions {
  url: string;
  secret?: string | undefined;
  /** Per attempt (default 5000 ms). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** Wait before the first retry; doubled for each next one (default 500 ms). */
  backoffMs?: number;
  /** Stops retrying (the run is exiting and cannot wait longer). */
  signal?: AbortSignal;
}

export interface WebhookResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, or null when no answer came. */
  status: number | null;
  /** Why it failed, for the log. */
  error: string | null;
}

export function signBody(body: string, secret: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Checks a signature header against the body (constant time). For receivers and tests. */
export function verifySignature(body: string, secret: string, header: string | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(signBody(body, secret));
  const got = Buffer.from(header);
  return want.length === got.length && crypto.timingSafeEqual(want, got);
}

const retryable = (status: number) => status === 429 || status >= 500;

export async function postWebhook(payload: { event: string }, options: WebhookOptions): Promise<WebhookResult> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'codex-orchestrator',
    [EVENT_HEADER]: payload.event,
    [DELIVERY_HEADER]: crypto.randomUUID(),
  };
  if (options.secret) headers[SIGNATURE_HEADER] = signBody(body, options.secret);
  const retries = options.retries ?? 3;
  let delay = options.backoffMs ?? 500;
  let status: number | null;
  let error: string | null;
  for (let attempt = 1; ; attempt++) {
    try {
      const signals = [AbortSignal.timeout(options.timeoutMs ?? 5000), ...(options.signal ? [options.signal] : [])];
      const res = await fetch(options.url, { method: 'POST', headers, body, signal: AbortSignal.any(signals), redirect: 'manual' });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt, status, error: null };
      error = `HTTP ${res.status}`;
      if (!retryable(res.status)) return { ok: false, attempts: attempt, status, error };
    } catch (e) {
      status = null;
      error = (e as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs ?? 5000} ms` : (e as Error).message;
    }
    if (attempt > retries || options.signal?.aborted) return { ok: false, attempts: attempt, status, error };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      options.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    delay *= 2;
  }
}
