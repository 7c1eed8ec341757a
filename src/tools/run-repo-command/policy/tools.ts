/**
 * Build and test tools (make, tsc, vitest, jest, pytest, cargo, go, package scripts):
 * they run the repository's code, which only the sandbox confines. Here: no values
 * built at run time, the policy's denied options in any abbreviation, no variable
 * overrides that change which programs run, and paths inside the worktree.
 */
import type { ShCommand, ShWord } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { isSensitiveEnv } from './env.js';
import { longName } from './options.js';
import { checkArgShell, checkPathValue } from './paths.js';
import type { RuleId } from './rules.js';

/** `make NAME=v`, `NAME:=v`, `NAME::=v`, `NAME+=v`, `NAME?=v`, `NAME!=cmd`: a variable definition on make's command line. */
const MAKE_ASSIGN = /^\s*([^\s=:!?+#]+)\s*(:::=|::=|:=|\+=|\?=|!=|=)/;
/** A make variable value is pasted into recipe shell lines: only characters that cannot start another command or word. */
const MAKE_SAFE_VALUE = /^[A-Za-z0-9_.,:/=+@%^-]*$/;

/** True when `arg` (`--x`, `--x=v`) names `denied` exactly or abbreviates it (getopt_long, nopt). */
function abbreviates(arg: string, denied: string): boolean {
  const name = longName(arg);
  if (name === denied) return true;
  return name.startsWith('--') && denied.startsWith('--') && name.length >= 3 && denied.startsWith(name);
}

/** Short options of make that take a value, and whether the value is a path. */
const MAKE_SHORT_VALUE: Record<string, 'path' | 'dir' | 'value' | 'eval'> = {
  C: 'dir',
  f: 'path',
  I: 'path',
  o: 'path',
  W: 'path',
  E: 'eval',
};
const MAKE_LONG_VALUE = [
  '--directory',
  '--file',
  '--makefile',
  '--include-dir',
  '--old-file',
  '--assume-old',
  '--what-if',
  '--new-file',
  '--assume-new',
  '--eval',
  '--jobs',
  '--load-average',
  '--output-sync',
  '--debug',
  '--shuffle',
  '--jobserver-style',
];

export function checkTool(cmd: ShCommand, program: string, env: Env): Check {
  const tool = env.policy.tools[program];
  if (tool && tool.subcommands.length > 0) {
    const first = cmd.args.find((w) => !w.value.startsWith('+'));
    if (!first || first.dynamic || !tool.subcommands.includes(first.value)) {
      return new Deny('program', `${program} is only allowed as ${tool.subcommands.map((s) => `${program} ${s}`).join(', ')}`);
    }
  }
  const d =
    program === 'make'
      ? checkMake(cmd.args, env, tool?.deniedOptions ?? [])
      : checkToolArgs(cmd.args, program, env, tool?.deniedOptions ?? [], 'program');
  return d ?? verdict('edit');
}

function checkMake(args: readonly ShWord[], env: Env, denied: readonly string[]): Deny | null {
  const deniedOpts = ['--eval', ...denied.filter((d) => d.startsWith('--'))];
  const deniedShort = new Set(['E', ...denied.filter((d) => /^-[A-Za-z]$/.test(d)).map((d) => d[1]!)]);
  const deniedVars = new Set(denied.filter((d) => !d.startsWith('-')));
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic) return new Deny('dynamic', `argument ${q(w.text)} of make is built at run time`);
    if (w.brace) return new Deny('dynamic', `argument ${q(w.text)} of make uses brace expansion`);
    const sh = checkArgShell(w, env, 'make');
    if (sh) return sh;
    const v = w.value;
    if (v.startsWith('--')) {
      for (const o of deniedOpts)
        if (abbreviates(v, o))
          return new Deny(
            'program',
            `make option ${q(v)} is not allowed (${q(o)} runs make code given on the command line or changes how make runs)`,
          );
      const name = longName(v);
      const known = MAKE_LONG_VALUE.find((o) => abbreviates(name, o));
      let value: string | undefined;
      if (v.includes('=')) value = v.slice(v.indexOf('=') + 1);
      else if (known && !['--jobs', '--load-average', '--output-sync', '--debug', '--shuffle'].includes(known)) value = args[++i]?.value;
      if (
        value !== undefined &&
        (known === undefined || !['--jobs', '--load-average', '--output-sync', '--debug', '--shuffle', '--jobserver-style'].includes(known))
      ) {
        const d = checkPathValue(value, env, { what: `value of make ${name}`, within: env.cwd, withinName: 'worktree' });
        if (d) return d;
      }
      continue;
    }
    if (v.startsWith('-') && v !== '-') {
      for (let j = 1; j < v.length; j++) {
        const c = v[j]!;
        if (deniedShort.has(c))
          return new Deny('program', `make option -${c} is not allowed (it runs make code given on the command line)`);
        const kind = MAKE_SHORT_VALUE[c];
        if (kind) {
          const val = j + 1 < v.length ? v.slice(j + 1) : args[++i]?.value;
          if (val !== undefined) {
            const d = checkPathValue(val, env, { what: `value of make -${c}`, within: env.cwd, withinName: 'worktree' });
            if (d) return d;
          }
          break;
        }
      }
      continue;
    }
    const m = MAKE_ASSIGN.exec(v);
    if (m) {
      const [whole, name, op] = m as unknown as [string, string, string];
      if (op === '!=') return new Deny('program', `make variable ${q(v)} uses != , which runs a shell command`);
      if (!/^[A-Za-z0-9_.-]+$/.test(name))
        return new Deny('program', `make variable name ${q(name)} is expanded by make (it can run $(shell …)); use a plain name`);
      if (!MAKE_SAFE_VALUE.test(v.slice(whole.length)))
        return new Deny(
          'program',
          `make variable value in ${q(v)} has spaces or shell characters; make pastes it into recipe command lines`,
        );
      if (deniedVars.has(name) || isSensitiveEnv(name, env.policy))
        return new Deny(
          'program',
          `make variable override ${q(name)} is not allowed (it changes which programs or configuration make uses)`,
        );
      for (const p of splitValues(v)) {
        if (p === '' || p.startsWith('-')) continue;
        const d = checkPathValue(p, env, { what: 'make variable value' });
        if (d) return d;
      }
      continue;
    }
    if (v.includes('='))
      return new Deny('program', `make argument ${q(v)} looks like a variable definition make would read differently; write NAME=value`);
    const d = checkPathValue(v, env, { what: 'make target', within: env.cwd, withinName: 'worktree' });
    if (d) return d;
  }
  return null;
}

/**
 * Tools whose options we do not model one by one: every operand and every option
 * value (after `=` or `:` too) is checked as a path inside the worktree, values
 * built at run time are denied, and the policy's denied options are denied in any
 * abbreviation.
 */
export function checkToolArgs(
  args: readonly ShWord[],
  program: string,
  env: Env,
  deniedOptions: readonly string[],
  rule: RuleId,
): Deny | null {
  const denied = [...deniedOptions];
  let endOfOptions = false;
  for (const w of args) {
    if (w.dynamic) return new Deny('dynamic', `argument ${q(w.text)} of ${program} is built at run time`);
    if (w.brace) return new Deny('dynamic', `argument ${q(w.text)} of ${program} uses brace expansion`);
    const v = w.value;
    if (v === '--') {
      endOfOptions = true;
      continue;
    }
    if (!endOfOptions && v.startsWith('-')) {
      const name = longName(v);
      for (const d of denied) {
        if (!d.startsWith('-')) continue;
        const single = name.replace(/^--/, '-');
        if (
          abbreviates(name, d) ||
          (d.startsWith('--') && name.startsWith('-') && !name.startsWith('--') && `-${name}` === d) ||
          (single === d && d.length > 2)
        ) {
          return new Deny(rule, `${program} option ${q(v)} is not allowed by the policy`);
        }
        if (
          /^-[A-Za-z]$/.test(d) &&
          !name.startsWith('--') &&
          (name.startsWith(d) || (/^-[A-Za-z]+$/.test(name) && name.slice(1).includes(d[1]!) && name.length <= 6))
        ) {
          return new Deny(rule, `${program} option ${q(v)} is not allowed by the policy (it contains ${d})`);
        }
      }
      if (!name.startsWith('--') && name.length > 2 && v.includes('/')) {
        const d = checkPathValue(v.slice(2), env, {
          what: `attached value of ${program} ${v.slice(0, 2)}`,
          within: env.cwd,
          withinName: 'worktree',
        });
        if (d) return d;
      }
    } else if (!endOfOptions && /^[A-Za-z_.][A-Za-z0-9_.]*=/.test(v)) {
      const name = v.slice(0, v.indexOf('='));
      if (denied.includes(name) || isSensitiveEnv(name, env.policy))
        return new Deny(rule, `${program} variable override ${q(name)} is not allowed`);
    }
    for (const p of [v, ...splitValues(v)]) {
      if (p === '' || p.startsWith('-')) continue;
      const d = checkPathValue(p, env, { what: `argument of ${program}`, within: env.cwd, withinName: 'worktree' });
      if (d) return d;
    }
    const d = checkArgShell(w, env, program);
    if (d) return d;
  }
  return null;
}

function splitValues(v: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) if (v[i] === '=' || v[i] === ':' || v[i] === ',') out.push(v.slice(i + 1));
  return out;
}
