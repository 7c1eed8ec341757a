/**
 * Differential test: unbash (the guard's parser) against sh-syntax (mvdan/sh, the
 * shfmt parser, compiled to WASM) as an oracle. For every line unbash accepts,
 * sh-syntax must parse it too, agree on the top-level statements (spans and
 * backgrounding), and printing it with mvdan/sh and parsing the result again with
 * unbash must give the same command words. Any disagreement must be a denial.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as shParse, print as shPrint } from 'sh-syntax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWords, parseLine } from '../../src/tools/run-repo-command/parse.js';
import { checkCommand } from '../../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';

const CORPUS = [
  'git status',
  'git log --oneline | head -5',
  '"git" push',
  "g'i't push",
  'git pu\\sh',
  '\\git push',
  "git $'\\x70ush'",
  'git status && git -c x.y=1 push origin main',
  'echo "$(git push)"',
  'echo `git push`',
  "echo 'git push'",
  'codex exec --full-auto "never run git push"',
  'npm test',
  'FOO=1 npm test',
  'GIT_DIR=x git status',
  'ls > /dev/null 2>&1',
  'cat <<EOF\n$(git push)\nEOF',
  "cat <<'EOF'\n$(git push)\nEOF",
  'cat <<<"$(git push)"',
  '(git status; git log) | cat',
  '{ git status; } 2>/dev/null',
  'git status &',
  'git status & git push',
  'cat <(git push)',
  'echo $((1+2))',
  'if true; then git push; fi',
  'f() { git push; }',
  'echo ${X:-$(git push)}',
  'echo "a\\"b" c',
  "echo 'a'\\''b'",
  'git status # ; git push',
  'a=1 b=2 c',
  'echo a\\\nb',
  'echo "$(echo "$(git push)")"',
  'git status;;',
  'git status &&',
  'echo "unterminated',
  '$(echo git) push',
  'git $X',
  'echo {a,b}',
  'ls *.ts',
  'echo ~',
  'time git status',
  '! git diff --quiet',
  'git status |& cat',
  'echo x >| f',
  'echo x &>> f',
  'cat 0<f',
  'echo `echo \\`git push\\``',
  'echo $"x"',
  'a &; b',
  'echo ${#x} ${x%y} ${x/a/b}',
  'echo \\$(git push)',
  'echo "\\$(git push)"',
  'x=$(git push)',
  'coproc git status',
  'echo }',
  'echo {',
  'git status ) ',
  'echo a#b #c',
  "echo $'a\\nb'",
  'echo -- -n',
  'git commit -m "$(cat <<\'EOF\'\nmsg\nEOF\n)"',
];

let base: string;
beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-oracle-'));
  fs.mkdirSync(path.join(base, 'main'));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function oracle(
  line: string,
): Promise<{ ok: true; stmts: Array<[number, number, boolean]>; printed: string } | { ok: false; error: string }> {
  try {
    const file = await shParse(line);
    const stmts = (file.Stmts ?? []).map((s) => [s.Pos.Offset, s.End.Offset, s.Background] as [number, number, boolean]);
    const printed = await shPrint(line, { minify: false });
    return { ok: true, stmts, printed };
  } catch (e) {
    return { ok: false, error: String((e as Error).message ?? e) };
  }
}

describe('differential: unbash vs sh-syntax (mvdan/sh)', () => {
  const policy = () => loadPolicy(defaultPolicyPath());
  it.each(CORPUS)('%j', async (line) => {
    const mine = parseLine(line);
    const accepted = mine.problems.every((p) => p.rule !== 'parse');
    const o = await oracle(line);
    let agree = true;
    const why: string[] = [];
    if (accepted && !o.ok) {
      agree = false;
      why.push(`sh-syntax rejects: ${o.error}`);
    }
    if (accepted && o.ok) {
      // Same set of command words after a round trip through mvdan/sh's printer.
      const again = parseLine(o.printed);
      const a = [...commandWords(mine)].sort();
      const b = [...commandWords(again)].sort();
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        agree = false;
        why.push(`command words differ: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
      const bgMine = mine.problems.some((p) => p.rule === 'background');
      const bgOracle = o.stmts.some((s) => s[2]);
      if (bgMine !== bgOracle) {
        agree = false;
        why.push('background disagreement');
      }
    }
    const decision = checkCommand({ worktree: 'main', command: line }, { baseDir: base, policy: policy() });
    if (!agree) expect({ line, why, allowed: decision.allowed }).toMatchObject({ allowed: false });
    // Lines the oracle rejects must never be allowed.
    if (!o.ok) expect(decision.allowed).toBe(false);
  });
});
