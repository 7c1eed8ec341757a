/**
 * Task ids become git names: the worktree `task-<slug>` and its branch. An id
 * is accepted only when it is already close to a slug (letters, digits, `.`,
 * `_`, `-`, starting with a letter or digit, at most 64 characters); the slug
 * lowercases it and folds `.`/`_` runs into `-`, so `Parser_V2` and `parser-v2`
 * would share a worktree — `validatePlan` rejects such pairs.
 */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const TASK_ID_MAX_LENGTH = 64;

export function isSlugSafeId(id: string): boolean {
  return id.length <= TASK_ID_MAX_LENGTH && TASK_ID_PATTERN.test(id) && taskSlug(id).length > 0;
}

export function taskSlug(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The worktree directory name and branch name of a task. */
export function taskWorktreeName(id: string): string {
  return `task-${taskSlug(id)}`;
}
