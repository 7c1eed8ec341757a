/** The guard's shared vocabulary: a denial, the context a check runs in, and quoting for reasons. */
import type { Policy } from '../policy-file.js';
import type { CommandClass } from '../types.js';
import type { RuleId } from './rules.js';

/** Thrown or returned by a check: the line is denied by `rule` for `reason`. */
export class Deny {
  constructor(
    readonly rule: RuleId,
    readonly reason: string,
  ) {}
}

/** Where a line runs, resolved once per decision. */
export interface Env {
  /** Real path of the base dir. */
  baseReal: string;
  /** Real path of the worktree the line runs in (its cwd). */
  cwd: string;
  /** The line runs in main/, the user's checkout: nothing may write its working tree but a merge. */
  isMain: boolean;
  /** Real path of the state dir: never a write target. */
  stateReal: string;
  policy: Policy;
  /**
   * `setup` for the repository's own setup commands (package installs allowed);
   * `person` for a line a person runs with `codex-orch exec` (a codex worker they
   * start in main/ may edit it, as codex run by hand would); else `model`.
   */
  purpose: 'model' | 'setup' | 'person';
  /** Set while checking the rest of a line after a command that can create symbolic links (`git checkout`, `cp`, `npm test`, …): names it. */
  afterLinker?: string;
}

/** What a per-program check found out about an allowed command. */
export interface Verdict {
  commandClass: CommandClass;
  gitSubcommand?: string;
  gitDir?: string;
  /** Base-dir worktree names a `git worktree add` creates. */
  worktreesAdded?: string[];
}

/** A per-program check: a denial, or what the allowed command needs. */
export type Check = Deny | Verdict;

export const q = (s: string) => `\`${s.length > 80 ? `${s.slice(0, 77)}...` : s}\``;

/** The class order, weakest first: a line needs its strongest command's class. */
export const CLASS_RANK: Record<CommandClass, number> = { inspect: 0, edit: 1, 'git-write': 2, merge: 3, install: 4, codex: 5 };

export function stronger(a: CommandClass, b: CommandClass): CommandClass {
  return CLASS_RANK[a] >= CLASS_RANK[b] ? a : b;
}

export const verdict = (commandClass: CommandClass, extra: Omit<Verdict, 'commandClass'> = {}): Verdict => ({ commandClass, ...extra });
