import { describe, expect, it } from 'vitest';
import { commandWords, parseLine } from '../../src/tools/run-repo-command/parse.js';

// [line, expected command words (resolved), expected problem rule or null]
const WORDS: Array<[string, string[], string | null]> = [
  ['git status', ['git'], null],
  ['"git" push', ['git'], null],
  ["g'i't push", ['git'], null],
  ['\\git push', ['git'], null],
  ["$'git' push", ['git'], null],
  ['git status && npm test', ['git', 'npm'], null],
  ['a; b; c', ['a', 'b', 'c'], null],
  ['a | b |& c', ['a', 'b', 'c'], null],
  ['a || b && c', ['a', 'b', 'c'], null],
  ['(a; b) | { c; }', ['a', 'b', 'c'], null],
  ['echo "$(git push)"', ['echo', 'git'], null],
  ['echo `ls`', ['echo', 'ls'], null],
  ['echo $(a $(b))', ['echo', 'a', 'b'], null],
  ['echo ${X:-$(a)}', ['echo', 'a'], null],
  ['X=$(a) b', ['b', 'a'], null],
  ['cat <<EOF\n$(a)\nEOF', ['cat', 'a'], null],
  ["cat <<'EOF'\n$(a)\nEOF", ['cat'], null],
  ['cat <<<"$(a)"', ['cat', 'a'], null],
  ['ls > "$(a)"', ['ls', 'a'], null],
  ["echo 'git push'", ['echo'], null],
  ['git status # ; git push', ['git'], null],
  ['> out', [''], null],
  ['git status &', ['git'], 'background'],
  ['cat <(a)', ['cat', 'a'], 'dynamic'],
  ['echo $((1))', ['echo'], 'dynamic'],
  ['echo $[1]', ['echo'], 'dynamic'],
  ['if a; then b; fi', [], 'parse'],
  ['for x in a; do b; done', [], 'parse'],
  ['while a; do b; done', [], 'parse'],
  ['until a; do b; done', [], 'parse'],
  ['case x in a) b;; esac', [], 'parse'],
  ['select x in a; do b; done', [], 'parse'],
  ['f() { a; }', [], 'parse'],
  ['function f { a; }', [], 'parse'],
  ['coproc a', [], 'parse'],
  ['[[ a ]]', [], 'parse'],
  ['((x++))', [], 'dynamic'],
  ['time a', ['a'], 'wrapper'],
  ['a &&', ['a'], 'parse'],
  ['a |', ['a'], 'parse'],
  ['"unterminated', [], 'parse'],
  ['$(a', [], 'parse'],
  ['echo ${a[1]}', ['echo'], 'dynamic'],
  ['echo ${!a}', ['echo'], 'dynamic'],
  ['echo ${a:1:2}', ['echo'], 'dynamic'],
  ['echo ${a@P}', ['echo'], 'dynamic'],
  ['echo ${a:=x}', ['echo'], 'dynamic'],
  ['a[1]=x b', ['b'], 'dynamic'],
  ['', [], 'parse'],
  ['a\u0007', [], 'parse'],
  ['a\rb', [], 'parse'],
];

describe('parseLine: command words and problems', () => {
  it.each(WORDS)('%j', (line, words, rule) => {
    const p = parseLine(line);
    if (rule === null) {
      expect(p.problems).toEqual([]);
      expect([...commandWords(p)].sort()).toEqual([...words].sort());
    } else {
      expect(p.problems.map((x) => x.rule)).toContain(rule);
      for (const w of words) expect(commandWords(p)).toContain(w);
    }
  });
});

describe('parseLine: words', () => {
  const first = (line: string) => parseLine(line).commands.find((c) => c.substitutionDepth === 0)!;
  it('resolves quotes and escapes', () => {
    expect(first('git pu\\sh').args[0]!.value).toBe('push');
    expect(first('git "pu"\'sh\'').args[0]!.value).toBe('push');
    expect(first('git "pu\\sh"').args[0]!.value).toBe('pu\\sh');
    expect(first("git $'\\x70ush'").args[0]!.value).toBe('push');
    expect(first('echo a\\ b').args[0]!.value).toBe('a b');
    expect(first('pu\\\nsh').name!.value).toBe('push');
  });
  it('marks dynamic words', () => {
    expect(first('git $X').args[0]!.dynamic).toBe(true);
    expect(first('git "${X}"').args[0]!.dynamic).toBe(true);
    expect(first('git "$(a)"').args[0]!.dynamic).toBe(true);
    expect(first('git $"x"').args[0]!.dynamic).toBe(true);
    expect(first('git \\$X').args[0]!.dynamic).toBe(false);
    expect(first("git '$X'").args[0]!.dynamic).toBe(false);
    expect(first('$X a').name!.dynamic).toBe(true);
  });
  it('marks globs, braces and tilde', () => {
    expect(first('ls *.ts').args[0]!.glob).toBe(true);
    expect(first('ls "*.ts"').args[0]!.glob).toBe(false);
    expect(first('ls \\*.ts').args[0]!.glob).toBe(false);
    expect(first('ls a?').args[0]!.glob).toBe(true);
    expect(first('ls [ab]').args[0]!.glob).toBe(true);
    expect(first('ls @(a|b)').args[0]!.glob).toBe(true);
    expect(first('ls {a,b}').args[0]!.brace).toBe(true);
    expect(first('ls ~').args[0]!.tilde).toBe(true);
    expect(first('ls ~/x').args[0]!.tilde).toBe(true);
    expect(first('ls ~root').args[0]!.tilde).toBe(true);
    expect(first('ls --file=~/x').args[0]!.tilde).toBe(true);
    expect(first('ls "~"').args[0]!.tilde).toBe(false);
    expect(first('ls \\~').args[0]!.tilde).toBe(false);
    expect(first('git log HEAD~1').args[1]!.tilde).toBe(false);
  });
  it('records assignments and redirections', () => {
    const c = first('FOO=1 BAR="x y" npm test > out 2>&1 < in');
    expect(c.assignments.map((a) => [a.name, a.value?.value])).toEqual([
      ['FOO', '1'],
      ['BAR', 'x y'],
    ]);
    expect(c.redirects.map((r) => [r.op, r.fd, r.kind, r.target?.value])).toEqual([
      ['>', null, 'file', 'out'],
      ['>&', 2, 'dup', '1'],
      ['<', null, 'file', 'in'],
    ]);
  });
  it('records redirections of groups', () => {
    const p = parseLine('(a) > out');
    expect(p.groupRedirects.map((r) => r.target?.value)).toEqual(['out']);
  });
  it('single is true only for one plain simple command', () => {
    expect(parseLine('codex exec x').single).toBe(true);
    expect(parseLine('codex exec x; a').single).toBe(false);
    expect(parseLine('codex exec x | a').single).toBe(false);
    expect(parseLine('codex exec x > f').single).toBe(false);
    expect(parseLine('(codex exec x)').single).toBe(false);
    expect(parseLine('codex exec "$(a)"').single).toBe(false);
  });
  it('substitution depth is recorded', () => {
    const p = parseLine('echo $(a $(b))');
    const depth = (n: string) => p.commands.find((c) => c.name?.value === n)!.substitutionDepth;
    expect([depth('echo'), depth('a'), depth('b')]).toEqual([0, 1, 2]);
  });
});

describe('parseLine: parameters a word expands', () => {
  const params = (line: string) =>
    parseLine(line)
      .commands.find((c) => c.substitutionDepth === 0)!
      .args.map((a) => [...a.params]);
  it.each([
    ['echo $X', [['X']]],
    ['echo "$X-${Y}"', [['X', 'Y']]],
    ['echo $_ $1 "$@"', [['_'], ['1'], ['@']]],
    ['echo ${X:-$Y}', [['X', 'Y']]],
    ["echo '$X' plain", [[], []]],
    ['echo "$(echo $X)"', [[]]],
  ])('%j', (line, expected) => {
    expect(params(line)).toEqual(expected);
  });
  it('a substitution keeps its parameters on its own commands', () => {
    const inner = parseLine('echo "$(cat $F)"').commands.find((c) => c.name?.value === 'cat')!;
    expect(inner.args[0]!.params).toEqual(['F']);
  });
});

describe('parseLine: a stray `(` that unbash drops fails closed', () => {
  it.each(['ls (', 'ls ( ; git status', 'ls ( && git push', 'a | b (', '(ls) (', 'echo $(ls ( )'])('%j', (line) => {
    expect(parseLine(line).problems.map((p) => p.rule)).toContain('parse');
  });
  it.each(['ls', '(ls)', 'echo "("', "echo '(' x", 'echo \\(', 'diff <(ls) x', 'echo $(ls)'])('%j has no stray paren problem', (line) => {
    expect(parseLine(line).problems.filter((p) => /unexpected `\(`/.test(p.message))).toEqual([]);
  });
});
