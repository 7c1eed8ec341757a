/**
 * Option scanning as getopt_long (GNU tools, make), nopt (npm) and git's
 * parse-options do it: `--` ends options, `--x=v`, clusters `-abc` where a value
 * option takes the rest of the cluster or the next word, and unambiguous prefixes of
 * long options (`--ev` is `--eval`). Prefix matching is fail-closed: a name that is a
 * prefix of a denied option is denied even where the tool would call it ambiguous.
 */
import type { ShWord } from '../parse.js';
import { Deny, q, type Env } from './deny.js';
import { checkPathWord, sub } from './paths.js';
import type { RuleId } from './rules.js';

/** The long option `list` entry that `name` (`--x`, no value) stands for, exactly or as an abbreviation. */
export function matchLong(name: string, list: readonly string[] | undefined, abbrev = true): string | null {
  if (!list) return null;
  if (list.includes(name)) return name;
  if (abbrev && name.startsWith('--') && name.length >= 3) for (const o of list) if (o.startsWith('--') && o.startsWith(name)) return o;
  return null;
}

/** The name part of `--name=value`. */
export const longName = (v: string) => (v.includes('=') ? v.slice(0, v.indexOf('=')) : v);

export interface OptSpec {
  /** Short options that take a value (attached or next word). */
  valueShort?: string;
  /** Long options that take a value (`--x=v` or next word). */
  valueLong?: string[];
  /** Options (short `-f` or long) whose value is a path read. */
  pathValue?: string[];
  /** Options whose value is a path written. */
  writeValue?: string[];
  /** Options denied, with the reason. */
  denied?: Record<string, string>;
  /** getopt_long: unambiguous prefixes of long options are accepted (default true). */
  abbreviations?: boolean;
}

export interface Scan {
  operands: ShWord[];
  /** Normalised option names seen (short ones as `-x`, long ones expanded). */
  options: string[];
  values: { opt: string; word: ShWord }[];
}

/**
 * Scans GNU-style arguments. Denied options throw a Deny; values of unknown
 * `--x=v` options are checked as paths (fail closed).
 */
export function scanArgs(args: readonly ShWord[], spec: OptSpec, program: string, env: Env, rule: RuleId): Scan {
  const out: Scan = { operands: [], options: [], values: [] };
  const abbrev = spec.abbreviations ?? true;
  const deniedNames = Object.keys(spec.denied ?? {});
  const checkValue = (opt: string, val: ShWord) => {
    out.values.push({ opt, word: val });
    const write = spec.writeValue?.includes(opt) ?? false;
    if (write || spec.pathValue?.includes(opt)) {
      const d = checkPathWord(val, env, { what: `value of ${program} ${opt}`, write });
      if (d) throw d;
    } else if (val.dynamic) throw new Deny('dynamic', `value ${q(val.text)} of ${program} ${opt} is built at run time`);
  };
  let endOfOptions = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const v = w.value;
    if (endOfOptions || w.dynamic || !v.startsWith('-') || v === '-') {
      out.operands.push(w);
      continue;
    }
    if (v === '--') {
      endOfOptions = true;
      continue;
    }
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      const denied = matchLong(name, deniedNames, abbrev);
      if (denied) throw new Deny(rule, `${program} option ${q(v)} is not allowed: ${spec.denied![denied]}`);
      const pathOpt = matchLong(name, [...(spec.pathValue ?? []), ...(spec.writeValue ?? [])], abbrev);
      const valueOpt = pathOpt ?? matchLong(name, spec.valueLong, abbrev);
      const canonical = valueOpt ?? name;
      out.options.push(canonical);
      if (eq >= 0) {
        const val = sub(w, v.slice(eq + 1));
        if (valueOpt) checkValue(canonical, val);
        else {
          out.values.push({ opt: canonical, word: val });
          const d = checkPathWord(val, env, { what: `value of ${program} ${name}` });
          if (d) throw d;
        }
      } else if (valueOpt) {
        const val = args[++i];
        if (val) checkValue(canonical, val);
      }
      continue;
    }
    for (let j = 1; j < v.length; j++) {
      const opt = `-${v[j]}`;
      if (spec.denied && opt in spec.denied) throw new Deny(rule, `${program} option ${q(opt)} is not allowed: ${spec.denied[opt]}`);
      out.options.push(opt);
      if (spec.valueShort?.includes(v[j]!)) {
        const val = j + 1 < v.length ? sub(w, v.slice(j + 1)) : args[++i];
        if (val) checkValue(opt, val);
        break;
      }
    }
  }
  return out;
}

/** `key` matches one of `patterns` (`*` at the end matches any non-empty suffix), case-insensitively. */
export function matchConfigKey(key: string, patterns: readonly string[]): boolean {
  const k = key.toLowerCase();
  return patterns.some((p) => {
    const lp = p.toLowerCase();
    return lp.endsWith('*') ? k.startsWith(lp.slice(0, -1)) && k.length > lp.length - 1 : k === lp;
  });
}
