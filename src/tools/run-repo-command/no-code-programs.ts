/**
 * Programs that can run no other program: the only ones that may share a line
 * with a git write (the guard) and that keep such a line in the git-write
 * sandbox profile (the sandbox). Not sed (`e`), sort (`--compress-program`),
 * find (`-exec`) or rg (`--pre`).
 */
export const PROGRAMS_THAT_RUN_NO_CODE: ReadonlySet<string> = new Set([
  'echo',
  'true',
  'test',
  'pwd',
  'mkdir',
  'touch',
  'cp',
  'mv',
  'cat',
  'head',
  'tail',
  'ls',
  'wc',
  'grep',
  'diff',
]);
