/**
 * Git's own argument grammar (parse-options): `--` ends options; `--name=value` or
 * `--name value` for options that take one; unambiguous prefixes of long options
 * (`--out=` is `--output=`); short clusters where a value option takes the rest of
 * the cluster or the next word (`-aF<file>`, `-fB main`, `-qm "msg"`).
 */
import type { ShWord } from '../parse.js';
import { sub } from './paths.js';

export interface GitSpec {
  /** Short options that take a required value. */
  short?: string;
  /** Short options whose value may only be attached (`-S<keyid>`, `-u<mode>`). */
  shortOptional?: string;
  /** Long options that take a required value (`--x=v` or `--x v`). */
  long?: readonly string[];
  /** Long options whose value may only be attached (`--x=v`). */
  longOptional?: readonly string[];
  /** Options whose value is message text: the only place a value built at run time is allowed. */
  message?: readonly string[];
  /** Options whose value is a file git reads. */
  read?: readonly string[];
  /** Options whose value is a file git writes. */
  write?: readonly string[];
}

export interface GitOpt {
  /** Canonical name: `-x` for short options, the full `--name` for long ones (expanded when abbreviated). */
  name: string;
  /** Every long option this name may abbreviate (fail-closed checks look at all of them). */
  candidates: readonly string[];
  value?: ShWord;
  word: ShWord;
}

export interface GitArgs {
  opts: GitOpt[];
  /** Operands before `--`. */
  operands: ShWord[];
  /** Words after `--`. */
  pathspecs: ShWord[];
  /** Words that are built at run time in a position that is not a message value. */
  dynamic: ShWord[];
}

/** Options whose value is a path git reads. */
export const READ_PATH_LONG = [
  '--pathspec-from-file',
  '--template',
  '--contents',
  '--ignore-revs-file',
  '--orderfile',
  '--file',
  '--exclude-from',
];
/** Options whose value is a path git writes. */
export const WRITE_PATH_LONG = ['--output'];

/** Options any subcommand may have whose value is a path. */
export const COMMON_LONG = [
  ...WRITE_PATH_LONG,
  ...READ_PATH_LONG,
  '--upload-pack',
  '--receive-pack',
  '--exec',
  '--extcmd',
  '--tool',
  '--open-files-in-pager',
  '--format',
  '--author',
  '--committer',
  '--since',
  '--until',
  '--after',
  '--before',
  '--grep',
  '--date',
  '--sort',
  '--count',
  '--max-count',
  '--skip',
  '--reason',
  '--expire',
  '--strategy',
  '--strategy-option',
  '--source',
  '--cleanup',
  '--fixup',
  '--reuse-message',
  '--reedit-message',
  '--trailer',
  '--chmod',
  '--depth',
  '--shallow-since',
  '--shallow-exclude',
  '--refmap',
  '--jobs',
  '--server-option',
  '--into-name',
  '--directory',
  '--include',
  '--exclude',
  '--message',
  '--orphan',
  '--set-upstream-to',
  '--encoding',
  '--type',
  '--default',
  '--blob',
  '--value',
  '--comment',
  '--url',
];
/** Long options whose value may only be attached (`--pretty`, `--contains`, `--track` alone are valid). */
export const COMMON_LONG_OPTIONAL = [
  '--pretty',
  '--abbrev',
  '--track',
  '--contains',
  '--no-contains',
  '--merged',
  '--no-merged',
  '--points-at',
  '--conflict',
  '--color',
  '--stat',
  '--dirstat',
  '--word-diff',
  '--find-renames',
  '--find-copies',
  '--ignore-submodules',
  '--untracked-files',
  '--decorate',
  '--rebase',
  '--recurse-submodules',
  '--signoff',
  '--gpg-sign',
  '--column',
  '--sparse',
];
/** Flags the checks look for by name, so their abbreviations are recognised too. */
export const COMMON_FLAGS = [
  '--unsafe-paths',
  '--ignore-other-worktrees',
  '--unset-upstream',
  '--edit-description',
  '--update-head-ok',
  '--prune-tags',
  '--set-upstream',
  '--force',
  '--force-create',
  '--abort',
  '--no-ff',
  '--ff-only',
  '--delete',
  '--check',
  '--cached',
  '--index',
  '--list',
  '--all',
  '--remotes',
  '--move',
  '--copy',
  '--show-current',
  '--verify',
  '--numstat',
  '--summary',
  '--apply',
  '--3way',
  '--quiet',
  '--no-edit',
  '--log',
  '--no-log',
  '--no-stat',
  '--no-signoff',
  '--verbose',
  '--staged',
  '--detach',
  '--no-index',
];

interface Tables {
  longValue: ReadonlySet<string>;
  known: readonly string[];
  knownSet: ReadonlySet<string>;
}
const tableCache = new WeakMap<GitSpec, Tables>();
function tables(spec: GitSpec): Tables {
  let t = tableCache.get(spec);
  if (!t) {
    const longValue = new Set([...(spec.long ?? []), ...COMMON_LONG]);
    const known = [...longValue, ...(spec.longOptional ?? []), ...COMMON_LONG_OPTIONAL, ...COMMON_FLAGS];
    t = { longValue, known, knownSet: new Set(known) };
    tableCache.set(spec, t);
  }
  return t;
}

/** The known long options `name` may stand for; itself when it is exact or unknown. */
function longCandidates(name: string, t: Tables): string[] {
  if (t.knownSet.has(name)) return [name];
  const c = name.length >= 3 ? t.known.filter((o) => o.startsWith(name)) : [];
  return c.length > 0 ? c : [name];
}

/** The position of a value built at run time inside an option word (`-qm"$(…)"`, `--message="$X"`), or -1. */
const dynamicAt = (w: ShWord) => (w.dynamic ? w.value.search(/[$`]/) : -1);

export function parseGitArgs(words: readonly ShWord[], spec: GitSpec): GitArgs {
  const out: GitArgs = { opts: [], operands: [], pathspecs: [], dynamic: [] };
  const t = tables(spec);
  const longValue = t.longValue;
  const isMessage = (name: string) => spec.message?.includes(name) ?? false;
  const takeValue = (name: string, next: ShWord | undefined): ShWord | undefined => {
    if (next && next.dynamic && !isMessage(name)) out.dynamic.push(next);
    return next;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const v = w.value;
    if (v === '--' && !w.dynamic) {
      out.pathspecs.push(...words.slice(i + 1));
      for (const p of words.slice(i + 1)) if (p.dynamic) out.dynamic.push(p);
      break;
    }
    if (!v.startsWith('-') || v === '-') {
      if (w.dynamic) out.dynamic.push(w);
      out.operands.push(w);
      continue;
    }
    const dyn = dynamicAt(w);
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      if (dyn >= 0 && (eq < 0 || dyn < eq)) {
        out.dynamic.push(w);
        continue;
      }
      const candidates = longCandidates(name, t);
      const canonical = candidates.length === 1 ? candidates[0]! : name;
      if (eq >= 0) {
        const value = sub(w, v.slice(eq + 1));
        if (value.dynamic && !isMessage(canonical)) out.dynamic.push(w);
        out.opts.push({ name: canonical, candidates, value, word: w });
      } else if (candidates.length === 1 && longValue.has(canonical)) {
        const value = takeValue(canonical, words[++i]);
        out.opts.push({ name: canonical, candidates, value, word: w });
      } else {
        out.opts.push({ name: canonical, candidates, word: w });
      }
      continue;
    }
    // A short cluster.
    const end = dyn >= 0 ? dyn : v.length;
    let j = 1;
    for (; j < end; j++) {
      const c = v[j]!;
      const name = `-${c}`;
      if (spec.short?.includes(c)) {
        let value: ShWord | undefined;
        if (j + 1 < v.length) {
          value = sub(w, v.slice(j + 1));
          if (dyn >= 0 && !isMessage(name)) out.dynamic.push(w);
        } else value = takeValue(name, words[++i]);
        out.opts.push({ name, candidates: [name], value, word: w });
        j = v.length;
        break;
      }
      if (spec.shortOptional?.includes(c)) {
        const value = j + 1 < v.length ? sub(w, v.slice(j + 1)) : undefined;
        if (value && dyn >= 0) out.dynamic.push(w);
        out.opts.push({ name, candidates: [name], value, word: w });
        j = v.length;
        break;
      }
      if (/[0-9]/.test(c)) {
        // `-5` (a count) or digits after an option letter.
        out.opts.push({ name: `-${v.slice(j)}`, candidates: [], word: w });
        j = v.length;
        break;
      }
      out.opts.push({ name, candidates: [name], word: w });
    }
    if (dyn >= 0 && j < v.length) out.dynamic.push(w);
  }
  return out;
}

/** True when one of `opts` is (or abbreviates) one of `names` (short names compared exactly). */
export function hasOpt(opts: readonly GitOpt[], ...names: string[]): boolean {
  return opts.some((o) => names.includes(o.name) || o.candidates.some((c) => names.includes(c)));
}
