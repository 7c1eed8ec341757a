/**
 * git: global options (a `-C` chain that stays in the worktree and out of `.git`,
 * `-c` only for harmless keys), the subcommand allowlist and the hard blocks, then
 * each subcommand's arguments parsed as git parses them (git-args.ts). main/ is the
 * user's checkout: there git may only inspect, fetch, add worktrees and branches,
 * and merge a task branch (`git merge --no-ff <branch>`, `git merge --abort`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gitEnv } from '../../../git/index.js';
import type { ShCommand } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { checkParams } from './env.js';
import { hasOpt, parseGitArgs, READ_PATH_LONG, WRITE_PATH_LONG, type GitArgs, type GitOpt, type GitSpec } from './git-args.js';
import { checkGitConfig } from './git-config.js';
import { matchConfigKey } from './options.js';
import { checkPathValue, checkPathWord, expandGlob, inside, resolveReal, sub } from './paths.js';
import type { CommandClass } from '../types.js';

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

const GIT_HARMLESS_GLOBAL = new Set([
  '-p',
  '--paginate',
  '-P',
  '--no-pager',
  '--no-replace-objects',
  '--literal-pathspecs',
  '--glob-pathspecs',
  '--noglob-pathspecs',
  '--icase-pathspecs',
  '--no-optional-locks',
  '--no-advice',
  '--version',
  '--help',
  '-h',
  '--html-path',
  '--man-path',
  '--info-path',
  '--no-lazy-fetch',
]);
const GIT_DENIED_GLOBAL = [
  '--git-dir',
  '--work-tree',
  '--exec-path',
  '--config-env',
  '--super-prefix',
  '--list-cmds',
  '--attr-source',
  '--bare',
];

/** Options that run a program or write outside the repository, for every subcommand. */
const DANGEROUS: Record<string, string> = {
  '--upload-pack': 'it runs a program',
  '--receive-pack': 'it runs a program',
  '--exec': 'it runs a program',
  '--unsafe-paths': 'it writes outside the repository',
  '--open-files-in-pager': 'it runs a program',
  '--config-env': 'it sets git configuration',
  '--extcmd': 'it runs a program',
  '--tool': 'it runs a program',
  '--directory': 'it moves patched paths',
  '--ignore-other-worktrees': 'it checks out a branch another worktree has checked out',
  '--set-upstream-to': 'it writes .git/config',
  '--set-upstream': 'it writes .git/config',
  '--unset-upstream': 'it writes .git/config',
  '--edit-description': 'it writes .git/config',
  '--update-head-ok': 'it lets fetch move the checked-out branch',
  '--prune-tags': 'it deletes local tags',
  '--refmap': 'it maps fetched refs onto other refs (local branches too)',
};

const MSG = ['-m', '--message'];
const NO_SPEC: GitSpec = {};
const SPECS: Record<string, GitSpec> = {
  commit: { short: 'mFtCc', shortOptional: 'Su', long: ['--squash'], message: MSG, read: ['-F', '-t'] },
  tag: { short: 'mFu', shortOptional: 'n', message: MSG, read: ['-F'] },
  merge: { short: 'mFsX', shortOptional: 'S', message: MSG, read: ['-F'] },
  stash: { short: 'm', message: MSG },
  checkout: { short: 'bB' },
  switch: { short: 'cC' },
  branch: { short: 'u' },
  fetch: { short: 'jo' },
  pull: { short: 'jo', shortOptional: 'S' },
  log: { short: 'nOSGL', shortOptional: 'UMCBl', read: ['-O'] },
  show: { short: 'nOSGL', shortOptional: 'UMCBl', read: ['-O'] },
  diff: { short: 'OSG', shortOptional: 'UMCBl', read: ['-O'] },
  grep: { short: 'efABCm', shortOptional: 'O', read: ['-f'] },
  blame: { short: 'LS', shortOptional: 'MC', read: ['-S'] },
  'cherry-pick': { short: 'mXs', shortOptional: 'S' },
  revert: { short: 'mXs', shortOptional: 'S' },
  apply: { short: 'pC' },
  restore: { short: 's' },
  worktree: { short: 'bB', long: ['--reason', '--expire'] },
  'for-each-ref': {},
  'ls-tree': {},
  shortlog: { shortOptional: 'w' },
};

/** Subcommands that only read. */
const INSPECT = new Set([
  'status',
  'log',
  'show',
  'diff',
  'rev-parse',
  'rev-list',
  'ls-files',
  'ls-tree',
  'for-each-ref',
  'merge-base',
  'grep',
  'blame',
  'shortlog',
  'describe',
  'cat-file',
  'config',
  'help',
  'version',
  'show-ref',
  'name-rev',
  'whatchanged',
  'count-objects',
  'var',
  'check-ignore',
  'check-attr',
  'cherry',
  'range-diff',
]);
/** Subcommands whose operands are pathspecs, where a glob is the user's intent. */
const PATHSPEC = new Set(['add', 'rm', 'ls-files', 'status', 'diff', 'log', 'grep', 'restore', 'checkout', 'blame']);
/** Subcommands main/ allows besides inspection (they write .git, never main's working tree). */
const MAIN_OK = new Set(['fetch', 'worktree', 'branch', 'tag', 'merge', 'stash', 'apply']);

const BRANCH_NAME = /^(?!-)(?!.*\.\.)(?!.*[~^:?*[\\\s@{])[A-Za-z0-9._/-]+$/;

export function checkGit(cmd: ShCommand, env: Env): Check {
  const args = cmd.args;
  const p = env.policy;
  let gitDir = env.cwd;
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.glob || w.brace) return new Deny('dynamic', `git option or subcommand ${q(w.text)} is built at run time`);
    const v = w.value;
    if (!v.startsWith('-')) break;
    if (v === '-C' || (v.startsWith('-C') && !v.startsWith('--'))) {
      const dir = v === '-C' ? args[++i] : sub(w, v.slice(2));
      if (!dir) return new Deny('git-global', 'git -C needs a directory');
      const d = checkPathWord(dir, env, {
        what: 'git -C directory',
        rule: 'git-global',
        from: gitDir,
        within: env.cwd,
        withinName: 'worktree',
        noGit: true,
      });
      if (d) return d;
      // Each -C is taken relative to the one before it, as git does.
      gitDir = resolveReal(gitDir, dir.value);
      continue;
    }
    if (v === '-c' || (v.startsWith('-c') && v.length > 2 && !v.startsWith('--'))) {
      const kvw = v === '-c' ? args[++i] : sub(w, v.slice(2));
      if (!kvw) return new Deny('git-config', 'git -c needs key=value');
      if (kvw.dynamic || kvw.glob || kvw.brace) return new Deny('dynamic', `git -c ${q(kvw.text)} is built at run time`);
      const key = kvw.value.split('=')[0]!;
      if (!matchConfigKey(key, p.git.harmlessConfigKeys)) {
        return new Deny(
          'git-config',
          `git -c ${q(key)} is not an allowed configuration key (allowed: ${p.git.harmlessConfigKeys.join(', ')})`,
        );
      }
      continue;
    }
    if (v === '--namespace' || v.startsWith('--namespace=')) {
      if (v === '--namespace') i++;
      continue;
    }
    const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
    const deniedGlobal = GIT_DENIED_GLOBAL.find((o) => name === o || (name.length >= 4 && o.startsWith(name)));
    if (deniedGlobal)
      return new Deny(
        'git-global',
        `git global option ${q(deniedGlobal)} is not allowed (it points git at another repository, program or configuration)`,
      );
    if (GIT_HARMLESS_GLOBAL.has(v)) continue;
    return new Deny('git-global', `git global option ${q(v)} is not allowed`);
  }
  const inGitDir = { gitDir };
  if (i >= args.length) return verdict('inspect', inGitDir);
  const sc = args[i]!.value;
  const rest = args.slice(i + 1);
  const withSub = (c: CommandClass, extra: object = {}) => verdict(c, { gitSubcommand: sc, gitDir, ...extra });

  if (sc === 'remote') {
    // Reading the remotes is fine; everything else about them stays hard-blocked.
    const words = rest.map((w) => w.value);
    if (
      rest.every((w) => !w.dynamic) &&
      (words.length === 0 ||
        (words.length === 1 && ['-v', '--verbose'].includes(words[0]!)) ||
        (words[0] === 'get-url' && words.length === 2 && BRANCH_NAME.test(words[1]!)))
    ) {
      return withSub('inspect');
    }
  }
  if (HARD_BLOCKED_GIT.has(sc) || sc.startsWith('credential')) {
    return new Deny(
      'git-hard-block',
      `git ${sc} is never allowed (it can publish, change remotes, rewrite history or leak credentials)${sc === 'remote' ? '; only `git remote`, `git remote -v` and `git remote get-url <name>` read them' : ''}`,
    );
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
  if (sc === 'config') {
    const d = checkGitConfig(rest);
    return d ?? withSub('inspect');
  }

  const spec = SPECS[sc] ?? NO_SPEC;
  const parsed = parseGitArgs(rest, spec);
  const d0 = checkCommonArgs(sc, parsed, spec, env, gitDir);
  if (d0) return d0;
  const { opts, operands } = parsed;
  const has = (...names: string[]) => hasOpt(opts, ...names);
  const first = operands[0]?.value;

  if (env.isMain && !INSPECT.has(sc) && !MAIN_OK.has(sc)) {
    return new Deny(
      'main-write',
      `git ${sc} is not allowed in main/: it changes the user's checkout (only \`git merge --no-ff <task-branch>\` and \`git merge --abort\` may); work in a task worktree`,
    );
  }

  switch (sc) {
    case 'branch': {
      if (has('-D', '-M', '-C', '-f', '--force', '-m', '--move', '-c', '--copy', '-u', '-t', '--track')) {
        return new Deny(
          'git-denied',
          'git branch -D/-M/-m/-C/-c/-f/-t/-u is not allowed (it can delete unmerged work, move or copy a branch, or write .git/config); use -d on a task branch',
        );
      }
      const listing =
        operands.length === 0 ||
        has(
          '-l',
          '--list',
          '-a',
          '--all',
          '-r',
          '--remotes',
          '--contains',
          '--no-contains',
          '--merged',
          '--no-merged',
          '--points-at',
          '--show-current',
        );
      if (has('-d', '--delete')) {
        for (const w of operands) {
          if (!/^task[-/]/.test(w.value))
            return new Deny('git-denied', `git branch -d ${q(w.value)}: only the orchestrator's own task branches (task-*) may be deleted`);
        }
        return withSub('git-write');
      }
      if (listing) return withSub('inspect');
      if (!BRANCH_NAME.test(operands[0]!.value))
        return new Deny('git-denied', `git branch ${q(operands[0]!.value)} is not a plain branch name`);
      return withSub('git-write');
    }
    case 'tag': {
      if (has('-d', '--delete', '-f', '--force'))
        return new Deny('git-denied', 'git tag -d/-f is not allowed (local tags may only be created)');
      const listing =
        operands.length === 0 ||
        has('-l', '--list', '-n', '--contains', '--no-contains', '--merged', '--no-merged', '--points-at', '-v', '--verify');
      return withSub(listing ? 'inspect' : 'git-write');
    }
    case 'checkout':
      if (has('-B')) return new Deny('git-denied', 'git checkout -B is not allowed (it resets an existing branch)');
      return withSub('git-write');
    case 'switch':
      if (has('-C', '--force-create')) return new Deny('git-denied', 'git switch -C is not allowed (it resets an existing branch)');
      return withSub('git-write');
    case 'stash':
      if (first === 'clear' || first === 'drop')
        return new Deny('git-denied', `git stash ${first} is not allowed (it destroys stashed work)`);
      if (first === 'list' || first === 'show') return withSub('inspect');
      if (env.isMain)
        return new Deny(
          'main-write',
          `git stash${first ? ` ${first}` : ''} is not allowed in main/: it changes the user's uncommitted work`,
        );
      return withSub('git-write');
    case 'apply':
      for (const w of [...operands, ...parsed.pathspecs]) {
        const d = checkPathWord(w, env, { what: 'git apply patch file', from: gitDir, within: env.cwd, withinName: 'worktree' });
        if (d) return d;
      }
      if (has('--check', '--stat', '--numstat', '--summary') && !has('--apply', '--index', '--cached', '-3', '--3way'))
        return withSub('inspect');
      if (env.isMain) return new Deny('main-write', "git apply is not allowed in main/: it changes the user's checkout");
      return withSub('git-write');
    case 'pull':
      if (!has('--ff-only')) return new Deny('git-denied', 'git pull is only allowed with --ff-only');
      if (has('-r', '--rebase')) return new Deny('git-denied', 'git pull --rebase is not allowed');
      return checkFetch(sc, parsed) ?? withSub('git-write');
    case 'fetch':
      return checkFetch(sc, parsed) ?? withSub('git-write');
    case 'merge':
      return checkMerge(parsed, env) ?? withSub(env.isMain ? 'merge' : 'git-write');
    case 'worktree':
      return checkWorktreeCmd(parsed, env, gitDir, withSub);
    case 'diff':
      for (const w of [...operands, ...parsed.pathspecs]) {
        if (w.value === '-') continue;
        const d = checkPathWord(w, env, { what: 'git diff operand', from: gitDir });
        if (d) return d;
      }
      return withSub(has('--output') ? 'edit' : 'inspect');
    case 'cherry-pick':
    case 'revert':
      if (has('-s', '--strategy') && !strategyOk(opts))
        return new Deny('git-denied', `git ${sc} --strategy is limited to git's built-in strategies`);
      return withSub('git-write');
    case 'grep':
      if (has('-O', '--open-files-in-pager')) return new Deny('git-denied', 'git grep -O is not allowed: it runs a program');
      if (has('--no-index')) return new Deny('git-denied', 'git grep --no-index searches files outside git; use grep -r');
      return withSub('inspect');
    default:
      if (INSPECT.has(sc)) return withSub(has('--output') ? 'edit' : 'inspect');
      return withSub('git-write');
  }
}

/** Checks every subcommand shares: dangerous options, path values, dynamic words, globs. */
function checkCommonArgs(sc: string, parsed: GitArgs, spec: GitSpec, env: Env, gitDir: string): Deny | null {
  for (const w of parsed.dynamic) {
    return new Deny('dynamic', `git ${sc} argument ${q(w.text)} is built at run time (only commit, merge, tag and stash messages may be)`);
  }
  for (const o of parsed.opts) {
    for (const c of o.candidates) {
      if (c in DANGEROUS)
        return new Deny(
          'git-denied',
          `git ${sc} ${q(o.word.value)} is not allowed${o.name !== c ? ` (it abbreviates ${c})` : ''}: ${DANGEROUS[c]}`,
        );
    }
    if (o.value?.dynamic) {
      const d = checkParams(o.value, env.policy, `git ${sc} ${o.name} value`);
      if (d) return d;
    }
    const write = o.candidates.some((c) => WRITE_PATH_LONG.includes(c)) || (spec.write?.includes(o.name) ?? false);
    const read = o.candidates.some((c) => READ_PATH_LONG.includes(c)) || (spec.read?.includes(o.name) ?? false);
    if ((read || write) && o.value) {
      // Git resolves these against its -C directory; the file stays in the worktree (a file from elsewhere could carry a secret into a commit).
      const d = checkPathWord(o.value, env, {
        what: `value of git ${sc} ${o.name}`,
        from: gitDir,
        write,
        within: write ? undefined : env.cwd,
        withinName: 'worktree',
      });
      if (d) return d;
    }
    if (o.value && !read && !write && (o.value.tilde || o.value.brace))
      return new Deny('path', `value ${q(o.value.text)} of git ${sc} ${o.name} is expanded by the shell`);
  }
  for (const w of [...parsed.operands, ...parsed.pathspecs]) {
    if (w.tilde) return new Deny('path', `argument ${q(w.text)} of git ${sc} uses home (~) expansion`);
    if (w.brace) return new Deny('dynamic', `git ${sc} argument ${q(w.text)} uses brace expansion`);
    if (w.glob && !w.dynamic) {
      if (!PATHSPEC.has(sc))
        return new Deny('dynamic', `git ${sc} argument ${q(w.text)} is a glob; the shell would expand it into file names (quote it)`);
      const matches = expandGlob(w.pattern, env.cwd);
      if (matches === null) return new Deny('path', `argument ${q(w.text)} of git ${sc} matches too many files`);
      for (const m of matches) {
        if (m.startsWith('-')) return new Deny('path', `glob ${q(w.text)} of git ${sc} expands to ${q(m)}, which looks like an option`);
        const d = checkPathValue(m, env, { what: `glob match of git ${sc}`, within: env.cwd, withinName: 'worktree', noGit: true });
        if (d) return d;
      }
    }
  }
  return null;
}

const STRATEGIES = ['ort', 'recursive', 'resolve', 'octopus', 'ours', 'subtree'];
function strategyOk(opts: readonly GitOpt[]): boolean {
  return opts
    .filter((o) => o.name === '-s' || o.candidates.includes('--strategy'))
    .every((o) => o.value !== undefined && STRATEGIES.includes(o.value.value));
}

function checkFetch(sc: string, parsed: GitArgs): Deny | null {
  const { opts, operands } = parsed;
  if (hasOpt(opts, '-f', '--force')) return new Deny('git-denied', `git ${sc} --force is not allowed (it can rewrite local branches)`);
  if (hasOpt(opts, '-u'))
    return new Deny('git-denied', `git ${sc} -u (--update-head-ok) is not allowed: it lets fetch move the checked-out branch`);
  if (parsed.pathspecs.length > 0) return new Deny('git-denied', `git ${sc} with \`--\` is not allowed`);
  const repo = operands[0]?.value;
  if (repo !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(repo)) {
    return new Deny('git-denied', `git ${sc} may only use a configured remote name, not ${q(repo)}`);
  }
  for (const w of operands.slice(1)) {
    if (w.value.startsWith('+')) return new Deny('git-denied', `git ${sc} refspec ${q(w.value)} forces a ref update`);
    if (w.value.includes(':'))
      return new Deny(
        'git-denied',
        `git ${sc} refspec ${q(w.value)} names a destination ref; fetch into remote-tracking refs only (\`git ${sc} origin main\`)`,
      );
  }
  return null;
}

const MERGE_OK_MAIN = [
  '--no-ff',
  '-m',
  '--message',
  '--no-edit',
  '-q',
  '--quiet',
  '--log',
  '--no-log',
  '--stat',
  '-n',
  '--no-stat',
  '--signoff',
  '--no-signoff',
  '-v',
  '--verbose',
];
function checkMerge(parsed: GitArgs, env: Env): Deny | null {
  const { opts, operands } = parsed;
  if (hasOpt(opts, '-s', '--strategy') && !strategyOk(opts))
    return new Deny('git-denied', "git merge --strategy is limited to git's built-in strategies");
  if (!env.isMain) return null;
  const abort = opts.length === 1 && hasOpt(opts, '--abort') && operands.length === 0;
  if (abort) return null;
  const bad = opts.find((o) => !MERGE_OK_MAIN.includes(o.name));
  if (bad)
    return new Deny(
      'main-write',
      `git merge ${q(bad.word.value)} is not allowed in main/ (only \`git merge --no-ff <task-branch> [-m <message>]\` and \`git merge --abort\`)`,
    );
  if (!hasOpt(opts, '--no-ff'))
    return new Deny(
      'main-write',
      'git merge in main/ must be `git merge --no-ff <task-branch>` (a merge commit the user can see and revert)',
    );
  if (operands.length !== 1 || parsed.pathspecs.length > 0)
    return new Deny('main-write', 'git merge in main/ merges exactly one task branch');
  const branch = operands[0]!.value;
  if (!BRANCH_NAME.test(branch) || branch === 'HEAD')
    return new Deny('main-write', `git merge in main/: ${q(branch)} is not a plain branch name`);
  const inTheWay = ignoredInTheWay(env.cwd, branch);
  if (inTheWay.length > 0) {
    return new Deny(
      'main-write',
      `git merge ${q(branch)} would silently overwrite ${inTheWay.length} file(s) in main/ that git ignores and the user has not committed (${inTheWay.slice(0, 3).join(', ')}${inTheWay.length > 3 ? ', …' : ''}); leave the merge to the orchestrator's merge queue, or ask the user`,
    );
  }
  return null;
}

/**
 * Files in main/ the merge would replace although git does not track them: git refuses to
 * overwrite untracked files, but ignored ones (a user's `.env`, local config) it replaces without a word.
 */
function ignoredInTheWay(mainDir: string, branch: string): string[] {
  let out: string;
  try {
    out = execFileSync('git', ['diff', '--name-only', '-z', '--no-renames', '--diff-filter=A', 'HEAD', branch, '--'], {
      cwd: mainDir,
      env: gitEnv(mainDir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 15_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch {
    return []; // no such branch: the merge itself fails
  }
  const hit = new Set<string>();
  for (const p of out.split('\0').filter(Boolean)) {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(mainDir, prefix));
      } catch {
        break;
      }
      // The added path itself, or a file where the merge needs a directory.
      if (i === parts.length || !st.isDirectory()) {
        hit.add(prefix);
        break;
      }
    }
  }
  return [...hit];
}

function checkWorktreeCmd(parsed: GitArgs, env: Env, gitDir: string, withSub: (c: CommandClass, extra?: object) => Check): Check {
  const { opts, operands } = parsed;
  const ops = [...operands, ...parsed.pathspecs];
  const action = ops[0]?.value;
  if (action === undefined) return new Deny('git-subcommand', 'git worktree needs a subcommand (list, add, prune)');
  if (action === 'list') return withSub('inspect');
  if (action === 'prune') return withSub('git-write');
  if (action === 'remove' || action === 'move') {
    return new Deny(
      'git-denied',
      `git worktree ${action} is not allowed: it can delete or move another worktree's work (the orchestrator removes worktrees itself)`,
    );
  }
  if (action !== 'add') return new Deny('git-subcommand', `git worktree ${action} is not allowed (allowed: list, add, prune)`);
  if (!env.isMain)
    return new Deny(
      'git-denied',
      'git worktree add is only allowed in main/ (a task worktree may not create branches and worktrees beside itself)',
    );
  if (hasOpt(opts, '-B')) return new Deny('git-denied', 'git worktree add -B is not allowed (it resets an existing branch)');
  if (hasOpt(opts, '-f', '--force'))
    return new Deny('git-denied', 'git worktree add --force is not allowed (it checks out a branch another worktree uses)');
  const target = ops[1];
  if (!target) return new Deny('git-denied', 'git worktree add needs a path');
  if (target.dynamic || target.glob || target.brace || target.tilde)
    return new Deny('dynamic', `git worktree add path ${q(target.text)} must be literal`);
  const resolved = resolveReal(gitDir, target.value);
  if (path.dirname(resolved) !== env.baseReal || path.basename(resolved).startsWith('.') || inside(resolved, env.stateReal)) {
    return new Deny(
      'git-denied',
      `git worktree add path ${q(target.value)} resolves to ${resolved}; a new worktree is a sibling of main/ in the base dir (../task-<slug>)`,
    );
  }
  if (fs.existsSync(resolved)) return new Deny('git-denied', `git worktree add path ${q(target.value)} already exists`);
  // A new worktree's path never exists yet; only another `git worktree add` before it on the line is harmless.
  const envHere = env.afterLinker === '`git worktree`' ? { ...env, afterLinker: undefined } : env;
  const d = checkPathValue(target.value, envHere, {
    what: 'git worktree add path',
    rule: 'git-denied',
    from: gitDir,
    within: env.baseReal,
    withinName: 'base dir',
    write: true,
  });
  if (d) return d;
  return withSub('git-write', { worktreesAdded: [path.basename(resolved)] });
}
