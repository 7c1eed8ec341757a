/**
 * `git config`: only reads, in their safe forms, decided by git's own grammar
 * (options anywhere, `--`, attached `-f<file>`, the `list`/`get` subcommands).
 * A write of any key is a write wherever its tokens sit; other scopes and files
 * (`--global`, `--system`, `-f`, `--file`, `--blob`) are never touched.
 */
import type { ShWord } from '../parse.js';
import { Deny, q } from './deny.js';

const SCOPE_DENIED = ['--global', '--system', '--file', '--blob', '--worktree'];
const READ_ACTIONS: Record<string, [number, number]> = {
  '--get': [1, 2],
  '--get-all': [1, 2],
  '--get-regexp': [1, 2],
  '--get-urlmatch': [2, 2],
  '--get-color': [1, 2],
  '--get-colorbool': [1, 2],
  '--list': [0, 0],
};
const FLAGS = [
  '--local',
  '--show-origin',
  '--show-scope',
  '--name-only',
  '--null',
  '--includes',
  '--no-includes',
  '--bool',
  '--int',
  '--bool-or-int',
  '--path',
  '--expiry-date',
  '--fixed-value',
  '--all',
  '--regexp',
  '--no-type',
];
const VALUE_OPTS = ['--type', '--default', '--value', '--url'];
const SUBCOMMANDS = ['list', 'get', 'set', 'unset', 'rename-section', 'remove-section', 'edit'];

function expand(name: string, list: readonly string[]): string[] {
  if (list.includes(name)) return [name];
  return name.length >= 3 ? list.filter((o) => o.startsWith(name)) : [];
}

export function checkGitConfig(args: readonly ShWord[]): Deny | null {
  const deny = (why: string) =>
    new Deny(
      'git-config',
      `git config ${why}; only reads are allowed (git config --get <key>, git config --list, git config get <key>, git config <key>)`,
    );
  const positional: string[] = [];
  const actions: string[] = [];
  const all = [
    ...Object.keys(READ_ACTIONS),
    ...FLAGS,
    ...VALUE_OPTS,
    ...SCOPE_DENIED,
    '--add',
    '--unset',
    '--unset-all',
    '--replace-all',
    '--rename-section',
    '--remove-section',
    '--edit',
    '--comment',
  ];
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.glob || w.brace) return new Deny('dynamic', `git config argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '--') return deny('with `--` is not allowed');
    if (v.startsWith('--')) {
      const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
      const c = expand(name, all);
      if (c.length !== 1) return deny(`option ${q(v)} is not recognised`);
      const opt = c[0]!;
      if (SCOPE_DENIED.includes(opt)) return deny(`${opt} reads or writes configuration outside this repository`);
      if (opt in READ_ACTIONS) actions.push(opt);
      else if (VALUE_OPTS.includes(opt)) {
        if (!v.includes('=')) i++;
      } else if (!FLAGS.includes(opt)) return deny(`${q(opt)} writes configuration`);
      continue;
    }
    if (v.startsWith('-') && v !== '-') {
      for (const c of v.slice(1)) {
        if (c === 'l') actions.push('--list');
        else if (c === 'z') continue;
        else if (c === 'f') return deny('-f reads or writes another configuration file');
        else if (c === 'e') return deny('-e opens an editor on the configuration');
        else return deny(`option -${c} is not recognised`);
      }
      continue;
    }
    positional.push(v);
  }
  if (actions.length > 1) return deny(`has several actions (${actions.join(', ')})`);
  const sub = positional[0];
  if (actions.length === 0 && sub !== undefined && SUBCOMMANDS.includes(sub)) {
    if (sub === 'list' && positional.length === 1) return null;
    if (sub === 'get' && positional.length === 2) return null;
    return deny(`${sub} ${positional.length > 1 ? 'with these arguments ' : ''}is not a read`);
  }
  if (actions.length === 1) {
    const [min, max] = READ_ACTIONS[actions[0]!]!;
    if (positional.length >= min && positional.length <= max) return null;
    return deny(`${actions[0]} takes ${min === max ? min : `${min}–${max}`} argument(s), got ${positional.length}`);
  }
  if (positional.length === 1) return null;
  return deny(positional.length === 0 ? 'without a key' : `${q(positional.join(' '))} sets a value`);
}
