/** The guard's stable rule ids (docs/policy.md explains each). */
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
  'main-write',
  'codex',
  'package-manager',
  'interpreter',
  'find',
  'path',
  'redirect',
] as const;
export type RuleId = (typeof RULES)[number];
