import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy, type Policy } from '../../src/tools/run-repo-command/policy-file.js';

let base: string;
let policy: Policy;
beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-prop-'));
  fs.mkdirSync(path.join(base, 'main'));
  policy = loadPolicy(defaultPolicyPath());
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

const DENIED = [
  'push',
  'remote',
  'reset',
  'rebase',
  'filter-branch',
  'send-email',
  'update-ref',
  'clone',
  'ls-remote',
  'clean',
  'gc',
  'reflog',
  'credential',
];
const ALLOWED_CMDS = ['git status', 'git log --oneline', 'ls', 'npm test', 'echo hi', 'cat src/a.ts', 'git diff'];
const HARMLESS_GLOBALS = [
  '--no-pager',
  '-p',
  '-P',
  '--no-optional-locks',
  '--literal-pathspecs',
  '-c user.name=x',
  '-c color.ui=false',
  '-c advice.detachedHead=false',
  '--no-replace-objects',
];

/** Quotes or escapes a word in one of several equivalent ways (same value to the shell). */
function obfuscate(word: string, mode: number, split: number): string {
  const cut = Math.max(1, Math.min(word.length - 1, split % word.length || 1));
  const a = word.slice(0, cut);
  const b = word.slice(cut);
  switch (mode % 8) {
    case 0:
      return word;
    case 1:
      return `"${word}"`;
    case 2:
      return `'${word}'`;
    case 3:
      return `${a}'${b}'`;
    case 4:
      return `${a}"${b}"`;
    case 5:
      return [...word].map((c) => (/[a-z]/.test(c) ? `\\${c}` : c)).join('');
    case 6:
      return `$'${word}'`;
    default:
      return `${a}""${b}`;
  }
}

const sep = fc.constantFrom(' && ', ' || ', '; ', ' | ', '\n');
const wrapperFor = fc.constantFrom(
  (s: string) => s,
  (s: string) => `(${s})`,
  (s: string) => `{ ${s}; }`,
  (s: string) => `echo "$(${s})"`,
  (s: string) => `echo \`${s}\``,
  (s: string) => `! ${s}`,
  (s: string) => `cat <<<"$(${s})"`,
);

describe('property: a denied git subcommand in command position stays denied', () => {
  it('under any mix of quoting, escaping, chaining and harmless global options', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DENIED),
        fc.nat(7),
        fc.nat(7),
        fc.nat(20),
        fc.nat(20),
        fc.subarray(HARMLESS_GLOBALS),
        fc.array(fc.constantFrom(...ALLOWED_CMDS), { maxLength: 3 }),
        fc.array(fc.constantFrom(...ALLOWED_CMDS), { maxLength: 3 }),
        sep,
        wrapperFor,
        fc.constantFrom('', ' origin main', ' --force', ' -fdx', ' --hard HEAD~1', ' expire --all', ' --prune=now', ' fill'),
        (sub, gitMode, subMode, s1, s2, globals, before, after, separator, wrap, tail) => {
          // Bare `git remote` only lists the remote names: a read, allowed like `git remote -v`.
          fc.pre(!(sub === 'remote' && tail === ''));
          const git = obfuscate('git', gitMode, s1);
          const subcommand = obfuscate(sub, subMode, s2);
          const inner = [git, ...globals, subcommand].join(' ') + tail;
          const line = [...before, wrap(inner), ...after].join(separator);
          const d = checkCommand({ worktree: 'main', command: line }, { baseDir: base, policy });
          return d.allowed === false;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the same lines with an allowed subcommand are allowed (the generator is not vacuous)', () => {
    fc.assert(
      fc.property(
        fc.nat(7),
        fc.nat(7),
        fc.nat(20),
        fc.nat(20),
        fc.subarray(HARMLESS_GLOBALS),
        sep,
        (gitMode, subMode, s1, s2, globals, separator) => {
          const line = ['git status', [obfuscate('git', gitMode, s1), ...globals, obfuscate('status', subMode, s2)].join(' ')].join(
            separator,
          );
          const d = checkCommand({ worktree: 'main', command: line }, { baseDir: base, policy });
          expect(d).toMatchObject({ allowed: true });
        },
      ),
      { numRuns: 500 },
    );
  });
});
