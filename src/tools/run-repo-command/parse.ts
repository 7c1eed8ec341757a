/**
 * Shell line → flat list of analysed simple commands, for the command guard.
 *
 * The parser is `unbash` (typed AST, synchronous, never throws). This module is
 * deliberately fail-closed: it walks the AST with an allowlist of node kinds and
 * word parts, and anything it does not fully understand becomes a `problem`, which
 * the policy turns into a denial. Nothing here decides by substring: words are
 * resolved from the AST (quotes and escapes removed), and every command inside a
 * command substitution — in an argument, in double quotes, in an assignment, in a
 * here-doc or here-string, inside a parameter-expansion operand — is analysed as a
 * command of its own.
 *
 * Decisions (see docs/decisions.md):
 * - Control flow (`if`, `for`, `while`, `until`, `case`, `select`, `[[ ]]`, `(( ))`),
 *   function definitions and `coproc` are not analysed: they make the line
 *   unanalysable (rule `parse`). Subshells `( )` and groups `{ }` are analysed.
 * - Arithmetic (`$(( ))`, `$[ ]`) and parameter expansions that evaluate arithmetic,
 *   assign, or re-expand (`${a[i]}`, `${x:o:l}`, `${x:=v}`, `${!x}`, `${x@P}`) are
 *   unanalysable (rule `dynamic`): bash evaluates array subscripts in them, which
 *   can run commands.
 * - Lines with control characters other than tab and newline are unparseable.
 */
import { parse as unbashParse } from 'unbash';
import type {
  Assignment,
  CommandNode,
  DoubleQuotedChild,
  ParameterExpansionPart,
  ParsedScript,
  PipelineNode,
  Redirection,
  Statement,
  Word,
  WordPart,
  AndOr,
  Command,
} from 'unbash';

/** One word after quote and escape removal. `value` is only meaningful when `dynamic` is false. */
export interface ShWord {
  /** The source text of the word. */
  readonly text: string;
  /** The word's value with quotes and escapes resolved (expansions left as source text). */
  readonly value: string;
  /** Contains a parameter expansion, command substitution or locale string: its value is only known at run time. */
  readonly dynamic: boolean;
  /** Contains an unquoted glob (`*`, `?`, `[...]`, extglob): the shell may expand it into file names. */
  readonly glob: boolean;
  /** Contains an unquoted brace expansion (`{a,b}`, `{1..3}`): the shell turns it into several words. */
  readonly brace: boolean;
  /** Begins with (or has after `=`/`:`) an unquoted `~`: the shell expands it to a home directory. */
  readonly tilde: boolean;
  /**
   * For glob words: a glob pattern with every literal (quoted or escaped) character
   * backslash-escaped, so a matcher sees only the unquoted glob characters as special.
   */
  readonly pattern: string;
  /**
   * Names of the shell parameters the word expands outside command substitutions
   * (`$X`, `${X:-…}`, `$_`, `$1`): what a dynamic word can leak or depend on.
   */
  readonly params: readonly string[];
}

export interface ShAssignment {
  readonly name: string;
  readonly text: string;
  /** Null for array assignments (`a=(x y)`). */
  readonly value: ShWord | null;
}

export type RedirectKind = 'file' | 'dup' | 'herestring' | 'heredoc';

export interface ShRedirect {
  readonly op: string;
  /** The file descriptor number written before the operator, or null. */
  readonly fd: number | null;
  /** `{var}>file`: the shell allocates a descriptor and assigns a variable. */
  readonly fdVariable: boolean;
  readonly kind: RedirectKind;
  /** The target word (file, descriptor or here-string); null for here-docs. */
  readonly target: ShWord | null;
  /** The source text of the redirection. */
  readonly text: string;
}

export interface ShCommand {
  /** The command word, or null for a command made only of assignments/redirections. */
  readonly name: ShWord | null;
  readonly args: readonly ShWord[];
  readonly assignments: readonly ShAssignment[];
  readonly redirects: readonly ShRedirect[];
  /** The source text of the command. */
  readonly text: string;
  /** 0 at top level; n inside n levels of command substitution. */
  readonly substitutionDepth: number;
}

export type ProblemRule = 'parse' | 'dynamic' | 'background' | 'wrapper';

export interface ShProblem {
  readonly rule: ProblemRule;
  readonly message: string;
}

export interface ParsedLine {
  readonly source: string;
  /** Every simple command of the line, including those in substitutions, in source order of discovery. */
  readonly commands: readonly ShCommand[];
  /** Redirections attached to compound commands (`( ... ) > f`, `{ ...; } 2>/dev/null`). */
  readonly groupRedirects: readonly ShRedirect[];
  /** Reasons the line cannot be analysed; non-empty means the guard must deny. */
  readonly problems: readonly ShProblem[];
  /** True when the whole line is exactly one simple command: no list, pipe, group, substitution or redirection. */
  readonly single: boolean;
}

const MAX_DEPTH = 16;

/** Characters that make a line unparseable outright (everything below space except tab and newline, and DEL). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

class Analyzer {
  readonly commands: ShCommand[] = [];
  readonly groupRedirects: ShRedirect[] = [];
  readonly problems: ShProblem[] = [];
  /** Where the parameter names of the word being resolved go (null inside substitutions). */
  private sink: string[] | null = null;

  problem(rule: ProblemRule, message: string): void {
    if (this.problems.length < 20) this.problems.push({ rule, message });
  }

  slice(node: { pos: number; end: number }, src: string): string {
    return src.slice(node.pos, node.end);
  }

  script(ast: ParsedScript | undefined, depth: number, src: string): void {
    if (ast === undefined) {
      this.problem('parse', 'a command substitution could not be parsed');
      return;
    }
    if (depth > MAX_DEPTH) {
      this.problem('parse', 'command substitutions are nested too deeply');
      return;
    }
    const outer = this.sink;
    this.sink = null;
    try {
      this.scriptBody(ast, depth, src);
    } finally {
      this.sink = outer;
    }
  }

  private scriptBody(ast: ParsedScript, depth: number, src: string): void {
    if (ast.errors && ast.errors.length > 0) {
      const e = ast.errors[0]!;
      this.problem('parse', `shell syntax error: ${e.message}`);
    }
    // Escaped-backtick scripts own a decoded source; their positions index it.
    const text = ast.source ?? src;
    for (const st of ast.commands) this.statement(st, depth, text);
  }

  statement(st: Statement, depth: number, src: string): void {
    if (st.type !== 'Statement') {
      this.problem('parse', `unsupported shell construct (${(st as { type: string }).type})`);
      return;
    }
    if (st.background) this.problem('background', `\`${this.slice(st, src).trim()}\` runs in the background (&)`);
    this.node(st.command, depth, src);
  }

  node(n: PipelineNode | AndOr | CommandNode, depth: number, src: string): void {
    switch (n.type) {
      case 'Command':
        this.command(n, depth, src);
        return;
      case 'Pipeline':
        for (const p of n.prefixes) {
          if (p.type === 'Time') this.problem('wrapper', '`time` wraps another command');
          else if (p.type !== 'Negation') this.problem('parse', `unsupported pipeline prefix (${(p as { type: string }).type})`);
        }
        for (const c of n.commands) this.node(c, depth, src);
        return;
      case 'AndOr':
        for (const c of n.commands) this.node(c, depth, src);
        return;
      case 'Subshell':
      case 'BraceGroup':
        this.strayParen(n, src);
        for (const st of n.body.commands) this.statement(st, depth, src);
        return;
      case 'Redirected':
        this.node(n.command, depth, src);
        for (const r of n.redirects) this.groupRedirects.push(this.redirect(r, depth, src));
        return;
      case 'Function':
        this.problem('parse', `function definitions are not allowed (\`${this.slice(n, src).slice(0, 60)}\`)`);
        return;
      case 'Coproc':
        this.problem('parse', '`coproc` is not allowed');
        return;
      case 'If':
      case 'For':
      case 'ArithmeticFor':
      case 'While':
      case 'Case':
      case 'Select':
        this.problem('parse', `control flow (${n.type.toLowerCase()}) is not supported; run the commands one at a time`);
        return;
      case 'TestCommand':
        this.problem('parse', '`[[ ... ]]` is not supported; use `test`');
        return;
      case 'ArithmeticCommand':
        this.problem('dynamic', 'arithmetic commands `(( ... ))` are not allowed');
        return;
      default:
        this.problem('parse', `unsupported shell construct (${(n as { type: string }).type})`);
    }
  }

  /** unbash drops a stray `(` after a command (`ls (`) that bash rejects: fail closed on it. */
  strayParen(n: { end: number }, src: string): void {
    if (/^[ \t]*\(/.test(src.slice(n.end, n.end + 64))) this.problem('parse', 'shell syntax error: unexpected `(` after a command');
  }

  command(c: Command, depth: number, src: string): void {
    this.strayParen(c, src);
    const assignments: ShAssignment[] = [];
    const redirects: ShRedirect[] = [];
    const args: ShWord[] = [];
    for (const p of c.prefix) {
      if (p.type === 'Assignment') assignments.push(this.assignment(p, depth, src));
      else redirects.push(this.redirect(p, depth, src));
    }
    const name = c.name ? this.word(c.name, depth, src) : null;
    for (const s of c.suffix) {
      if (s.type === 'Word') args.push(this.word(s, depth, src));
      else if (s.type === 'Assignment') {
        // Only declaration builtins get assignment arguments; keep the text, mark it dynamic (fail closed).
        const a = this.assignment(s, depth, src);
        args.push({ text: a.text, value: a.text, dynamic: true, glob: false, brace: false, tilde: false, pattern: a.text, params: [] });
      } else if (s.type === 'Redirect' || s.type === 'HereDoc' || s.type === 'HereString') redirects.push(this.redirect(s, depth, src));
      else this.problem('parse', `unsupported command part (${(s as { type: string }).type})`);
    }
    this.commands.push({ name, args, assignments, redirects, text: this.slice(c, src), substitutionDepth: depth });
  }

  assignment(a: Assignment, depth: number, src: string): ShAssignment {
    if (a.index) {
      this.word(a.index, depth, src);
      this.problem('dynamic', `array assignment \`${a.text}\` is not allowed`);
    }
    if (a.value.type === 'ArrayValue') {
      for (const el of a.value.elements) this.word(el, depth, src);
      return { name: a.name, text: a.text, value: null };
    }
    if (a.value.type !== 'Word') {
      this.problem('parse', `unsupported assignment value (${(a.value as { type: string }).type})`);
      return { name: a.name, text: a.text, value: null };
    }
    const value = this.word(a.value, depth, src, true);
    return { name: a.name, text: a.text, value };
  }

  redirect(r: Redirection, depth: number, src: string): ShRedirect {
    const text = this.slice(r, src);
    let fd: number | null = null;
    let fdVariable = false;
    if (r.descriptor) {
      if (r.descriptor.type === 'FileDescriptor') fd = r.descriptor.value;
      else fdVariable = true;
    }
    if (r.type === 'HereDoc') {
      if (!r.closing) this.problem('parse', 'here-document is not terminated');
      if (r.delimiter && !r.delimiter.quoted && r.body.parts) this.parts(r.body.parts, depth, src, 'a here-document');
      return { op: r.operator, fd, fdVariable, kind: 'heredoc', target: null, text };
    }
    if (r.type === 'HereString') {
      const target = r.target ? this.word(r.target, depth, src) : null;
      if (!target) this.problem('parse', 'here-string without a word');
      return { op: r.operator, fd, fdVariable, kind: 'herestring', target, text };
    }
    if (r.type !== 'Redirect') {
      this.problem('parse', `unsupported redirection (${(r as { type: string }).type})`);
      return { op: '?', fd, fdVariable, kind: 'file', target: null, text };
    }
    const target = r.target ? this.word(r.target, depth, src) : null;
    if (!target) this.problem('parse', `redirection \`${text}\` has no target`);
    const dupOp = r.operator === '>&' || r.operator === '<&';
    const kind: RedirectKind = dupOp && target !== null && !target.dynamic && /^(\d+-?|-)$/.test(target.value) ? 'dup' : 'file';
    return { op: r.operator, fd, fdVariable, kind, target, text };
  }

  /**
   * Resolves a word. `assignmentValue` enables the tilde rule for `:`-separated
   * assignment values (`PATH=a:~/b`).
   */
  word(w: Word, depth: number, src: string, assignmentValue = false): ShWord {
    if (w.type !== 'Word') {
      this.problem('parse', `unsupported word (${(w as { type: string }).type})`);
      return { text: '', value: '', dynamic: true, glob: false, brace: false, tilde: false, pattern: '', params: [] };
    }
    const text = w.text;
    if (!w.parts) {
      // A word without parts is a plain literal: unbash has resolved escapes into `value`.
      const tilde = literalTilde(text, true, assignmentValue);
      return { text, value: w.value, dynamic: false, glob: false, brace: false, tilde, pattern: escapeGlob(w.value), params: [] };
    }
    const outer = this.sink;
    const params: string[] = outer ?? [];
    this.sink = params;
    try {
      return { ...this.wordParts(w, depth, src, assignmentValue), params };
    } finally {
      this.sink = outer;
    }
  }

  private wordParts(w: Word, depth: number, src: string, assignmentValue: boolean): Omit<ShWord, 'params'> {
    const text = w.text;
    if (!w.parts) return { text, value: w.value, dynamic: false, glob: false, brace: false, tilde: false, pattern: '' };
    let value = '';
    let pattern = '';
    let dynamic = false;
    let glob = false;
    let brace = false;
    let tilde = false;
    w.parts.forEach((p, i) => {
      switch (p.type) {
        case 'Literal':
          value += p.value;
          pattern += escapeGlob(p.value);
          if (literalTilde(p.text, i === 0, assignmentValue)) tilde = true;
          break;
        case 'SingleQuoted':
        case 'AnsiCQuoted':
          value += p.value;
          pattern += escapeGlob(p.value);
          break;
        case 'DoubleQuoted': {
          for (const c of p.parts) {
            if (c.type === 'Literal') {
              value += c.value;
              pattern += escapeGlob(c.value);
            } else {
              dynamic = true;
              value += c.text;
              pattern += escapeGlob(c.text);
              this.expansion(c, depth, src);
            }
          }
          break;
        }
        case 'LocaleString':
          // $"..." is translated at run time through the message catalogue: dynamic.
          dynamic = true;
          value += p.text;
          for (const c of p.parts) if (c.type !== 'Literal') this.expansion(c, depth, src);
          break;
        case 'SimpleExpansion':
        case 'ParameterExpansion':
        case 'CommandExpansion':
        case 'ArithmeticExpansion':
          dynamic = true;
          value += p.text;
          pattern += escapeGlob(p.text);
          this.expansion(p, depth, src);
          break;
        case 'ProcessSubstitution':
          dynamic = true;
          value += p.text;
          this.problem('dynamic', `process substitution \`${p.text.slice(0, 60)}\` is not allowed`);
          this.script(p.script, depth + 1, src);
          break;
        case 'Glob':
          glob = true;
          value += p.value;
          pattern += p.text;
          if (p.kind === 'bracket') this.parts(p.parts, depth, src, 'a glob');
          break;
        case 'ExtendedGlob':
          glob = true;
          value += p.text;
          pattern += p.text;
          if (p.parts) this.parts(p.parts, depth, src, 'a glob');
          break;
        case 'BraceExpansion':
          brace = true;
          value += p.text;
          pattern += p.text;
          if (p.parts) this.parts(p.parts, depth, src, 'a brace expansion');
          break;
        default:
          dynamic = true;
          this.problem('parse', `unsupported word part (${(p as { type: string }).type}) in \`${text.slice(0, 60)}\``);
      }
    });
    return { text, value, dynamic, glob, brace, tilde, pattern };
  }

  /** Walks word parts only to find (and analyse) substitutions and forbidden expansions. */
  parts(parts: readonly (WordPart | DoubleQuotedChild | Word)[], depth: number, src: string, where: string): void {
    for (const p of parts) {
      switch (p.type) {
        case 'Word':
          this.word(p, depth, src);
          break;
        case 'Literal':
        case 'SingleQuoted':
        case 'AnsiCQuoted':
          break;
        case 'Glob':
          if (p.kind === 'bracket') this.parts(p.parts, depth, src, where);
          break;
        case 'ExtendedGlob':
        case 'BraceExpansion':
          if (p.parts) this.parts(p.parts, depth, src, where);
          break;
        case 'DoubleQuoted':
        case 'LocaleString':
          this.parts(p.parts, depth, src, where);
          break;
        case 'SimpleExpansion':
        case 'ParameterExpansion':
        case 'CommandExpansion':
        case 'ArithmeticExpansion':
          this.expansion(p, depth, src);
          break;
        case 'ProcessSubstitution':
          this.problem('dynamic', `process substitution in ${where} is not allowed`);
          this.script(p.script, depth + 1, src);
          break;
        default:
          this.problem('parse', `unsupported part (${(p as { type: string }).type}) in ${where}`);
      }
    }
  }

  expansion(p: DoubleQuotedChild | WordPart, depth: number, src: string): void {
    switch (p.type) {
      case 'SimpleExpansion':
        this.sink?.push(p.text.slice(1));
        return;
      case 'ParameterExpansion':
        this.sink?.push(p.parameter);
        this.parameter(p, depth, src);
        return;
      case 'CommandExpansion':
        this.script(p.script, depth + 1, src);
        return;
      case 'ArithmeticExpansion':
        this.problem('dynamic', `arithmetic expansion \`${p.text.slice(0, 60)}\` is not allowed`);
        return;
      default:
        this.parts([p], depth, src, 'an expansion');
    }
  }

  parameter(p: ParameterExpansionPart, depth: number, src: string): void {
    const bad = (what: string) => this.problem('dynamic', `parameter expansion \`${p.text.slice(0, 60)}\` ${what} is not allowed`);
    if (p.prefix === '!') bad('(indirection)');
    if (p.index) {
      this.word(p.index, depth, src);
      if (p.index.value !== '@' && p.index.value !== '*') bad('(array subscript)');
    }
    const op = p.operation;
    if (!op) return;
    switch (op.type) {
      case 'Default':
        if (op.operator === '=' || op.operator === ':=') bad('(assignment)');
        this.word(op.operand, depth, src);
        return;
      case 'Remove':
        this.word(op.operand, depth, src);
        return;
      case 'Replace':
        this.word(op.pattern, depth, src);
        this.word(op.replacement, depth, src);
        return;
      case 'CaseModification':
        if (op.operand) this.word(op.operand, depth, src);
        return;
      case 'Slice':
        bad('(substring offsets are arithmetic)');
        this.word(op.offset, depth, src);
        if (op.length) this.word(op.length, depth, src);
        return;
      case 'Transform':
        bad('(transformation)');
        return;
      case 'Names':
        return;
      default:
        bad('(unknown operation)');
    }
  }
}

/** True when an unquoted literal's raw text triggers tilde expansion. */
function literalTilde(raw: string, atWordStart: boolean, assignmentValue: boolean): boolean {
  if (atWordStart && raw.startsWith('~')) return true;
  // Bash also expands `~` after `=` in assignment-like words and after `:` in assignment values.
  if (/=~/.test(raw)) return true;
  if (assignmentValue && /:~/.test(raw)) return true;
  return false;
}

/** Escapes glob metacharacters in literal text (used to build matcher patterns). */
export function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\](){}|!@+]/g, (c) => `\\${c}`);
}

/** Parses and analyses a shell command line. Never throws. */
export function parseLine(source: string): ParsedLine {
  const a = new Analyzer();
  if (CONTROL.test(source)) {
    a.problem('parse', 'the command contains control characters');
    return { source, commands: [], groupRedirects: [], problems: a.problems, single: false };
  }
  let ast: ParsedScript;
  try {
    ast = unbashParse(source);
  } catch (e) {
    a.problem('parse', `shell parser failed: ${(e as Error).message}`);
    return { source, commands: [], groupRedirects: [], problems: a.problems, single: false };
  }
  a.script(ast, 0, source);
  if (ast.commands.length === 0 && a.problems.length === 0) a.problem('parse', 'the command is empty');
  const top = ast.commands;
  const single =
    a.problems.length === 0 &&
    top.length === 1 &&
    top[0]!.command.type === 'Command' &&
    !top[0]!.background &&
    a.commands.length === 1 &&
    a.groupRedirects.length === 0 &&
    a.commands[0]!.redirects.length === 0;
  return { source, commands: a.commands, groupRedirects: a.groupRedirects, problems: a.problems, single };
}

/** The resolved command words of a line (first word of every simple command), for tests and oracles. */
export function commandWords(line: ParsedLine): string[] {
  return line.commands.map((c) => (c.name ? (c.name.dynamic ? c.name.text : c.name.value) : ''));
}
