/**
 * Paths as the kernel sees them: resolved through symlinks, checked against the
 * base dir (reads) or the worktree (writes), glob words expanded like the shell.
 */
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { ShWord } from '../parse.js';
import { Deny, q, type Env } from './deny.js';
import type { RuleId } from './rules.js';

const realCache = new Map<string, string>();
export function realDir(p: string): string | null {
  const hit = realCache.get(p);
  if (hit !== undefined) return hit;
  if (!fs.existsSync(p)) return null;
  try {
    const r = fs.realpathSync.native(p);
    if (realCache.size > 256) realCache.clear();
    realCache.set(p, r);
    return r;
  } catch {
    return null;
  }
}

/**
 * Resolves `p` against `start` the way the kernel does: component by component,
 * following symlinks where the path exists (so `link/..` is the parent of the link's
 * target, not of the link). The part that does not exist is appended lexically.
 */
export function resolveReal(start: string, p: string, depth = 0, info?: { missing: boolean }): string {
  if (depth > 40) throw new Error('too many levels of symbolic links');
  let cur = path.isAbsolute(p) ? '/' : start;
  let missing = false;
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, seg);
    if (missing) {
      cur = next;
      continue;
    }
    // No exception for a missing path: most checked paths are new files, and throwing is slow.
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(next, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      missing = true;
      if (info) info.missing = true;
      cur = next;
      continue;
    }
    if (st.isSymbolicLink()) cur = resolveReal(cur, fs.readlinkSync(next), depth + 1, info);
    else cur = next;
  }
  return cur;
}

function statNoThrow(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

const GLOB_SEGMENT = /(^|[^\\])(\\\\)*[*?[]|[@!+*?]\(/;
const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

/** Glob expansions of the decision in progress (one line may check a glob twice: shell rules, then path rules). */
const globMemo = new Map<string, string[] | null>();
export function startDecision(): void {
  globMemo.clear();
}

/** Expands a glob pattern (literal characters escaped) against the file system, like the shell would. */
export function expandGlob(pattern: string, cwd: string, limit = 2000): string[] | null {
  const key = `${cwd}\0${pattern}\0${limit}`;
  if (globMemo.has(key)) return globMemo.get(key)!;
  const r = expandGlobNow(pattern, cwd, limit);
  globMemo.set(key, r);
  return r;
}

function expandGlobNow(pattern: string, cwd: string, limit: number): string[] | null {
  const abs = pattern.startsWith('/');
  const segs = pattern.split('/').filter((s, i) => !(s === '' && i === 0 && abs));
  let bases: string[] = [abs ? '/' : ''];
  for (const seg of segs) {
    if (seg === '') continue;
    const next: string[] = [];
    if (!GLOB_SEGMENT.test(seg)) {
      for (const b of bases) next.push(b === '' ? unescape(seg) : path.join(b, unescape(seg)));
    } else {
      const isMatch = picomatch(seg, { dot: true, nobrace: true, noglobstar: true });
      for (const b of bases) {
        let entries: string[];
        try {
          entries = fs.readdirSync(path.resolve(cwd, b === '' ? '.' : b));
        } catch {
          continue;
        }
        for (const e of entries) {
          if (isMatch(e)) next.push(b === '' ? e : path.join(b, e));
          if (next.length > limit) return null;
        }
      }
    }
    bases = next;
    if (bases.length === 0) break;
  }
  return bases.filter((b) => b !== '');
}

export interface PathOpts {
  /** What the path is, for the reason ("file operand of cat"). */
  what: string;
  rule?: RuleId;
  /** Directory relative paths resolve against (default: the worktree; git's `-C` directory for git). */
  from?: string;
  /** Directory the path must stay in (default: the base dir for reads, the worktree for writes). */
  within?: string;
  withinName?: string;
  /** The command writes (or creates, moves, deletes) the path. */
  write?: boolean;
  /** Deny any path into a `.git` directory, read or write. */
  noGit?: boolean;
}

/** Checks a resolved-on-disk path value: inside its boundary; writes stay in the worktree, out of `.git`, main/ and the state dir. */
export function checkPathValue(value: string, env: Env, o: PathOpts): Deny | null {
  const rule = o.rule ?? 'path';
  let resolved: string;
  const info = { missing: false };
  try {
    resolved = resolveReal(o.from ?? env.cwd, value, 0, info);
  } catch {
    return new Deny(rule, `${o.what} ${q(value)} has a symlink loop`);
  }
  if (info.missing && env.afterLinker) {
    // What does not exist now is resolved lexically; an earlier command of the line may create it as a symbolic link.
    return new Deny(
      rule,
      `${o.what} ${q(value)} does not exist yet, and ${env.afterLinker} earlier on this line may create it (as a symbolic link too); run the commands as separate lines`,
    );
  }
  if (o.write || o.noGit) {
    if (resolved.split('/').includes('.git'))
      return new Deny(rule, `${o.what} ${q(value)} ${o.write ? 'writes into' : 'points into'} a .git directory`);
  }
  if (o.write) {
    if (inside(resolved, env.stateReal)) return new Deny(rule, `${o.what} ${q(value)} writes into the orchestrator's state dir`);
    if (env.isMain && o.within === undefined && inside(resolved, env.cwd)) {
      return new Deny(
        'main-write',
        `${o.what} ${q(value)} writes into main/, the user's checkout (only a merge of a task branch may change it); work in a task worktree`,
      );
    }
    const within = o.within ?? env.cwd;
    if (!inside(resolved, within)) {
      return new Deny(
        rule,
        `${o.what} ${q(value)} resolves to ${resolved}, outside the ${o.withinName ?? 'worktree'} (a command writes only inside its own worktree)`,
      );
    }
    // A file with a second hard link may be another worktree's file under a local name.
    const st = statNoThrow(resolved);
    if (st && st.isFile() && st.nlink > 1)
      return new Deny(rule, `${o.what} ${q(value)} is a hard-linked file (it may belong to another worktree); write a new file instead`);
    return null;
  }
  const within = o.within ?? env.baseReal;
  if (!inside(resolved, within)) {
    return new Deny(rule, `${o.what} ${q(value)} resolves to ${resolved}, outside the ${o.withinName ?? 'base dir'}`);
  }
  return null;
}

/** Checks a word used as a path: static, no `~`, inside its boundary (every glob match too). */
export function checkPathWord(w: ShWord, env: Env, o: PathOpts): Deny | null {
  const rule = o.rule ?? 'path';
  if (w.dynamic) return new Deny('dynamic', `${o.what} ${q(w.text)} is built at run time (expansion or substitution)`);
  if (w.tilde) return new Deny(rule, `${o.what} ${q(w.text)} uses home (~) expansion, which points outside the base dir`);
  if (w.brace) return new Deny('dynamic', `${o.what} ${q(w.text)} uses brace expansion`);
  if (w.glob) {
    if (o.write) return new Deny('dynamic', `${o.what} ${q(w.text)} is a glob; a written path must be literal`);
    const matches = expandGlob(w.pattern, o.from ?? env.cwd);
    if (matches === null) return new Deny(rule, `${o.what} ${q(w.text)} matches too many files`);
    for (const m of matches) {
      if (m.startsWith('-')) return new Deny('path', `glob ${q(w.text)} expands to ${q(m)}, which looks like an option`);
      const d = checkPathValue(m, env, o);
      if (d) return d;
    }
  }
  return checkPathValue(w.value, env, o);
}

/** A word derived from part of another (an option's attached value). */
export function sub(w: ShWord, value: string): ShWord {
  return { ...w, value, glob: false, pattern: value };
}

/** Shell-level checks for every argument of every program: no `~`, no glob that expands to an option or leaves the base dir. */
export function checkArgShell(w: ShWord, env: Env, program: string): Deny | null {
  if (w.tilde) return new Deny('path', `argument ${q(w.text)} of ${program} uses home (~) expansion`);
  if (w.glob && !w.dynamic) {
    const matches = expandGlob(w.pattern, env.cwd);
    if (matches === null) return new Deny('path', `argument ${q(w.text)} of ${program} matches too many files`);
    for (const m of matches) {
      if (m.startsWith('-')) return new Deny('path', `glob ${q(w.text)} of ${program} expands to ${q(m)}, which looks like an option`);
      const d = checkPathValue(m, env, { what: `glob match of ${program}` });
      if (d) return d;
    }
  }
  return null;
}
