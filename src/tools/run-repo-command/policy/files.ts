/**
 * File commands: readers (cat, ls, grep, …) whose operands stay in the base dir,
 * find without actions, and the small writers (mkdir, touch, cp, mv, ln, sed, sort)
 * whose targets stay in the worktree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ShCommand, ShWord } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { checkParams } from './env.js';
import { scanArgs, type OptSpec } from './options.js';
import { checkPathValue, checkPathWord, resolveReal } from './paths.js';

const FOLLOW = 'it follows symbolic links, which can lead outside the base dir';
type FileSpec = OptSpec & { pattern?: boolean; patternOpts?: string[]; noPatternOpts?: string[] };
const READERS: Record<string, FileSpec> = {
  cat: {},
  head: { valueShort: 'nc', valueLong: ['--lines', '--bytes'] },
  tail: { valueShort: 'ncs', valueLong: ['--lines', '--bytes', '--sleep-interval', '--pid', '--max-unchanged-stats'] },
  wc: { valueLong: ['--files0-from'], pathValue: ['--files0-from'] },
  ls: {
    valueShort: 'IwT',
    valueLong: [
      '--ignore',
      '--hide',
      '--width',
      '--tabsize',
      '--format',
      '--sort',
      '--time',
      '--time-style',
      '--quoting-style',
      '--indicator-style',
      '--block-size',
    ],
  },
  diff: {
    valueShort: 'CUIxXFSWLD',
    valueLong: [
      '--ignore-matching-lines',
      '--exclude',
      '--exclude-from',
      '--show-function-line',
      '--starting-file',
      '--width',
      '--label',
      '--ifdef',
      '--line-format',
      '--old-line-format',
      '--new-line-format',
      '--unchanged-line-format',
      '--old-group-format',
      '--new-group-format',
      '--changed-group-format',
      '--unchanged-group-format',
      '--horizon-lines',
      '--from-file',
      '--to-file',
      '--tabsize',
      '--palette',
    ],
    pathValue: ['-X', '--exclude-from', '--from-file', '--to-file'],
  },
  grep: {
    valueShort: 'efABCmdD',
    valueLong: [
      '--regexp',
      '--file',
      '--after-context',
      '--before-context',
      '--context',
      '--max-count',
      '--include',
      '--exclude',
      '--exclude-dir',
      '--exclude-from',
      '--label',
      '--binary-files',
      '--devices',
      '--directories',
      '--group-separator',
    ],
    pathValue: ['-f', '--file', '--exclude-from'],
    denied: { '-R': `${FOLLOW} (use -r)`, '--dereference-recursive': `${FOLLOW} (use -r)` },
    pattern: true,
    patternOpts: ['-e', '--regexp', '-f', '--file'],
  },
  rg: {
    valueShort: 'efgtTABCmMjEr',
    valueLong: [
      '--regexp',
      '--file',
      '--glob',
      '--iglob',
      '--type',
      '--type-not',
      '--type-add',
      '--type-clear',
      '--after-context',
      '--before-context',
      '--context',
      '--max-count',
      '--max-columns',
      '--threads',
      '--encoding',
      '--replace',
      '--max-depth',
      '--max-filesize',
      '--sort',
      '--sortr',
      '--colors',
      '--context-separator',
      '--field-match-separator',
      '--field-context-separator',
      '--path-separator',
      '--ignore-file',
      '--dfa-size-limit',
      '--regex-size-limit',
      '--engine',
      '--generate',
      '--hyperlink-format',
      '--pre-glob',
    ],
    pathValue: ['-f', '--file', '--ignore-file'],
    denied: { '--pre': 'it runs a preprocessor program', '--hostname-bin': 'it runs a program', '-L': FOLLOW, '--follow': FOLLOW },
    abbreviations: false,
    pattern: true,
    patternOpts: ['-e', '--regexp', '-f', '--file'],
    noPatternOpts: ['--files', '--type-list'],
  },
};

const literalArgs = (cmd: ShCommand, program: string): Deny | null => {
  for (const w of cmd.args)
    if (w.dynamic)
      return new Deny('dynamic', `argument ${q(w.text)} of ${program} is built at run time; paths and options must be literal`);
  return null;
};

export function checkReader(cmd: ShCommand, program: string, env: Env): Check {
  const dyn = literalArgs(cmd, program);
  if (dyn) return dyn;
  if (program === 'find') return checkFind(cmd, env);
  const spec = READERS[program] ?? {};
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
  return verdict('inspect');
}

const FIND_PATH_ARGS = new Set(['-newer', '-anewer', '-cnewer', '-samefile', '-files0-from']);
function checkFind(cmd: ShCommand, env: Env): Check {
  const denied = new Set(env.policy.find.deniedActions);
  const args = cmd.args;
  let i = 0;
  while (i < args.length && /^-[HLPD]/.test(args[i]!.value) && args[i]!.value.length >= 2 && !/^-[a-z]{2,}/.test(args[i]!.value)) {
    const v = args[i]!.value;
    if (v === '-L' || v === '-H') return new Deny('find', `find option ${q(v)} is not allowed: ${FOLLOW}`);
    if (v === '-D') i++;
    i++;
  }
  while (i < args.length) {
    const v = args[i]!.value;
    if (v.startsWith('-') || v === '(' || v === '!' || v === ')' || v === ',') break;
    const d = checkPathWord(args[i]!, env, { what: 'start path of find' });
    if (d) return d;
    i++;
  }
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
  return verdict('inspect');
}

// ---------------------------------------------------------------- writers

const WRITERS: Record<string, OptSpec> = {
  mkdir: {
    valueShort: 'm',
    valueLong: ['--mode', '--context'],
    denied: { '-Z': 'it sets a security context', '--context': 'it sets a security context' },
  },
  touch: { valueShort: 'drt', valueLong: ['--date', '--reference', '--time'], pathValue: ['-r', '--reference'] },
  cp: {
    valueShort: 'tS',
    valueLong: ['--target-directory', '--suffix', '--backup', '--sparse', '--reflink', '--preserve', '--no-preserve', '--update'],
    writeValue: ['-t', '--target-directory'],
    denied: {
      '-s': 'it makes symbolic links',
      '--symbolic-link': 'it makes symbolic links',
      '-l': 'it makes hard links (a later write would change the original)',
      '--link': 'it makes hard links',
      '-L': FOLLOW,
      '--dereference': FOLLOW,
      '-H': FOLLOW,
    },
  },
  mv: { valueShort: 'tS', valueLong: ['--target-directory', '--suffix', '--backup', '--update'], writeValue: ['-t', '--target-directory'] },
  ln: {
    valueShort: 'tS',
    valueLong: ['--target-directory', '--suffix', '--backup'],
    writeValue: ['-t', '--target-directory'],
    denied: { '-L': FOLLOW, '--logical': FOLLOW },
  },
  sort: {
    valueShort: 'ktToS',
    valueLong: [
      '--key',
      '--field-separator',
      '--temporary-directory',
      '--output',
      '--buffer-size',
      '--files0-from',
      '--parallel',
      '--batch-size',
      '--sort',
      '--random-source',
    ],
    pathValue: ['--files0-from', '--random-source'],
    writeValue: ['-o', '--output', '-T', '--temporary-directory'],
    denied: { '--compress-program': 'it runs a program' },
  },
};

/** mkdir, touch, cp, mv, ln, sort, sed: every path written stays in the worktree. */
export function checkWriter(cmd: ShCommand, program: string, env: Env): Check {
  const dyn = literalArgs(cmd, program);
  if (dyn) return dyn;
  if (program === 'sed') return checkSed(cmd, env);
  const scan = scanArgs(cmd.args, WRITERS[program]!, program, env, 'path');
  const ops = scan.operands;
  const targetDir = scan.values.find((v) => v.opt === '-t' || v.opt === '--target-directory');
  const noTarget = scan.options.includes('-T') || scan.options.includes('--no-target-directory');
  const read = (w: ShWord, what: string) => checkPathWord(w, env, { what });
  const write = (w: ShWord, what: string) => checkPathWord(w, env, { what, write: true });
  let d: Deny | null;
  switch (program) {
    case 'mkdir':
    case 'touch':
      for (const w of ops) if ((d = write(w, `${program} operand`))) return d;
      if (ops.length === 0) return new Deny('path', `${program} needs an operand`);
      return verdict('edit');
    case 'sort': {
      for (const w of ops) if (w.value !== '-' && (d = read(w, 'file operand of sort'))) return d;
      const writes = scan.options.some((o) => ['-o', '--output', '-T', '--temporary-directory'].includes(o));
      return verdict(writes ? 'edit' : 'inspect');
    }
    case 'cp':
    case 'mv': {
      if (ops.length < (targetDir ? 1 : 2)) return new Deny('path', `${program} needs a source and a destination`);
      const sources = targetDir || noTarget ? (targetDir ? ops : ops.slice(0, -1)) : ops.slice(0, -1);
      const dest = targetDir ? null : ops[ops.length - 1]!;
      for (const w of sources) if ((d = program === 'mv' ? write(w, 'mv source') : read(w, 'cp source'))) return d;
      if (dest && (d = write(dest, `${program} destination`))) return d;
      return verdict('edit');
    }
    case 'ln': {
      const symbolic = scan.options.some((o) => o === '-s' || o === '--symbolic');
      const targets = targetDir ? ops : ops.length === 1 ? ops : ops.slice(0, -1);
      const linkName = targetDir ? null : ops.length >= 2 ? ops[ops.length - 1]! : null;
      if (targets.length === 0) return new Deny('path', 'ln needs a target');
      if (linkName && (d = write(linkName, 'ln link name'))) return d;
      if (!linkName && !targetDir && (d = checkPathValue('.', env, { what: 'ln link directory', write: true }))) return d;
      // A symbolic link's target is resolved later, from the link's directory, by whoever follows it.
      const linkDir = targetDir
        ? targetDir.word.value
        : linkName
          ? isDir(linkName.value, env)
            ? linkName.value
            : path.dirname(linkName.value)
          : '.';
      const from = symbolic ? resolveReal(env.cwd, linkDir) : env.cwd;
      for (const t of targets) {
        if (t.glob || t.brace || t.tilde) return new Deny('path', `ln target ${q(t.text)} must be a literal path`);
        const d1 = checkPathValue(t.value, env, {
          what: symbolic ? 'symbolic link target' : 'hard link target',
          from,
          within: env.cwd,
          withinName: 'worktree (links are followed by later commands)',
        });
        if (d1) return d1;
      }
      return verdict('edit');
    }
    default:
      return new Deny('program', `${program} has no rules`);
  }
}

function isDir(p: string, env: Env): boolean {
  try {
    return fs.statSync(resolveReal(env.cwd, p)).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- sed

/**
 * sed: `-i` edits files in the worktree only; the script may only use commands that
 * neither run programs (`e`, `s///e`) nor read or write other files (`r`, `R`, `w`, `W`, `s///w`).
 */
function checkSed(cmd: ShCommand, env: Env): Check {
  const scan = scanArgs(
    cmd.args,
    {
      valueShort: 'efl',
      valueLong: ['--expression', '--file', '--line-length'],
      denied: {
        '-f': 'a script file is not checked; give the script inline',
        '--file': 'a script file is not checked; give the script inline',
      },
    },
    'sed',
    env,
    'path',
  );
  const scripts = scan.values.filter((v) => v.opt === '-e' || v.opt === '--expression').map((v) => v.word.value);
  let files = scan.operands;
  if (scripts.length === 0) {
    if (files.length === 0) return new Deny('path', 'sed needs a script');
    scripts.push(files[0]!.value);
    files = files.slice(1);
  }
  for (const s of scripts) {
    const bad = unsafeSedScript(s);
    if (bad) return new Deny('program', `sed script ${q(s)} uses ${bad}, which runs a program or touches other files`);
  }
  const inPlace =
    scan.options.some((o) => o === '-i' || o.startsWith('--in-place')) ||
    cmd.args.some((w) => /^-[a-zA-Z]*i/.test(w.value) && !w.value.startsWith('--'));
  for (const w of files) {
    if (w.value === '-') continue;
    const d = checkPathWord(w, env, { what: 'sed file', write: inPlace });
    if (d) return d;
  }
  return verdict(inPlace ? 'edit' : 'inspect');
}

/**
 * True when the bracket expression starting at `script[at]` (`[`) holds `delim` or does not end:
 * GNU sed reads a delimiter inside brackets as a literal (`s/[/]x/cmd/e` runs cmd), a plain scan would not.
 */
function bracketHoldsDelim(script: string, at: number, delim: string): boolean {
  let j = at + 1;
  if (script[j] === '^') j++;
  if (script[j] === ']') j++;
  while (j < script.length && script[j] !== ']') {
    if (script[j] === '[' && /[:.=]/.test(script[j + 1] ?? '')) {
      const end = script.indexOf(`${script[j + 1]}]`, j + 2);
      if (end < 0) return true;
      if (script.slice(j, end).includes(delim)) return true;
      j = end + 2;
      continue;
    }
    if (script[j] === delim || script[j] === '\n') return true;
    j++;
  }
  return j >= script.length;
}

/** A conservative sed script reader: returns the first unsafe command, or null. */
export function unsafeSedScript(script: string): string | null {
  let i = 0;
  const n = script.length;
  let ambiguous = false;
  const skipAddr = () => {
    for (let k = 0; k < 2; k++) {
      while (i < n && /[0-9$~+]/.test(script[i]!)) i++;
      if (script[i] === '/' || script[i] === '\\') {
        const delim = script[i] === '\\' ? script[++i]! : '/';
        i++;
        while (i < n && script[i] !== delim) {
          if (script[i] === '[' && bracketHoldsDelim(script, i, delim)) ambiguous = true;
          i += script[i] === '\\' ? 2 : 1;
        }
        i++;
        while (i < n && /[IM]/.test(script[i]!)) i++;
      }
      if (script[i] === ',') i++;
      else break;
    }
    while (script[i] === ' ' || script[i] === '!') i++;
  };
  while (i < n) {
    while (i < n && /[\s;{}]/.test(script[i]!)) i++;
    if (i >= n) break;
    if (script[i] === '#') {
      while (i < n && script[i] !== '\n') i++;
      continue;
    }
    skipAddr();
    if (ambiguous) return 'a bracket expression holding the delimiter';
    const c = script[i];
    if (c === undefined) break;
    i++;
    if (c === 's' || c === 'y') {
      const delim = script[i];
      if (delim === undefined || delim === '\n' || delim === '\\') return `an unusual ${c} delimiter`;
      i++;
      for (let part = 0; part < 2; part++) {
        while (i < n && script[i] !== delim) {
          if (c === 's' && part === 0 && script[i] === '[' && bracketHoldsDelim(script, i, delim))
            return 'a bracket expression holding the delimiter';
          i += script[i] === '\\' ? 2 : 1;
        }
        i++;
      }
      if (c === 's') {
        while (i < n && /[gpiImM0-9]/.test(script[i]!)) i++;
        if (i < n && /[ew]/.test(script[i]!)) return `the s///${script[i]} flag`;
      }
      continue;
    }
    if (':btT'.includes(c)) {
      while (i < n && !/[;\n]/.test(script[i]!)) i++;
      continue;
    }
    if ('aic'.includes(c)) {
      while (i < n && script[i] !== '\n') i++;
      continue;
    }
    if ('dDpPnNgGhHxlq=QzF'.includes(c) || c === 'v') {
      while (i < n && /[0-9 ]/.test(script[i]!)) i++;
      continue;
    }
    return `the \`${c}\` command`;
  }
  return null;
}

const TEST_FILE_OPS = new Set([
  '-e',
  '-f',
  '-d',
  '-r',
  '-w',
  '-x',
  '-s',
  '-L',
  '-h',
  '-b',
  '-c',
  '-p',
  '-S',
  '-O',
  '-G',
  '-N',
  '-k',
  '-u',
  '-g',
  '-nt',
  '-ot',
  '-ef',
]);

/** echo, true, pwd, test: builtins that only print or test; `test -v`/`-R` evaluate array subscripts. */
export function checkBuiltin(cmd: ShCommand, program: string, env: Env): Check {
  if (program === 'echo') {
    for (const w of cmd.args) {
      const d = checkParams(w, env.policy, 'echo argument');
      if (d) return d;
    }
    return verdict('inspect');
  }
  for (let i = 0; i < cmd.args.length; i++) {
    const w = cmd.args[i]!;
    if (w.dynamic) return new Deny('dynamic', `argument ${q(w.text)} of ${program} is built at run time`);
    if (program === 'test' && (w.value === '-v' || w.value === '-R'))
      return new Deny('program', `test ${w.value} is not allowed (bash evaluates array subscripts in it)`);
    // A file test on a path outside the base dir would tell what exists there.
    const next = cmd.args[i + 1];
    if (program === 'test' && next && TEST_FILE_OPS.has(w.value)) {
      const d = checkPathWord(next, env, { what: `file operand of test ${w.value}` });
      if (d) return d;
    }
  }
  return verdict('inspect');
}
