import { describe, expect, it } from 'vitest';
import { parseNameStatus, parseWorktreeList, taskBranch, worktreePath } from '../../src/git/index.js';
import { GitError } from '../../src/errors.js';

describe('parseWorktreeList', () => {
  it('parses porcelain -z output, including odd paths and flags', () => {
    const text = [
      'worktree /base/main',
      'HEAD 1111111111111111111111111111111111111111',
      'branch refs/heads/main',
      '',
      'worktree /base/task with space',
      'HEAD 2222222222222222222222222222222222222222',
      'branch refs/heads/task-a/b',
      'locked reason here',
      '',
      'worktree /base/gone',
      'HEAD 3333333333333333333333333333333333333333',
      'detached',
      'prunable gitdir file points to non-existent location',
      '',
    ].join('\0');
    expect(parseWorktreeList(text)).toEqual([
      {
        path: '/base/main',
        head: '1111111111111111111111111111111111111111',
        branch: 'main',
        bare: false,
        detached: false,
        locked: false,
        prunable: false,
      },
      {
        path: '/base/task with space',
        head: '2222222222222222222222222222222222222222',
        branch: 'task-a/b',
        bare: false,
        detached: false,
        locked: true,
        prunable: false,
      },
      {
        path: '/base/gone',
        head: '3333333333333333333333333333333333333333',
        branch: null,
        bare: false,
        detached: true,
        locked: false,
        prunable: true,
      },
    ]);
  });
});

describe('parseNameStatus', () => {
  it('parses -z name-status with renames and copies', () => {
    expect(
      parseNameStatus(['M', 'a.ts', 'R087', 'old name.ts', 'new name.ts', 'A', 'b', 'C100', 'x', 'y', 'D', 'z', ''].join('\0')),
    ).toEqual([
      { status: 'M', path: 'a.ts' },
      { status: 'R', path: 'new name.ts', from: 'old name.ts' },
      { status: 'A', path: 'b' },
      { status: 'C', path: 'y', from: 'x' },
      { status: 'D', path: 'z' },
    ]);
  });
});

describe('task names', () => {
  it('maps a slug to task-<slug> inside the base dir and refuses the rest', () => {
    expect(taskBranch('parser-2')).toBe('task-parser-2');
    expect(worktreePath('/base', 'parser-2')).toBe('/base/task-parser-2');
    for (const bad of ['../x', 'a/b', '.hidden', 'a..b', 'x.lock', 'sp ace', 'x'.repeat(101)])
      expect(() => taskBranch(bad)).toThrow(GitError);
  });
});
