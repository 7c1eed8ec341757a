/**
 * Environment: `VAR=value cmd` prefixes are allowed only for the policy's safe names
 * (an allowlist: a deny-list always misses one, e.g. GCONV_PATH or
 * ESBUILD_BINARY_PATH), and a word may expand only safe parameters.
 */
import type { ShCommand, ShWord } from '../parse.js';
import type { Policy } from '../policy-file.js';
import { Deny, q } from './deny.js';

/** Deny-list used where names are not allowlisted (variables given to make, tool overrides). */
export function isSensitiveEnv(name: string, policy: Policy): boolean {
  const upper = name.toUpperCase();
  if (policy.sensitiveEnv.names.some((n) => n.toUpperCase() === upper)) return true;
  if (policy.sensitiveEnv.prefixes.some((p) => upper.startsWith(p.toUpperCase()))) return true;
  // Names of this shape point a program at code or configuration to load.
  return /PATH|PRELOAD|LIBRARY|AUDIT|BINARY|MAKE|SHELL|_OPTIONS$|OPTS$|CONFIG|RC$|HOME$|PROXY|EDITOR|PAGER/.test(upper);
}

/** Parameters a word may expand: the safe environment names and a few harmless shell ones. */
const HARMLESS_PARAMS = ['HOME', 'PWD', 'USER'];

export function isSafeParam(name: string, policy: Policy): boolean {
  return policy.safeEnv.includes(name) || HARMLESS_PARAMS.includes(name);
}

/** Denies a word that expands a parameter outside the safe list (`$OPENAI_API_KEY`, `$_`, `$1`). */
export function checkParams(w: ShWord, policy: Policy, where: string): Deny | null {
  for (const p of w.params) {
    if (!isSafeParam(p, policy)) {
      return new Deny(
        'dynamic',
        `${where} ${q(w.text)} expands $${p}; only ${[...policy.safeEnv, ...HARMLESS_PARAMS].map((n) => `$${n}`).join(', ')} may be expanded (variables can hold secrets or change between check and run)`,
      );
    }
  }
  return null;
}

export function checkAssignments(cmd: ShCommand, policy: Policy): Deny | null {
  if (!cmd.name && cmd.assignments.length > 0) {
    return new Deny(
      'env-assign',
      `shell variable assignment ${q(cmd.assignments[0]!.text)} without a command is not allowed; use VAR=value <command>`,
    );
  }
  for (const a of cmd.assignments) {
    if (!policy.safeEnv.includes(a.name)) {
      return new Deny(
        'env-assign',
        `setting ${a.name} is not allowed: only ${policy.safeEnv.join(', ')} may be set before a command (other variables change how programs are found, configured or run)`,
      );
    }
    if (a.value === null || a.value.dynamic || a.value.glob || a.value.brace || a.value.tilde) {
      return new Deny('env-assign', `the value of ${a.name} in ${q(a.text)} must be literal text`);
    }
  }
  return null;
}
