/**
 * The command guard of run_repo_command: `checkCommand` decides whether a shell
 * line may run in a worktree of the base dir, and which sandbox profile (command
 * class) it needs. Fail closed: anything the parser cannot fully analyse, any value
 * built at run time outside the few positions that allow it, and anything not on an
 * allowlist is denied. The line is parsed once; the allowed decision carries the
 * analysis for the gateway, the log and the report. Rule ids: rules.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseLine, type ShCommand } from '../parse.js';
import { PROGRAMS_THAT_RUN_NO_CODE } from '../no-code-programs.js';
import type { Policy } from '../policy-file.js';
import type { AnalysedCommand, CommandClass, CommandRequest, PolicyDecision } from '../types.js';
import { checkCodex } from './codex.js';
import { Deny, q, stronger, verdict, type Check, type Env, type Verdict } from './deny.js';
import { checkAssignments } from './env.js';
import { checkBuiltin, checkReader, checkWriter } from './files.js';
import { checkGit } from './git.js';
import { checkNode, checkPython } from './interpreters.js';
import { checkPackageManager, checkPip } from './package-managers.js';
import { checkArgShell, inside, realDir, startDecision } from './paths.js';
import { checkRedirect, isWriteRedirect } from './redirects.js';
import { checkTool } from './tools.js';

export { RULES, type RuleId } from './rules.js';
export { HARD_BLOCKED_GIT } from './git.js';
export { isSensitiveEnv } from './env.js';
export { resolveReal, expandGlob } from './paths.js';

/** Programs that run another command or code given as arguments: never allowed. */
export const WRAPPERS = new Set([
  'sh',
  'bash',
  'zsh',
  'dash',
  'ksh',
  'mksh',
  'csh',
  'tcsh',
  'fish',
  'ash',
  'busybox',
  'env',
  'command',
  'builtin',
  'nohup',
  'xargs',
  'nice',
  'timeout',
  'time',
  'watch',
  'script',
  'eval',
  'exec',
  'source',
  '.',
  'sudo',
  'su',
  'doas',
  'stdbuf',
  'ionice',
  'chroot',
  'setsid',
  'flock',
  'parallel',
  'unbuffer',
  'strace',
  'ltrace',
  'gdb',
  'nsenter',
  'unshare',
  'runuser',
  'pkexec',
  'chpst',
  'taskset',
  'trap',
  'fc',
  'coproc',
  'enable',
  'caller',
  'npx',
  'pnpx',
  'bunx',
]);

type Checker = (cmd: ShCommand, program: string, env: Env, single: boolean) => Check;

/** The rule table: which check decides each program (the policy file says which programs exist at all). */
const BY_PROGRAM: Record<string, Checker> = {
  git: (cmd, _p, env) => checkGit(cmd, env),
  codex: (cmd, _p, env, single) => checkCodex(cmd, env, single),
  node: (cmd, _p, env) => checkNode(cmd, env),
  pip: (cmd, p, env) => checkPip(cmd, p, env),
  pip3: (cmd, p, env) => checkPip(cmd, p, env),
  echo: (cmd, p, env) => checkBuiltin(cmd, p, env),
  true: (cmd, p, env) => checkBuiltin(cmd, p, env),
  pwd: (cmd, p, env) => checkBuiltin(cmd, p, env),
  test: (cmd, p, env) => checkBuiltin(cmd, p, env),
  find: (cmd, p, env) => checkReader(cmd, p, env),
  mkdir: (cmd, p, env) => checkWriter(cmd, p, env),
  touch: (cmd, p, env) => checkWriter(cmd, p, env),
  cp: (cmd, p, env) => checkWriter(cmd, p, env),
  mv: (cmd, p, env) => checkWriter(cmd, p, env),
  ln: (cmd, p, env) => checkWriter(cmd, p, env),
  sed: (cmd, p, env) => checkWriter(cmd, p, env),
  sort: (cmd, p, env) => checkWriter(cmd, p, env),
};

function checkerFor(program: string, policy: Policy): Checker {
  const own = BY_PROGRAM[program];
  if (own) return own;
  if (policy.fileCommands.includes(program)) return (cmd, p, env) => checkReader(cmd, p, env);
  if (program in policy.packageManagers) return (cmd, p, env) => checkPackageManager(cmd, p, env);
  if (program in policy.interpreters) return (cmd, p, env) => checkPython(cmd, p, env);
  return (cmd, p, env) => checkTool(cmd, p, env);
}

function checkSimple(cmd: ShCommand, env: Env, single: boolean): Check {
  const d0 = checkAssignments(cmd, env.policy);
  if (d0) return d0;
  const where = cmd.name ? (cmd.name.dynamic ? cmd.name.text : cmd.name.value) : 'the command';
  let writes = false;
  for (const r of cmd.redirects) {
    const d = checkRedirect(r, env, where);
    if (d) return d;
    if (isWriteRedirect(r)) writes = true;
  }
  if (!cmd.name) return verdict(writes ? 'edit' : 'inspect');
  const n = cmd.name;
  if (n.dynamic) return new Deny('dynamic', `the command word ${q(n.text)} is built at run time`);
  if (n.glob || n.brace || n.tilde) return new Deny('dynamic', `the command word ${q(n.text)} is expanded by the shell`);
  const prog = n.value;
  if (prog.includes('/')) return new Deny('program', `${q(prog)} is a path; only bare program names from the allowlist may run`);
  if (WRAPPERS.has(prog)) return new Deny('wrapper', `${q(prog)} runs other commands or code and is never allowed`);
  if (!env.policy.programs.includes(prog))
    return new Deny('program', `${q(prog)} is not an allowed program (allowed: ${env.policy.programs.join(', ')})`);
  if (prog !== 'git' && prog !== 'codex') {
    // Every program: no `~`, and a glob may only expand to names inside the base dir that do not look like options.
    for (const w of cmd.args) {
      const d = checkArgShell(w, env, prog);
      if (d) return d;
    }
  }
  const v = checkerFor(prog, env.policy)(cmd, prog, env, single);
  if (v instanceof Deny) return v;
  return writes ? { ...v, commandClass: stronger(v.commandClass, 'edit') } : v;
}

/** Commands that only make directories, regular files or edit file contents: they cannot plant a symbolic link. */
const NO_LINKS = new Set(['mkdir', 'touch', 'sed', 'sort', 'echo', 'true', 'pwd', 'test']);
/** Git subcommands that do not write the working tree. */
const GIT_NO_WORKTREE = new Set(['add', 'commit', 'branch', 'tag', 'fetch', 'config', 'remote', 'rm']);

/** The name of what an allowed command runs, when it can create files of any kind (symbolic links included), else null. */
function mayCreateLinks(cmd: ShCommand, v: Verdict): string | null {
  if (v.commandClass === 'inspect' || !cmd.name) return null;
  const prog = cmd.name.value;
  if (NO_LINKS.has(prog)) return null;
  if (prog === 'git' && (v.gitSubcommand === undefined || GIT_NO_WORKTREE.has(v.gitSubcommand))) return null;
  return prog === 'git' ? `git ${v.gitSubcommand}` : prog;
}

interface WorktreeOk {
  baseReal: string;
  cwd: string;
  stateReal: string;
}

function checkWorktree(worktree: string, baseDir: string, stateDir: string | undefined): { deny: Deny } | WorktreeOk {
  const bad = (why: string) => ({ deny: new Deny('worktree', `worktree ${q(worktree)} ${why}`) });
  if (typeof worktree !== 'string' || worktree.length === 0)
    return { deny: new Deny('worktree', 'worktree is empty; name a directory directly inside the base dir (e.g. main)') };
  if (path.isAbsolute(worktree) || worktree.includes('/') || worktree.includes('\\'))
    return bad('must be a bare directory name inside the base dir, not a path');
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
  const stateAbs = path.resolve(stateDir ?? path.join(baseDir, '.codex-orchestrator'));
  const stateReal = realDir(stateAbs) ?? stateAbs;
  if (inside(cwd, stateReal)) return bad("is the orchestrator's state dir, not a worktree");
  try {
    if (!fs.statSync(cwd).isDirectory()) return bad('is not a directory');
  } catch {
    return bad('does not exist in the base dir');
  }
  return { baseReal, cwd, stateReal };
}

export interface GuardContext {
  baseDir: string;
  policy: Policy;
  /** The orchestrator's state dir (default `<baseDir>/.codex-orchestrator`): never a write target. */
  stateDir?: string;
  /** `setup` for the repository's own setup commands: package installs from the lockfile are allowed. Default `model`. */
  purpose?: 'model' | 'setup' | 'person';
  /** Dry run: main/ stands in for a planned worktree (its future contents), so main's own write boundary does not apply. */
  standIn?: boolean;
}

/** Decides whether `req.command` may run in `req.worktree` of `ctx.baseDir` under `ctx.policy`. Never throws. */
export function checkCommand(req: CommandRequest, ctx: GuardContext): PolicyDecision {
  try {
    return decide(req, ctx);
  } catch (e) {
    if (e instanceof Deny) return { allowed: false, rule: e.rule, reason: `${e.rule}: ${e.reason}` };
    return { allowed: false, rule: 'parse', reason: `parse: the command could not be analysed (${(e as Error).message})` };
  }
}

const deny = (d: Deny): PolicyDecision => ({ allowed: false, rule: d.rule, reason: `${d.rule}: ${d.reason}` });

function decide(req: CommandRequest, ctx: GuardContext): PolicyDecision {
  startDecision();
  const wt = checkWorktree(req.worktree, ctx.baseDir, ctx.stateDir);
  if ('deny' in wt) return deny(wt.deny);
  if (typeof req.command !== 'string') return deny(new Deny('parse', 'command must be a string'));
  const line = parseLine(req.command);
  if (line.problems.length > 0) {
    const pr = line.problems[0]!;
    return deny(new Deny(pr.rule, pr.message));
  }
  const env: Env = {
    ...wt,
    isMain: wt.cwd === path.join(wt.baseReal, 'main') && !ctx.standIn,
    policy: ctx.policy,
    purpose: ctx.purpose ?? 'model',
  };
  let lineClass: CommandClass = 'inspect';
  for (const r of line.groupRedirects) {
    const d = checkRedirect(r, env, 'a command group');
    if (d) return deny(d);
    if (isWriteRedirect(r)) lineClass = 'edit';
  }
  const commands: AnalysedCommand[] = [];
  const worktreesAdded: string[] = [];
  let codexArgs: string[] | undefined;
  for (const cmd of line.commands) {
    const v = checkSimple(cmd, env, line.single);
    if (v instanceof Deny) return deny(v);
    const linker = mayCreateLinks(cmd, v);
    if (linker && !env.afterLinker) env.afterLinker = `\`${linker}\``;
    lineClass = stronger(lineClass, v.commandClass);
    const program = cmd.name ? cmd.name.value : null;
    commands.push({
      program,
      words: program === null ? [] : [program, ...cmd.args.map((a) => a.value)],
      commandClass: v.commandClass,
      gitSubcommand: v.gitSubcommand,
      gitDir: v.gitDir,
    });
    if (v.worktreesAdded) worktreesAdded.push(...v.worktreesAdded);
    if (program === 'codex') codexArgs = cmd.args.map((a) => a.value);
  }
  // The shell expands a glob when it reaches it: on a line that changes files, the
  // files matched may not be the ones checked (`touch ./-x && git add *`).
  if (line.commands.length > 1 && lineClass !== 'inspect') {
    const globbed = line.commands
      .flatMap((c) => [...c.args, ...c.redirects.flatMap((r) => (r.target ? [r.target] : []))])
      .find((w) => w.glob);
    if (globbed)
      return deny(
        new Deny(
          'dynamic',
          `glob ${q(globbed.text)} on a line that also changes files is not allowed: the shell expands it after the earlier commands ran; run the commands separately`,
        ),
      );
  }
  // A git write makes .git's objects and refs writable for the whole line: a program that runs the
  // repository's code (npm test, make, node…) on that line could delete or corrupt them.
  if (lineClass === 'git-write' || lineClass === 'merge') {
    const runner = commands.find((c) => c.program !== null && c.program !== 'git' && !PROGRAMS_THAT_RUN_NO_CODE.has(c.program));
    if (runner) {
      return deny(
        new Deny(
          'git-denied',
          `${q(runner.program!)} may not run on a line that also writes git metadata (${commands.filter((c) => c.commandClass === lineClass && c.gitSubcommand).map((c) => `git ${c.gitSubcommand}`)[0] ?? 'git'}): it would run with .git writable; run the git command and ${runner.program} as separate calls`,
        ),
      );
    }
  }
  const analysis = { cwd: env.cwd, commands, worktreesAdded };
  if (codexArgs)
    return {
      allowed: true,
      rule: null,
      reason: 'allowed: codex exec runs through the worker layer',
      codexArgs,
      commandClass: 'codex',
      analysis,
    };
  return { allowed: true, rule: null, reason: 'allowed', commandClass: lineClass, analysis };
}
