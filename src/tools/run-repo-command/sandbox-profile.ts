/**
 * Command class (decided by the guard) + where it runs → the sandbox profile.
 *
 *   inspect    nothing writable
 *   edit       the worktree writable, its `.git` pointer and all of `.git` read-only
 *   install    edit + network (lifecycle scripts then run in an edit profile)
 *   git-write  + objects, the worktree's own gitdir, refs/heads and logs; never
 *              config, hooks/, info/, packed-refs (other branches: integrity check)
 *   merge      main/ writable (its `git merge --no-ff` of a task branch), config,
 *              hooks/, info/, packed-refs, tags and remotes read-only
 * In main/ (the user's checkout) edit and install run on a throwaway overlay:
 * tests there cannot change the user's files. The state dir is always hidden.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gitLayout, identityConfigFile, type GitLayout, type IntegrityAllowance } from '../../git/index.js';
import { describeProfile, sandboxEnv, type Sandbox, type SandboxProfile } from '../../sandbox/index.js';
import { gitSubcommand } from './repo-lock.js';
import { PROGRAMS_THAT_RUN_NO_CODE } from './no-code-programs.js';
import type { CommandClass } from './types.js';

export interface ProfileContext {
  baseDir: string;
  /** The worktree directory name inside the base dir (main, task-x). */
  worktree: string;
  /** The real path the command runs in. */
  cwd: string;
  stateDir?: string | undefined;
  secretPaths?: readonly string[];
  extraEnv?: readonly string[];
}

function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function under(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

const GIT_INSPECT = new Set([
  'status',
  'log',
  'diff',
  'show',
  'rev-parse',
  'ls-files',
  'blame',
  'grep',
  'describe',
  'shortlog',
  'cat-file',
  'for-each-ref',
  'show-ref',
  'merge-base',
  'rev-list',
]);
const GIT_WRITE = new Set(['add', 'commit', 'worktree', 'branch']);

/**
 * The class a decision carries; for one that carries none, lines made only of
 * git commands get the git profile they need (git runs no repository code
 * with hooks and fsmonitor off) and everything else the edit profile.
 */
export function effectiveClass(cls: CommandClass | undefined, commands: readonly (readonly string[])[] = [], inMain = false): CommandClass {
  const words = commands.filter((w) => w.length > 0);
  const runsCode = words.some((w) => w[0] !== 'git' && !PROGRAMS_THAT_RUN_NO_CODE.has(w[0] ?? ''));
  // Writable objects and refs for a line that also runs repository code (`git commit … && npm test`)
  // would let that code delete or corrupt them: such a line gets the edit profile (its git write fails).
  if ((cls === 'git-write' || cls === 'merge') && runsCode) return 'edit';
  if (cls) return cls;
  const subs = words.map((w) => gitSubcommand(w));
  const git = subs.filter((s): s is string => s !== undefined);
  if (git.length === 0) return 'edit';
  if (git.length === subs.length && git.every((s) => GIT_INSPECT.has(s))) return 'inspect';
  if (subs.length === 1 && git[0] === 'merge') return 'merge';
  // Git beside file tools only (`mkdir -p x && git add -A && git commit …`): the git profile.
  // In main/ only a line of git alone: there the git profile makes the base dir and main's .git writable.
  if (inMain && git.length !== subs.length) return 'edit';
  if (!runsCode && git.every((s) => GIT_WRITE.has(s) || GIT_INSPECT.has(s)) && git.some((s) => GIT_WRITE.has(s))) return 'git-write';
  return 'edit';
}

/**
 * Tool directories on PATH that a hidden directory would swallow (node under
 * ~/.nvm, ~/.local/bin, pyenv shims, cargo). Only the tool directories come
 * back, never their parents: `~/.cargo` holds registry credentials.
 */
function toolDirs(hidden: string[]): string[] {
  const out = new Set<string>();
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), path.dirname(process.execPath)];
  for (const d of dirs) {
    if (!d || !path.isAbsolute(d)) continue;
    const r = real(d);
    if (!hidden.some((h) => under(r, h))) continue;
    out.add(r);
    const parent = path.dirname(r);
    // A node prefix's bin/ links into ../lib/node_modules (npm, npx, global tools).
    if (path.basename(r) === 'bin' && fs.existsSync(path.join(parent, 'lib', 'node_modules')))
      out.add(path.join(parent, 'lib', 'node_modules'));
    // pyenv's shims call back into the pyenv install; it holds interpreters, no credentials.
    if (path.basename(r) === 'shims') out.add(parent);
    // rustup's proxies in ~/.cargo/bin need the toolchains in ~/.rustup.
    if (r.endsWith(`${path.sep}.cargo${path.sep}bin`) && fs.existsSync(path.join(path.dirname(parent), '.rustup')))
      out.add(path.join(path.dirname(parent), '.rustup'));
  }
  return [...out];
}

export function gitProtected(common: string): string[] {
  return ['config', 'config.worktree', 'hooks', 'info', 'packed-refs', 'refs/tags', 'refs/remotes', 'shallow', 'modules'].map((f) =>
    path.join(common, f),
  );
}

export function sandboxProfile(cls: CommandClass, at: ProfileContext): SandboxProfile {
  const baseDir = real(at.baseDir);
  const cwd = real(at.cwd);
  const wtRoot = real(path.join(baseDir, at.worktree));
  const inMain = at.worktree === 'main';
  const layout = gitLayout(wtRoot);
  const network = cls === 'install';
  const home = process.env.HOME && process.env.HOME !== '/' ? real(process.env.HOME) : undefined;

  const hidden = ['/tmp', '/var/tmp', '/home', '/root', ...(home ? [home] : []), ...(network ? [] : ['/run', '/var/run'])]
    .filter((p) => fs.existsSync(p))
    .map(real);
  // The program's own `.env` (read from its working directory: it holds the OpenAI key) and codex's home are secrets too.
  const ownSecrets = [path.join(process.cwd(), '.env'), ...(process.env.CODEX_HOME ? [process.env.CODEX_HOME] : [])];
  const secrets = [...(at.secretPaths ?? []), ...ownSecrets].filter((p) => fs.existsSync(p)).map(real);
  const stateDir = at.stateDir && fs.existsSync(at.stateDir) ? real(at.stateDir) : undefined;
  // The repository must stay readable (the code, git objects) even when it lives under /tmp or $HOME.
  const reexposed = [
    baseDir,
    ...(layout && !under(real(layout.common), baseDir) ? [real(layout.common)] : []),
    ...toolDirs(hidden),
    identityConfigFile(),
  ];
  if (network) {
    const resolv = real('/etc/resolv.conf');
    if (!resolv.startsWith('/etc/')) reexposed.push(path.dirname(resolv));
  }

  const binds: SandboxProfile['binds'] = [];
  const overlay: string[] = [];
  const rw = (p: string) => binds.push({ path: p, mode: 'rw' });
  const ro = (p: string) => binds.push({ path: p, mode: 'ro' });
  const common = layout ? real(layout.common) : undefined;

  switch (cls) {
    case 'inspect':
    case 'codex':
      break;
    case 'edit':
    case 'install':
      if (inMain) overlay.push(wtRoot);
      else rw(wtRoot);
      break;
    case 'merge':
      rw(wtRoot);
      if (common && !under(common, wtRoot)) rw(common);
      break;
    case 'git-write':
      if (inMain) {
        // `git worktree add ../task-x`, `git branch x`: new entries in the base dir and in .git, nothing of main/'s files.
        rw(baseDir);
        for (const e of fs.readdirSync(baseDir))
          if (e !== 'main' && !(stateDir && real(path.join(baseDir, e)) === stateDir)) ro(path.join(baseDir, e));
        ro(wtRoot);
        if (common) {
          rw(common);
          ro(path.join(common, 'HEAD'));
        }
      } else {
        rw(wtRoot);
        if (common && layout) {
          for (const d of ['refs/heads', 'logs/refs/heads']) fs.mkdirSync(path.join(common, d), { recursive: true });
          rw(path.join(common, 'objects'));
          const gitdir = real(layout.gitdir);
          rw(gitdir);
          // Its index yes; what it points at no: HEAD (which branch the program commits to), commondir, gitdir.
          for (const f of ['HEAD', 'commondir', 'gitdir', 'config.worktree']) ro(path.join(gitdir, f));
          rw(path.join(common, 'refs', 'heads'));
          rw(path.join(common, 'logs'));
        }
      }
      break;
  }
  // Always read-only again, wherever a writable bind put them.
  if (layout && !inMain) ro(path.join(wtRoot, '.git'));
  if (common) for (const p of gitProtected(common)) ro(p);
  if (layout?.linked && cls !== 'git-write') ro(real(layout.gitdir));

  return {
    name: cls,
    network,
    binds,
    hidden: [...new Set([...hidden, ...secrets, ...(stateDir && !under(cwd, stateDir) ? [stateDir] : [])])],
    reexposed: [...new Set(reexposed)],
    overlay,
    gitWrites: cls === 'git-write' || cls === 'merge',
    env: { ...sandboxEnv({ network, extra: at.extraEnv ?? [] }), ...pinnedRepo(cls, layout, wtRoot) },
  };
}

/**
 * With .git writable, git must work on this worktree's repository only: a repository a
 * worker planted below it (`sub/.git` with `gpg.program`, a textconv or filter driver)
 * would otherwise run its code with the real objects and refs writable (`git -C sub commit`).
 */
function pinnedRepo(cls: CommandClass, layout: GitLayout | null, wtRoot: string): Record<string, string> {
  if (!layout || (cls !== 'git-write' && cls !== 'merge')) return {};
  return { GIT_DIR: real(layout.gitdir), GIT_WORK_TREE: wtRoot };
}

/** What a call of this class may change in the repository's refs (the rest is restored). */
export function integrityAllowance(cls: CommandClass, layout: GitLayout | null, mainBranchRef: string | null): IntegrityAllowance {
  // In main/ (`git worktree add -b`, `git branch x`) new branches only: main's own branch does not move.
  if (cls === 'git-write') return { refs: layout?.linked && layout.branchRef ? [layout.branchRef] : [], newBranches: true };
  if (cls === 'merge') return { refs: mainBranchRef ? [mainBranchRef] : [], newBranches: false };
  return { refs: [], newBranches: false };
}

/** What `policy check --explain` shows for an allowed line: its class, the backend and the profile it would run under. */
export function explainSandbox(
  sandbox: Sandbox,
  command: string,
  cls: CommandClass,
  at: ProfileContext,
): { class: CommandClass; backend: string; gaps: readonly string[]; profile: string[]; argv: string[] | string } {
  if (cls === 'codex') {
    return {
      class: cls,
      backend: 'codex worker',
      gaps: [],
      profile: ["runs as a codex worker in codex's own sandbox (see docs/security.md)"],
      argv: 'codex exec …',
    };
  }
  const profile = sandboxProfile(cls, at);
  return {
    class: cls,
    backend: sandbox.backend.description,
    gaps: sandbox.backend.gaps,
    profile: describeProfile(profile),
    argv: sandbox.argv(command, profile, at.cwd),
  };
}
