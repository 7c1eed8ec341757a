/** Redirections: read targets stay in the base dir, write targets in the worktree (never main/, `.git` or the state dir). */
import type { ShRedirect } from '../parse.js';
import { Deny, q, type Env } from './deny.js';
import { checkPathValue } from './paths.js';

const WRITE_OPS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);

export function isWriteRedirect(r: ShRedirect): boolean {
  return r.kind === 'file' && WRITE_OPS.has(r.op) && r.target?.value !== '/dev/null';
}

export function checkRedirect(r: ShRedirect, env: Env, where: string): Deny | null {
  if (r.fdVariable) return new Deny('redirect', `redirection ${q(r.text)} in ${where} allocates a descriptor variable`);
  if (r.kind === 'heredoc' || r.kind === 'herestring' || r.kind === 'dup') return null;
  const t = r.target;
  if (!t) return new Deny('redirect', `redirection ${q(r.text)} has no target`);
  if (t.dynamic) return new Deny('redirect', `redirection target ${q(t.text)} in ${where} is built at run time`);
  if (t.tilde) return new Deny('redirect', `redirection target ${q(t.text)} uses home (~) expansion`);
  if (t.glob || t.brace) return new Deny('redirect', `redirection target ${q(t.text)} uses a glob or brace expansion`);
  if (t.value === '/dev/null') return null;
  return checkPathValue(t.value, env, { what: `redirection target of ${where}`, rule: 'redirect', write: WRITE_OPS.has(r.op) });
}
