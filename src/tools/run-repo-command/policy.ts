/**
 * The command guard of run_repo_command: `checkCommand` decides whether a shell
 * line may run in a worktree of the base dir (issue 3, rules 1–9). Fail closed:
 * anything the parser cannot fully analyse, any value built at run time where a
 * program, subcommand, option or path is expected, and anything not on an
 * allowlist is denied. Rule ids are stable (see RULES).
 */
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseLine, type ShCommand, type ShRedirect, type ShWord } from './parse.js';
import type { Policy } from './policy-file.js';
import type { CommandRequest, PolicyDecision } from './types.js';

export const RULES = [
  'worktree',
  'parse',
  'dynamic',
  'wrapper',
  'background',
  'env-assign',
  'program',
  'git-global',
  'git-config',
  'git-hard-block',
  'git-denied',
  'git-subcommand',
  'codex',
  'package-manager',
  'interpreter',
  'find',
  'path',
  'redirect',
] as const;
export type RuleId = (typeof RULES)[number];

/** Git subcommands denied whatever the policy file says. */
export const HARD_BLOCKED_GIT = new Set([
  'push',
  'remote',
  'reset',
  'rebase',
  'filter-branch',
  'filter-repo',
  'send-email',
  'request-pull',
  'update-ref',
  'replace',
  'daemon',
  'http-backend',
  'clone',
  'ls-remote',
  'credential',
]);

/** Programs that run another command or code given as arguments: never allowed. */
export const WRAPPERS = new Set([
  'sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'ash', 'busybox', 'env', 'command', 'builtin',
  'nohup', 'xargs', 'nice', 'timeout', 'time', 'watch', 'script', 'eval', 'exec', 'source', '.', 'sudo', 'su', 'doas',
  'stdbuf', 'ionice', 'chroot', 'setsid', 'flock', 'parallel', 'unbuffer', 'strace', 'ltrace', 'gdb', 'nsenter',
  'unshare', 'runuser', 'pkexec', 'chpst', 'taskset', 'trap', 'fc', 'coproc', 'enable', 'caller', 'npx', 'pnpx', 'bunx',
]);

class Deny {
  constructor(
    readonly rule: RuleId,
    readonly reason: string,
  ) {}
}

const ALLOWED: PolicyDecision = Object.freeze({ allowed: true, rule: null, reason: 'allowed' });

interface Env {
  baseReal: string;
  cwd: string;
  policy: Policy;
}

const q = (s: string) => `\`${s.length > 80 ? `${s.slice(0, 77)}...` : s}\``;

// ---------------------------------------------------------------- paths

const realCache = new Map<string, string>();
function realDir(p: string): string | null {
  const hit = realCache.get(p);
  if (hit !== undefined) return hit;
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
export function resolveReal(start: string, p: string, depth = 0): string {
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
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch {
      missing = true;
      cur = next;
      continue;
    }
    if (st.isSymbolicLink()) cur = resolveReal(cur, fs.readlinkSync(next), depth + 1);
    else cur = next;
  }
  return cur;
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

const GLOB_SEGMENT = /(^|[^\\])(\\\\)*[*?[]|[@!+*?]\(/;
const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

/** Expands a glob pattern (literal characters escaped) against the file system, like the shell would. */
export function expandGlob(pattern: string, cwd: string, limit = 2000): string[] | null {
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

interface PathOpts {
  /** What the path is, for the reason ("file operand of cat"). */
  what: string;
  rule?: RuleId;
  /** Directory the path must stay in (default: the base dir). */
  within?: string;
  withinName?: string;
  write?: boolean;
}

function checkPathValue(value: string, env: Env, o: PathOpts): Deny | null {
  const rule = o.rule ?? 'path';
  const within = o.within ?? env.baseReal;
  let resolved: string;
  try {
    resolved = resolveReal(env.cwd, value);
  } catch {
    return new Deny(rule, `${o.what} ${q(value)} has a symlink loop`);
  }
  if (!inside(resolved, within)) {
    return new Deny(rule, `${o.what} ${q(value)} resolves to ${resolved}, outside the ${o.withinName ?? 'base dir'}`);
  }
  if (o.write && resolved.split('/').includes('.git')) {
    return new Deny(rule, `${o.what} ${q(value)} writes into a .git directory`);
  }
  return null;
}

/** Checks a word used as a path: static, no `~`, inside the base dir (every glob match too). */
function checkPathWord(w: ShWord, env: Env, o: PathOpts): Deny | null {
  const rule = o.rule ?? 'path';
  if (w.dynamic) return new Deny('dynamic', `${o.what} ${q(w.text)} is built at run time (expansion or substitution)`);
  if (w.tilde) return new Deny(rule, `${o.what} ${q(w.text)} uses home (~) expansion, which points outside the base dir`);
  if (w.brace) return new Deny('dynamic', `${o.what} ${q(w.text)} uses brace expansion`);
  if (w.glob) {
    const matches = expandGlob(w.pattern, env.cwd);
    if (matches === null) return new Deny(rule, `${o.what} ${q(w.text)} matches too many files`);
    for (const m of matches) {
      const d = checkPathValue(m, env, o);
      if (d) return d;
    }
  }
  return checkPathValue(w.value, env, o);
}

/** A word derived from part of another (an option's attached value). */
function sub(w: ShWord, value: string): ShWord {
  return { ...w, value, glob: false, pattern: value };
}

/** Shell-level checks for every argument of every program: no `~`, no glob that expands to an option or leaves the base dir. */
function checkArgShell(w: ShWord, env: Env, program: string): Deny | null {
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

// ---------------------------------------------------------------- generic option scanning

interface OptSpec {
  /** Short options that take a value (attached or next word). */
  valueShort?: string;
  /** Long options that take a value (`--x=v` or next word). */
  valueLong?: string[];
  /** Options (short `-f` or long) whose value is a path. */
  pathValue?: string[];
  /** Options denied, with the reason. */
  denied?: Record<string, string>;
  /** GNU getopt_long: unambiguous prefixes of long options are accepted. */
  abbreviations?: boolean;
}

interface Scan {
  operands: ShWord[];
  /** Normalised option names seen (short ones as `-x`). */
  options: string[];
  values: { opt: string; word: ShWord }[];
}

function matchLong(name: string, list: readonly string[] | undefined, abbrev: boolean): string | null {
  if (!list) return null;
  if (list.includes(name)) return name;
  if (abbrev && name.length >= 4) for (const o of list) if (o.startsWith(name)) return o;
  return null;
}

/**
 * Scans GNU-style arguments: `--` ends options; `--x=v`; `-abc` clusters with a
 * value option taking the rest of the cluster or the next word. Denied options
 * throw a Deny; values of unknown `--x=v` options are treated as paths (fail closed).
 */
function scanArgs(args: readonly ShWord[], spec: OptSpec, program: string, env: Env, rule: RuleId): Scan {
  const out: Scan = { operands: [], options: [], values: [] };
  const abbrev = spec.abbreviations ?? true;
  const deniedNames = Object.keys(spec.denied ?? {});
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
      const pathOpt = matchLong(name, spec.pathValue, abbrev);
      const valueOpt = pathOpt ?? matchLong(name, spec.valueLong, abbrev);
      const canonical = valueOpt ?? name;
      out.options.push(canonical);
      if (eq >= 0) {
        const val = sub(w, v.slice(eq + 1));
        out.values.push({ opt: canonical, word: val });
        if (pathOpt || !valueOpt) {
          const d = checkPathWord(val, env, { what: `value of ${program} ${name}` });
          if (d) throw d;
        }
      } else if (valueOpt) {
        const val = args[++i];
        if (val) {
          out.values.push({ opt: canonical, word: val });
          if (pathOpt) {
            const d = checkPathWord(val, env, { what: `value of ${program} ${name}` });
            if (d) throw d;
          } else if (val.dynamic) throw new Deny('dynamic', `value ${q(val.text)} of ${program} ${name} is built at run time`);
        }
      }
      continue;
    }
    // Short cluster.
    for (let j = 1; j < v.length; j++) {
      const opt = `-${v[j]}`;
      if (spec.denied && opt in spec.denied) throw new Deny(rule, `${program} option ${q(opt)} is not allowed: ${spec.denied[opt]}`);
      out.options.push(opt);
      if (spec.valueShort?.includes(v[j]!)) {
        let val: ShWord | undefined;
        if (j + 1 < v.length) val = sub(w, v.slice(j + 1));
        else val = args[++i];
        if (val) {
          out.values.push({ opt, word: val });
          if (spec.pathValue?.includes(opt)) {
            const d = checkPathWord(val, env, { what: `value of ${program} ${opt}` });
            if (d) throw d;
          } else if (val.dynamic) throw new Deny('dynamic', `value ${q(val.text)} of ${program} ${opt} is built at run time`);
        }
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- file commands (rule 9)

const FOLLOW = 'it follows symbolic links, which can lead outside the base dir';
const FILE_SPECS: Record<string, OptSpec & { pattern?: boolean; patternOpts?: string[]; noPatternOpts?: string[] }> = {
  cat: {},
  head: { valueShort: 'nc', valueLong: ['--lines', '--bytes'] },
  tail: { valueShort: 'ncs', valueLong: ['--lines', '--bytes', '--sleep-interval', '--pid', '--max-unchanged-stats'] },
  wc: { valueLong: ['--files0-from'], pathValue: ['--files0-from'] },
  ls: {
    valueShort: 'IwT',
    valueLong: ['--ignore', '--hide', '--width', '--tabsize', '--format', '--sort', '--time', '--time-style', '--quoting-style', '--indicator-style', '--block-size'],
  },
  diff: {
    valueShort: 'CUIxXFSWLD',
    valueLong: ['--ignore-matching-lines', '--exclude', '--exclude-from', '--show-function-line', '--starting-file', '--width', '--label', '--ifdef', '--line-format', '--old-line-format', '--new-line-format', '--unchanged-line-format', '--old-group-format', '--new-group-format', '--changed-group-format', '--unchanged-group-format', '--horizon-lines', '--from-file', '--to-file', '--tabsize', '--palette'],
    pathValue: ['-X', '--exclude-from', '--from-file', '--to-file'],
  },
  grep: {
    valueShort: 'efABCmdD',
    valueLong: ['--regexp', '--file', '--after-context', '--before-context', '--context', '--max-count', '--include', '--exclude', '--exclude-dir', '--exclude-from', '--label', '--binary-files', '--devices', '--directories', '--group-separator'],
    pathValue: ['-f', '--file', '--exclude-from'],
    denied: { '-R': `${FOLLOW} (use -r)`, '--dereference-recursive': `${FOLLOW} (use -r)` },
    pattern: true,
    patternOpts: ['-e', '--regexp', '-f', '--file'],
  },
  rg: {
    valueShort: 'efgtTABCmMjEr',
    valueLong: ['--regexp', '--file', '--glob', '--iglob', '--type', '--type-not', '--type-add', '--type-clear', '--after-context', '--before-context', '--context', '--max-count', '--max-columns', '--threads', '--encoding', '--replace', '--max-depth', '--max-filesize', '--sort', '--sortr', '--colors', '--context-separator', '--field-match-separator', '--field-context-separator', '--path-separator', '--ignore-file', '--dfa-size-limit', '--regex-size-limit', '--engine', '--generate', '--hyperlink-format', '--pre-glob'],
    pathValue: ['-f', '--file', '--ignore-file'],
    denied: { '--pre': 'it runs a preprocessor program', '--hostname-bin': 'it runs a program', '-L': FOLLOW, '--follow': FOLLOW },
    abbreviations: false,
    pattern: true,
    patternOpts: ['-e', '--regexp', '-f', '--file'],
    noPatternOpts: ['--files', '--type-list'],
  },
};

function checkFileCommand(cmd: ShCommand, program: string, env: Env): Deny | null {
  for (const w of cmd.args) if (w.dynamic) return new Deny('dynamic', `argument ${q(w.text)} of ${program} is built at run time; paths and options must be literal`);
  if (program === 'find') return checkFind(cmd, env);
  const spec = FILE_SPECS[program] ?? {};
  const scan = scanArgs(cmd.args, spec, program, env, 'path');
  let operands = scan.operands;
  if (spec.pattern) {
    const hasPatternOpt = scan.options.some((o) => spec.patternOpts?.includes(o));
    const noPattern = scan.options.some((o) => spec.noPatternOpts?.includes(o));
    if (!hasPatternOpt && !noPattern) operands = operands.slice(1);
  }
  for (const w of operands) {
    if (w.value === '-') continue;
    const d = checkPathWord(w, env, { what: `file operand of ${program}` });
    if (d) return d;
  }
  return null;
}

const FIND_PATH_ARGS = new Set(['-newer', '-anewer', '-cnewer', '-samefile', '-files0-from']);
function checkFind(cmd: ShCommand, env: Env): Deny | null {
  const denied = new Set(env.policy.find.deniedActions);
  const args = cmd.args;
  let i = 0;
  // Leading options.
  while (i < args.length && /^-[HLPD]/.test(args[i]!.value) && args[i]!.value.length >= 2 && !/^-[a-z]{2,}/.test(args[i]!.value)) {
    const v = args[i]!.value;
    if (v === '-L' || v === '-H') return new Deny('find', `find option ${q(v)} is not allowed: ${FOLLOW}`);
    if (v === '-D') i++;
    i++;
  }
  // Start points.
  while (i < args.length) {
    const v = args[i]!.value;
    if (v.startsWith('-') || v === '(' || v === '!' || v === ')' || v === ',') break;
    const d = checkPathWord(args[i]!, env, { what: 'start path of find' });
    if (d) return d;
    i++;
  }
  // Expression.
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (denied.has(v) || v.startsWith('-fprint') || v.startsWith('-exec') || v.startsWith('-ok') || v === '-fls') {
      return new Deny('find', `find action ${q(v)} is not allowed (it runs commands, deletes or writes files)`);
    }
    if (v === '-follow') return new Deny('find', `find ${q(v)} is not allowed: ${FOLLOW}`);
    if (FIND_PATH_ARGS.has(v) || /^-newer[amBct][amBct]$/.test(v)) {
      const w = args[i + 1];
      if (w && !/^-newer..t$/.test(v)) {
        const d = checkPathWord(w, env, { what: `file argument of find ${v}` });
        if (d) return d;
      }
      i++;
    }
  }
  return null;
}

// ---------------------------------------------------------------- generic tools (make, tsc, vitest, jest, pytest, cargo, go, scripts)

/**
 * Tools whose options we do not model one by one: every operand and every option
 * value (after `=` or `:` too) is checked as a path (relative names stay inside, so
 * only absolute, `..` and symlinked escapes are denied), values built at run time
 * are denied, and the policy's denied options are denied.
 */
function checkToolArgs(args: readonly ShWord[], program: string, env: Env, deniedOptions: readonly string[], rule: RuleId): Deny | null {
  const denied = new Set(deniedOptions);
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
      const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
      const bare = name.replace(/^--?/, '');
      for (const d of denied) {
        const dBare = d.replace(/^--?/, '');
        if (d.startsWith('-') && (name === d || bare === dBare || (name.startsWith('--') && bare.length >= 3 && dBare.startsWith(bare)))) {
          return new Deny(rule, `${program} option ${q(v)} is not allowed by the policy`);
        }
      }
      if (!name.startsWith('--') && name.length > 2 && v.includes('/')) {
        const d = checkPathValue(v.slice(2), env, { what: `attached value of ${program} ${v.slice(0, 2)}` });
        if (d) return d;
      }
    } else if (!endOfOptions && /^[A-Za-z_.][A-Za-z0-9_.]*=/.test(v)) {
      const name = v.slice(0, v.indexOf('='));
      if (denied.has(name) || isSensitiveEnv(name, env.policy)) return new Deny(rule, `${program} variable override ${q(name)} is not allowed`);
    }
    const pieces = [v, ...splitValues(v)];
    for (const p of pieces) {
      if (p === '' || p.startsWith('-')) continue;
      const d = checkPathValue(p, env, { what: `argument of ${program}` });
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

// ---------------------------------------------------------------- env (rule 3)

export function isSensitiveEnv(name: string, policy: Policy): boolean {
  const upper = name.toUpperCase();
  if (policy.sensitiveEnv.names.some((n) => n.toUpperCase() === upper)) return true;
  return policy.sensitiveEnv.prefixes.some((p) => upper.startsWith(p.toUpperCase()));
}

// ---------------------------------------------------------------- redirects (rule 9)

const WRITE_OPS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);
function checkRedirect(r: ShRedirect, env: Env, where: string): Deny | null {
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

// ---------------------------------------------------------------- git (rule 5)

const GIT_HARMLESS_GLOBAL = new Set([
  '-p', '--paginate', '-P', '--no-pager', '--no-replace-objects', '--literal-pathspecs', '--glob-pathspecs',
  '--noglob-pathspecs', '--icase-pathspecs', '--no-optional-locks', '--no-advice', '--bare', '--version', '--help', '-h',
  '--html-path', '--man-path', '--info-path', '--no-lazy-fetch',
]);
const GIT_DENIED_GLOBAL = ['--git-dir', '--work-tree', '--exec-path', '--config-env', '--super-prefix', '--list-cmds', '--attr-source'];
const GIT_DANGEROUS_OPTS: Record<string, string> = {
  '--upload-pack': 'it runs a program',
  '--receive-pack': 'it runs a program',
  '--exec': 'it runs a program',
  '--unsafe-paths': 'it writes outside the repository',
  '--open-files-in-pager': 'it runs a program',
  '--config-env': 'it sets git configuration',
  '--extcmd': 'it runs a program',
  '--tool': 'it runs a program',
};
const GIT_PATH_OPTS = ['--output', '--pathspec-from-file', '--template', '--contents', '--ignore-revs-file', '--orderfile', '--file', '--exclude-from', '--patch-with-stat-file'];
const GIT_SHORT_PATH_OPTS: Record<string, string[]> = {
  commit: ['-F', '-t'],
  tag: ['-F'],
  grep: ['-f'],
  blame: ['-S'],
  diff: ['-O'],
  log: ['-O'],
  show: ['-O'],
};
const GIT_MESSAGE_SUBS = new Set(['commit', 'merge', 'tag', 'stash', 'revert', 'cherry-pick']);

function matchConfigKey(key: string, patterns: readonly string[]): boolean {
  const k = key.toLowerCase();
  return patterns.some((p) => {
    const lp = p.toLowerCase();
    return lp.endsWith('*') ? k.startsWith(lp.slice(0, -1)) && k.length > lp.length - 1 : k === lp;
  });
}

function longMatches(arg: string, option: string): boolean {
  const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
  return name === option || (name.length >= 4 && name.startsWith('--') && option.startsWith(name));
}

function checkGit(cmd: ShCommand, env: Env): Deny | null {
  const args = cmd.args;
  const p = env.policy;
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.glob || w.brace) return new Deny('dynamic', `git option or subcommand ${q(w.text)} is built at run time`);
    const v = w.value;
    if (!v.startsWith('-')) break;
    if (v === '-C') {
      const dir = args[++i];
      if (!dir) return new Deny('git-global', 'git -C needs a directory');
      const d = checkPathWord(dir, env, { what: 'git -C directory', rule: 'git-global', within: env.cwd, withinName: 'worktree' });
      if (d) return d;
      continue;
    }
    if (v === '-c' || (v.startsWith('-c') && v.length > 2 && !v.startsWith('--'))) {
      const kvw = v === '-c' ? args[++i] : sub(w, v.slice(2));
      if (!kvw) return new Deny('git-config', 'git -c needs key=value');
      if (kvw.dynamic || kvw.glob || kvw.brace) return new Deny('dynamic', `git -c ${q(kvw.text)} is built at run time`);
      const key = kvw.value.split('=')[0]!;
      if (!matchConfigKey(key, p.git.harmlessConfigKeys)) {
        return new Deny('git-config', `git -c ${q(key)} is not an allowed configuration key (allowed: ${p.git.harmlessConfigKeys.join(', ')})`);
      }
      continue;
    }
    if (v === '--namespace' || v.startsWith('--namespace=')) {
      if (v === '--namespace') i++;
      continue;
    }
    const deniedGlobal = GIT_DENIED_GLOBAL.find((o) => v === o || v.startsWith(`${o}=`));
    if (deniedGlobal) return new Deny('git-global', `git global option ${q(deniedGlobal)} is not allowed (it points git at another repository, program or configuration)`);
    if (GIT_HARMLESS_GLOBAL.has(v)) continue;
    return new Deny('git-global', `git global option ${q(v)} is not allowed`);
  }
  if (i >= args.length) return null;
  const sc = args[i]!.value;
  const rest = args.slice(i + 1);
  if (HARD_BLOCKED_GIT.has(sc) || sc.startsWith('credential')) {
    return new Deny('git-hard-block', `git ${sc} is never allowed (it can publish, change remotes, rewrite history or leak credentials)`);
  }
  if (sc === 'clean' && p.allowGitClean) {
    // enabled by the policy file
  } else if (sc === 'clean') {
    return new Deny('git-denied', 'git clean is denied by the policy (allowGitClean is false): it deletes untracked files');
  } else if (p.git.deniedSubcommands.includes(sc)) {
    return new Deny('git-denied', `git ${sc} is denied by the policy`);
  } else if (!p.git.allowedSubcommands.includes(sc)) {
    return new Deny('git-subcommand', `git ${sc} is not an allowed git subcommand (allowed: ${p.git.allowedSubcommands.join(', ')})`);
  }

  // Options that are dangerous for any subcommand; dynamic values; globs.
  const shortPath = GIT_SHORT_PATH_OPTS[sc] ?? [];
  let afterDashDash = false;
  const operands: ShWord[] = [];
  const options: string[] = [];
  for (let j = 0; j < rest.length; j++) {
    const w = rest[j]!;
    const v = w.value;
    if (!afterDashDash && !w.dynamic && v === '--') {
      afterDashDash = true;
      continue;
    }
    if (w.dynamic) {
      const prev = rest[j - 1]?.value;
      const isMessage =
        GIT_MESSAGE_SUBS.has(sc) &&
        !afterDashDash &&
        ((prev === '-m' || prev === '--message') || /^(-m|--message=)/.test(w.text.replace(/^["']/, '')));
      if (!isMessage) return new Deny('dynamic', `git ${sc} argument ${q(w.text)} is built at run time (only commit/merge/tag messages may be)`);
      continue;
    }
    if (w.brace) return new Deny('dynamic', `git ${sc} argument ${q(w.text)} uses brace expansion`);
    const d0 = checkArgShell(w, env, `git ${sc}`);
    if (d0) return d0;
    if (afterDashDash || !v.startsWith('-') || v === '-') {
      operands.push(w);
      continue;
    }
    options.push(v);
    for (const [opt, why] of Object.entries(GIT_DANGEROUS_OPTS)) {
      if (longMatches(v, opt)) return new Deny('git-denied', `git ${sc} ${q(opt)} is not allowed: ${why}`);
    }
    if (sc === 'grep' && /^-[a-zA-Z]*O/.test(v) && !v.startsWith('--')) return new Deny('git-denied', 'git grep -O is not allowed: it runs a program');
    for (const opt of GIT_PATH_OPTS) {
      if (longMatches(v, opt)) {
        if (sc === 'grep' && opt === '--file' && false) continue;
        const val = v.includes('=') ? sub(w, v.slice(v.indexOf('=') + 1)) : rest[++j];
        if (val) {
          const d = checkPathWord(val, env, { what: `value of git ${sc} ${opt}`, write: opt === '--output' });
          if (d) return d;
        }
      }
    }
    for (const opt of shortPath) {
      if (v === opt || (v.startsWith(opt) && v.length > 2)) {
        const val = v === opt ? rest[++j] : sub(w, v.slice(2));
        if (val) {
          const d = checkPathWord(val, env, { what: `value of git ${sc} ${opt}` });
          if (d) return d;
        }
      }
    }
  }
  const shortCluster = (chars: string) => options.some((o) => /^-[^-]/.test(o) && [...o.slice(1)].some((c) => chars.includes(c)));
  const hasLong = (...names: string[]) => options.some((o) => names.some((n) => longMatches(o, n)));
  const firstOperand = operands[0]?.value;

  switch (sc) {
    case 'config':
      return checkGitConfig(rest, env);
    case 'branch':
      if (shortCluster('DMCf') || hasLong('--force')) return new Deny('git-denied', 'git branch -D/-M/-C/--force is not allowed (it can delete unmerged work or move a branch); use -d');
      return null;
    case 'tag':
      if (shortCluster('df') || hasLong('--delete', '--force')) return new Deny('git-denied', 'git tag -d/-f is not allowed (local tags may only be created)');
      return null;
    case 'checkout':
      if (options.includes('-B')) return new Deny('git-denied', 'git checkout -B is not allowed (it resets an existing branch)');
      return null;
    case 'switch':
      if (options.includes('-C') || hasLong('--force-create')) return new Deny('git-denied', 'git switch -C is not allowed (it resets an existing branch)');
      return null;
    case 'stash':
      if (firstOperand === 'clear' || firstOperand === 'drop') return new Deny('git-denied', `git stash ${firstOperand} is not allowed (it destroys stashed work)`);
      return null;
    case 'pull':
      if (!options.includes('--ff-only')) return new Deny('git-denied', 'git pull is only allowed with --ff-only');
      if (options.some((o) => o === '-r' || longMatches(o, '--rebase') || o.startsWith('--rebase=')) || shortCluster('r')) return new Deny('git-denied', 'git pull --rebase is not allowed');
      return checkFetchArgs(sc, operands, options);
    case 'fetch':
      return checkFetchArgs(sc, operands, options);
    case 'worktree':
      return checkGitWorktree(rest, env);
    case 'diff':
      for (const w of operands) {
        const d = checkPathWord(w, env, { what: 'git diff operand' });
        if (d) return d;
      }
      return null;
    case 'apply':
      for (const w of operands) {
        const d = checkPathWord(w, env, { what: 'git apply patch file' });
        if (d) return d;
      }
      return null;
    case 'reflog':
      if (firstOperand === 'expire' || firstOperand === 'delete') return new Deny('git-denied', `git reflog ${firstOperand} is not allowed`);
      return null;
    case 'gc':
      if (options.some((o) => o.startsWith('--prune'))) return new Deny('git-denied', 'git gc --prune is not allowed');
      return null;
    case 'submodule':
      if (firstOperand && ['add', 'set-url', 'sync', 'foreach', 'deinit'].includes(firstOperand)) return new Deny('git-denied', `git submodule ${firstOperand} is not allowed`);
      return null;
    case 'archive':
      if (hasLong('--remote')) return new Deny('git-denied', 'git archive --remote is not allowed');
      return null;
    default:
      return null;
  }
}

function checkFetchArgs(sc: string, operands: ShWord[], options: string[]): Deny | null {
  if (options.some((o) => o === '-f' || longMatches(o, '--force'))) return new Deny('git-denied', `git ${sc} --force is not allowed (it can rewrite local branches)`);
  const repo = operands[0]?.value;
  if (repo !== undefined && !/^[A-Za-z0-9._-]+$/.test(repo)) {
    return new Deny('git-denied', `git ${sc} may only use a configured remote name, not ${q(repo)}`);
  }
  for (const w of operands.slice(1)) if (w.value.startsWith('+')) return new Deny('git-denied', `git ${sc} refspec ${q(w.value)} forces a ref update`);
  return null;
}

const CONFIG_READ = ['--get', '--get-all', '--get-regexp', '--list', '-l', '--get-urlmatch', '--get-color', '--get-colorbool'];
const CONFIG_WRITE = ['--add', '--unset', '--unset-all', '--replace-all', '--rename-section', '--remove-section', '--edit', '-e', '--file', '-f', '--blob'];
function checkGitConfig(rest: readonly ShWord[], env: Env): Deny | null {
  void env;
  const vals = rest.map((w) => w.value);
  for (const v of vals) {
    const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
    if (CONFIG_WRITE.includes(name)) return new Deny('git-config', `git config ${q(name)} is not allowed (only --get, --get-all, --list)`);
  }
  const firstNonOpt = vals.find((v) => !v.startsWith('-'));
  const readFlag = vals.some((v) => CONFIG_READ.includes(v));
  const readSub = firstNonOpt === 'get' || firstNonOpt === 'list';
  if (readFlag && !['set', 'unset', 'rename-section', 'remove-section', 'edit'].includes(firstNonOpt ?? '')) return null;
  if (readSub && vals.indexOf(firstNonOpt!) === vals.findIndex((v) => !v.startsWith('-'))) return null;
  return new Deny('git-config', 'git config may only read (--get, --get-all, --list); writing configuration is not allowed');
}

function checkGitWorktree(rest: readonly ShWord[], env: Env): Deny | null {
  const operands: ShWord[] = [];
  const opts: string[] = [];
  for (let j = 0; j < rest.length; j++) {
    const v = rest[j]!.value;
    if (v === '--') {
      operands.push(...rest.slice(j + 1));
      break;
    }
    if (v.startsWith('-') && v !== '-') {
      opts.push(v);
      if (['-b', '--reason', '--expire'].includes(v)) j++;
      continue;
    }
    operands.push(rest[j]!);
  }
  const action = operands[0]?.value;
  if (action === undefined) return new Deny('git-subcommand', 'git worktree needs a subcommand (list, add, remove, prune, move)');
  if (!['list', 'add', 'remove', 'prune', 'move'].includes(action)) return new Deny('git-subcommand', `git worktree ${action} is not allowed (allowed: list, add, remove, prune, move)`);
  if (opts.includes('-B')) return new Deny('git-denied', 'git worktree add -B is not allowed (it resets an existing branch)');
  const paths = action === 'add' ? operands.slice(1, 2) : action === 'remove' ? operands.slice(1, 2) : action === 'move' ? operands.slice(1, 3) : [];
  for (const w of paths) {
    const d = checkPathWord(w, env, { what: `git worktree ${action} path`, rule: 'git-denied' });
    if (d) return d;
  }
  return null;
}

// ---------------------------------------------------------------- codex (rule 6)

const CODEX_VALUE_OPTS = new Set([
  '-c', '--config', '--enable', '--disable', '-i', '--image', '-m', '--model', '--local-provider', '-p', '--profile', '-s',
  '--sandbox', '-a', '--ask-for-approval', '-C', '--cd', '--add-dir', '--output-schema', '-o', '--output-last-message', '--color',
]);
const CODEX_PATH_OPTS = new Set(['-C', '--cd', '--add-dir', '-i', '--image', '--output-schema', '-o', '--output-last-message']);
const DANGER = 'danger-full-access';

function checkCodex(cmd: ShCommand, env: Env, single: boolean): Deny | null {
  const p = env.policy;
  if (!single || cmd.assignments.length > 0) {
    return new Deny('codex', '`codex exec` must be run alone: one command, no chaining, pipes, redirections, substitutions or VAR= prefixes');
  }
  const dangerAllowed = p.allowDangerFullAccess;
  const args = cmd.args;
  let subcommand: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `codex argument ${q(w.text)} is built at run time; the prompt must be literal text`);
    if (w.tilde) return new Deny('path', `codex argument ${q(w.text)} uses home (~) expansion`);
    const v = w.value;
    if (v === '--') break;
    if (!v.startsWith('-') || v === '-') {
      if (subcommand === undefined) {
        subcommand = v;
        if (!p.codex.allowedSubcommands.includes(v)) return new Deny('codex', `codex ${v} is not allowed (only ${p.codex.allowedSubcommands.map((s) => `codex ${s}`).join(', ')})`);
      }
      continue;
    }
    if (v === '--dangerously-bypass-approvals-and-sandbox' || v === '--yolo') {
      if (!dangerAllowed) return new Deny('codex', `codex ${v} is not allowed by the policy (allowDangerFullAccess is false)`);
      continue;
    }
    let name = v;
    let value: string | undefined;
    if (v.startsWith('--') && v.includes('=')) {
      name = v.slice(0, v.indexOf('='));
      value = v.slice(v.indexOf('=') + 1);
    } else if (!v.startsWith('--') && v.length > 2) {
      name = v.slice(0, 2);
      value = v.slice(2);
    }
    if (!CODEX_VALUE_OPTS.has(name)) {
      if (value !== undefined && !v.startsWith('--')) return new Deny('codex', `codex option ${q(v)} is not recognised`);
      continue;
    }
    if (value === undefined) {
      const nw = args[++i];
      if (!nw) return new Deny('codex', `codex ${name} needs a value`);
      if (nw.dynamic || nw.brace) return new Deny('dynamic', `codex ${name} value ${q(nw.text)} is built at run time`);
      if (nw.tilde) return new Deny('path', `codex ${name} value ${q(nw.text)} uses home (~) expansion`);
      value = nw.value;
    }
    if ((name === '-s' || name === '--sandbox') && value === DANGER && !dangerAllowed) {
      return new Deny('codex', `codex ${name} ${DANGER} is not allowed by the policy (allowDangerFullAccess is false)`);
    }
    if (name === '-p' || name === '--profile') return new Deny('codex', 'codex --profile is not allowed: a profile can change the sandbox; pass options explicitly');
    if (name === '-c' || name === '--config') {
      const key = value.split('=')[0]!.trim();
      if (value.includes(DANGER) && !dangerAllowed) return new Deny('codex', `codex -c ${q(value)} sets ${DANGER}, which the policy does not allow`);
      if (!matchConfigKey(key, p.codex.harmlessConfigKeys)) return new Deny('codex', `codex -c ${q(key)} is not an allowed configuration key (allowed: ${p.codex.harmlessConfigKeys.join(', ')})`);
    }
    if (CODEX_PATH_OPTS.has(name)) {
      const d = checkPathValue(value, env, { what: `codex ${name}`, write: name === '-o' || name === '--output-last-message' });
      if (d) return d;
    }
  }
  if (subcommand === undefined) return new Deny('codex', 'codex needs the exec subcommand (`codex exec "<prompt>"`); interactive codex is not allowed');
  return null;
}

// ---------------------------------------------------------------- package managers (rule 7)

const PM_VALUE_OPTS = new Set(['--prefix', '-C', '--cwd', '--dir', '-w', '--workspace', '--filter', '-F', '--loglevel', '--reporter', '--cache-folder']);
const PM_PATH_OPTS = new Set(['--prefix', '-C', '--cwd', '--dir', '-w', '--workspace']);
const PM_DENIED_OPTS = new Set([
  '--script-shell', '--node-options', '--userconfig', '--globalconfig', '--init-module', '--shell', '--editor', '--git',
  '--cache', '--cache-folder', '--npm-path', '--node-gyp', '--onload-script', '--call', '-c', '--package', '--scripts-prepend-node-path',
  '--use-yarnrc', '--global-folder', '--modules-folder', '--preferred-cache-folder', '--link-folder', '--registry', '--global', '-g',
  '--location', '--viewer', '--browser', '--store-dir', '--virtual-store-dir', '--global-dir', '--config', '--workspace-root',
  '--yarn-path', '--proxy', '--https-proxy', '--cafile',
]);

function checkPackageManager(cmd: ShCommand, program: string, env: Env): Deny | null {
  const rules = env.policy.packageManagers[program];
  if (!rules) return new Deny('package-manager', `${program} has no rules in the policy file`);
  const args = cmd.args;
  let sub: ShWord | undefined;
  let subIndex = -1;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `${program} argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '--') break;
    if (v.startsWith('-') && v !== '-') {
      const d = pmOption(v, args[i + 1], program, env);
      if (d) return d;
      if (PM_VALUE_OPTS.has(v)) i++;
      continue;
    }
    sub = w;
    subIndex = i;
    break;
  }
  if (!sub) {
    const onlyInfo = args.length > 0 && args.every((a) => ['--version', '-v', '--help', '-h'].includes(a.value));
    if (onlyInfo) return null;
    return new Deny('package-manager', `bare ${program} is not allowed${program === 'yarn' ? ' (it installs dependencies)' : ''}; use ${program} test or ${program} run <script>`);
  }
  const s = sub.value;
  if (rules.denied.includes(s)) return new Deny('package-manager', `${program} ${s} is not allowed: dependency changes and package execution are denied (${program} ${s})`);
  if (!rules.allowed.includes(s) && !rules.scripts) return new Deny('package-manager', `${program} ${s} is not an allowed ${program} command (allowed: ${rules.allowed.join(', ')})`);
  // The rest: options still parsed by the package manager (before `--`), then script arguments.
  const rest = args.slice(subIndex + 1);
  for (let i = 0; i < rest.length; i++) {
    const v = rest[i]!.value;
    if (v === '--') break;
    if (v.startsWith('-') && !rest[i]!.dynamic) {
      const d = pmOption(v, rest[i + 1], program, env);
      if (d) return d;
    }
  }
  return checkToolArgs(rest, `${program} ${s}`, env, [], 'package-manager');
}

function pmOption(v: string, next: ShWord | undefined, program: string, env: Env): Deny | null {
  const name = v.includes('=') && v.startsWith('--') ? v.slice(0, v.indexOf('=')) : v;
  if (PM_DENIED_OPTS.has(name) || /^--(.*-)?(shell|config|userconfig|node-options|path)$/.test(name)) {
    return new Deny('package-manager', `${program} option ${q(name)} is not allowed (it changes which programs or configuration ${program} uses)`);
  }
  if (PM_PATH_OPTS.has(name)) {
    const w = v.includes('=') ? undefined : next;
    const value = v.includes('=') ? v.slice(v.indexOf('=') + 1) : w?.value;
    if (w && (w.dynamic || w.tilde)) return new Deny('path', `${program} ${name} value ${q(w.text)} must be a literal path`);
    if (value !== undefined) return checkPathValue(value, env, { what: `${program} ${name}` });
  }
  return null;
}

// ---------------------------------------------------------------- interpreters (rule 8)

function checkNode(cmd: ShCommand, env: Env): Deny | null {
  const rules = env.policy.interpreters.node;
  if (!rules) return new Deny('interpreter', 'node has no rules in the policy file');
  const args = cmd.args;
  const info = new Set(['--test', '--version', '-v', '--help', '-h']);
  let sawInfo = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `node argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '-') return new Deny('interpreter', 'node - reads the program from standard input (inline code is not allowed)');
    let script: ShWord | undefined;
    if (v === '--') script = args[i + 1];
    else if (!v.startsWith('-')) script = w;
    if (script || v === '--') {
      if (!script) break;
      if (script.value === '-') return new Deny('interpreter', 'node reading the program from standard input is not allowed');
      return checkPathWord(script, env, { what: 'node script', rule: 'interpreter' });
    }
    const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
    const norm = name.replace(/_/g, '-');
    if (rules.deniedOptions.includes(norm) || (/^-[a-zA-Z]{2,}$/.test(norm) && /[epri]/.test(norm))) {
      return new Deny('interpreter', `node ${q(name)} is not allowed: it runs inline code or loads code from elsewhere`);
    }
    if (!rules.allowedOptions.includes(norm)) return new Deny('interpreter', `node option ${q(name)} is not in the policy's allowed node options`);
    if (info.has(norm)) sawInfo = true;
    if (rules.valueOptions.includes(norm) && !v.includes('=')) i++;
  }
  if (sawInfo) return null;
  return new Deny('interpreter', 'node without a script file reads the program from standard input (inline code is not allowed)');
}

function checkPython(cmd: ShCommand, program: string, env: Env): Deny | null {
  const rules = env.policy.interpreters[program];
  if (!rules) return new Deny('interpreter', `${program} has no rules in the policy file`);
  const args = cmd.args;
  let sawInfo = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `${program} argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '-') return new Deny('interpreter', `${program} - reads the program from standard input (inline code is not allowed)`);
    if (v === '--' || !v.startsWith('-')) {
      const script = v === '--' ? args[i + 1] : w;
      if (!script) break;
      const d = checkPathWord(script, env, { what: `${program} script`, rule: 'interpreter' });
      if (d) return d;
      return null;
    }
    if (v.startsWith('--')) {
      if (rules.allowedOptions.includes(v)) {
        if (v === '--version' || v === '--help') sawInfo = true;
        continue;
      }
      return new Deny('interpreter', `${program} option ${q(v)} is not allowed`);
    }
    for (let j = 1; j < v.length; j++) {
      const opt = `-${v[j]}`;
      if (rules.deniedOptions.includes(opt)) return new Deny('interpreter', `${program} ${opt} is not allowed: it runs inline code`);
      if (!rules.allowedOptions.includes(opt)) return new Deny('interpreter', `${program} option ${q(opt)} is not allowed`);
      if (opt === '-V' || opt === '-h') sawInfo = true;
      if (rules.valueOptions.includes(opt)) {
        const rest = v.slice(j + 1);
        let valueWord: ShWord | undefined = rest ? sub(w, rest) : args[++i];
        if (!valueWord) return new Deny('interpreter', `${program} ${opt} needs a value`);
        if (valueWord.dynamic) return new Deny('dynamic', `${program} ${opt} value is built at run time`);
        if (opt === '-m') {
          const mod = valueWord.value;
          if (!rules.allowedModules.includes(mod)) return new Deny('interpreter', `${program} -m ${mod} is not allowed (allowed modules: ${rules.allowedModules.join(', ') || 'none'})`);
          const tool = env.policy.tools[mod];
          return checkToolArgs(args.slice(i + 1), `${program} -m ${mod}`, env, tool?.deniedOptions ?? [], 'interpreter');
        }
        valueWord = undefined;
        break;
      }
    }
  }
  if (sawInfo) return null;
  return new Deny('interpreter', `${program} without a script file reads the program from standard input (inline code is not allowed)`);
}

// ---------------------------------------------------------------- per command

function checkSimple(cmd: ShCommand, env: Env, single: boolean): Deny | null {
  for (const a of cmd.assignments) {
    if (isSensitiveEnv(a.name, env.policy)) return new Deny('env-assign', `setting ${a.name} is not allowed (it changes how programs are found, configured or run)`);
  }
  if (!cmd.name && cmd.assignments.length > 0) {
    return new Deny('env-assign', `shell variable assignment ${q(cmd.assignments[0]!.text)} without a command is not allowed; use VAR=value <command>`);
  }
  const where = cmd.name ? (cmd.name.dynamic ? cmd.name.text : cmd.name.value) : 'the command';
  for (const r of cmd.redirects) {
    const d = checkRedirect(r, env, where);
    if (d) return d;
  }
  if (!cmd.name) return null;
  const n = cmd.name;
  if (n.dynamic) return new Deny('dynamic', `the command word ${q(n.text)} is built at run time`);
  if (n.glob || n.brace || n.tilde) return new Deny('dynamic', `the command word ${q(n.text)} is expanded by the shell`);
  const prog = n.value;
  if (prog.includes('/')) return new Deny('program', `${q(prog)} is a path; only bare program names from the allowlist may run`);
  if (WRAPPERS.has(prog)) return new Deny('wrapper', `${q(prog)} runs other commands or code and is never allowed`);
  if (!env.policy.programs.includes(prog)) return new Deny('program', `${q(prog)} is not an allowed program (allowed: ${env.policy.programs.join(', ')})`);

  if (prog === 'git') return checkGit(cmd, env);
  if (prog === 'codex') return checkCodex(cmd, env, single);
  for (const w of cmd.args) {
    const d = w.dynamic ? null : checkArgShell(w, env, prog);
    if (d) return d;
  }
  if (env.policy.fileCommands.includes(prog) || prog === 'find') return checkFileCommand(cmd, prog, env);
  if (prog in env.policy.packageManagers) return checkPackageManager(cmd, prog, env);
  if (prog === 'node') return checkNode(cmd, env);
  if (prog in env.policy.interpreters && prog !== 'node') return checkPython(cmd, prog, env);
  switch (prog) {
    case 'echo':
    case 'true':
    case 'pwd':
      return null;
    case 'test':
      for (const w of cmd.args) {
        if (w.value === '-v' || w.value === '-R') return new Deny('program', `test ${w.value} is not allowed (bash evaluates array subscripts in it)`);
      }
      return null;
    default: {
      const tool = env.policy.tools[prog];
      if (tool && tool.subcommands.length > 0) {
        const first = cmd.args.find((w) => !w.value.startsWith('+'));
        if (!first || first.dynamic || !tool.subcommands.includes(first.value)) {
          return new Deny('program', `${prog} is only allowed as ${tool.subcommands.map((s) => `${prog} ${s}`).join(', ')}`);
        }
      }
      return checkToolArgs(cmd.args, prog, env, tool?.deniedOptions ?? [], 'program');
    }
  }
}

function checkWorktree(worktree: string, baseDir: string): { deny: Deny } | { baseReal: string; cwd: string } {
  const bad = (why: string) => ({ deny: new Deny('worktree', `worktree ${q(worktree)} ${why}`) });
  if (typeof worktree !== 'string' || worktree.length === 0) return { deny: new Deny('worktree', 'worktree is empty; name a directory directly inside the base dir (e.g. main)') };
  if (path.isAbsolute(worktree) || worktree.includes('/') || worktree.includes('\\')) return bad('must be a bare directory name inside the base dir, not a path');
  if (worktree === '.' || worktree === '..' || worktree.includes('..')) return bad('must not be . or contain ..');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(worktree)) return bad('contains control characters');
  const baseReal = realDir(baseDir);
  if (!baseReal) return { deny: new Deny('worktree', `base dir ${baseDir} does not exist`) };
  let cwd: string;
  try {
    cwd = fs.realpathSync.native(path.join(baseDir, worktree));
  } catch {
    return bad('does not exist in the base dir');
  }
  if (!inside(cwd, baseReal) || cwd === baseReal) return bad(`resolves to ${cwd}, outside the base dir`);
  try {
    if (!fs.statSync(cwd).isDirectory()) return bad('is not a directory');
  } catch {
    return bad('does not exist in the base dir');
  }
  return { baseReal, cwd };
}

/** Decides whether `req.command` may run in `req.worktree` of `ctx.baseDir` under `ctx.policy`. Never throws. */
export function checkCommand(req: CommandRequest, ctx: { baseDir: string; policy: Policy }): PolicyDecision {
  try {
    return decide(req, ctx);
  } catch (e) {
    if (e instanceof Deny) return { allowed: false, rule: e.rule, reason: `${e.rule}: ${e.reason}` };
    return { allowed: false, rule: 'parse', reason: `parse: the command could not be analysed (${(e as Error).message})` };
  }
}

function decide(req: CommandRequest, ctx: { baseDir: string; policy: Policy }): PolicyDecision {
  const deny = (d: Deny): PolicyDecision => ({ allowed: false, rule: d.rule, reason: `${d.rule}: ${d.reason}` });
  const wt = checkWorktree(req.worktree, ctx.baseDir);
  if ('deny' in wt) return deny(wt.deny);
  if (typeof req.command !== 'string') return deny(new Deny('parse', 'command must be a string'));
  const line = parseLine(req.command);
  if (line.problems.length > 0) {
    const pr = line.problems[0]!;
    return deny(new Deny(pr.rule, pr.message));
  }
  const env: Env = { baseReal: wt.baseReal, cwd: wt.cwd, policy: ctx.policy };
  for (const r of line.groupRedirects) {
    const d = checkRedirect(r, env, 'a command group');
    if (d) return deny(d);
  }
  let codexArgs: string[] | undefined;
  for (const cmd of line.commands) {
    const d = checkSimple(cmd, env, line.single);
    if (d) return deny(d);
    if (cmd.name && !cmd.name.dynamic && cmd.name.value === 'codex') codexArgs = cmd.args.map((a) => a.value);
  }
  if (codexArgs) return { allowed: true, rule: null, reason: 'allowed: codex exec runs through the worker layer', codexArgs };
  return ALLOWED;
}
