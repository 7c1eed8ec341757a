import crypto from 'node:crypto';
import type http from 'node:http';
import { tokenMatches } from '../dispatcher/http-source.js';

export const DASHBOARD_TOKEN_VAR = 'ORCHESTRATOR_DASHBOARD_TOKEN';
export const TOKEN_COOKIE = 'codex_orch_token';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function cookies(req: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
    } catch {
      // a malformed cookie is ignored like a missing one
    }
  }
  return out;
}

/** The token a request presents: `Authorization: Bearer`, the cookie, or `?token=` (the link printed at start). */
export function presentedToken(
  req: http.IncomingMessage,
  url: URL,
): { token: string | undefined; from: 'header' | 'cookie' | 'query' | undefined } {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice('Bearer '.length).trim(), from: 'header' };
  const c = cookies(req).get(TOKEN_COOKIE);
  if (c) return { token: c, from: 'cookie' };
  const q = url.searchParams.get('token');
  if (q) return { token: q, from: 'query' };
  return { token: undefined, from: undefined };
}

export function tokenOk(presented: string | undefined, expected: string | undefined): boolean {
  if (expected === undefined) return true;
  return presented !== undefined && tokenMatches(presented, expected);
}

export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

/**
 * Cross-site request forgery check for state-changing requests: a browser sends
 * `Origin` (and `Sec-Fetch-Site`) on every POST, so it must name this server.
 * A request without either (curl, a script with the bearer token) is not from
 * a browser page and passes: the token is what guards it.
 */
export function sameOrigin(req: http.IncomingMessage): { ok: true } | { ok: false; reason: string } {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return { ok: false, reason: `Sec-Fetch-Site is ${site}` };
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true };
  const host = req.headers.host;
  if (!host) return { ok: false, reason: 'no Host header' };
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return { ok: false, reason: `Origin ${origin} is not a URL` };
  }
  if (o.host !== host) return { ok: false, reason: `Origin ${origin} is not this server (${host})` };
  return { ok: true };
}

export function newToken(): string {
  return crypto.randomBytes(24).toString('hex');
}
