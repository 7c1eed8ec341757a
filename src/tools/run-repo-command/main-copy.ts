/**
 * main/ is the user's: a command that may write there (a test, the merge
 * queue's smoke test) runs on a throwaway copy. bwrap gives a tmp overlay;
 * backends without one get a temporary detached worktree at main's HEAD
 * (outside the base dir), removed afterwards. The user's uncommitted files are
 * not in that copy — the smoke test runs on a clean main anyway.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runGit } from '../../git/index.js';
import type { SandboxRunOptions, SandboxRunResult } from '../../sandbox/index.js';
import type { ProfileContext } from './sandbox-profile.js';

export async function runOnMainCopy(
  command: string,
  at: ProfileContext,
  options: SandboxRunOptions,
  run: (command: string, at: ProfileContext, options: SandboxRunOptions) => Promise<SandboxRunResult>,
): Promise<SandboxRunResult> {
  const mainDir = path.join(at.baseDir, 'main');
  const holder = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-orch-main-copy-'));
  const copy = path.join(holder, 'main-copy');
  try {
    await runGit(mainDir, ['worktree', 'add', '--detach', '--quiet', copy, 'HEAD']);
    const rel = path.relative(fs.realpathSync(mainDir), fs.realpathSync(at.cwd));
    const cwd = path.join(copy, rel.startsWith('..') ? '' : rel);
    const copyAt: ProfileContext = { ...at, baseDir: holder, worktree: 'main-copy', cwd };
    const r = await run(command, copyAt, { ...options, cwd });
    return {
      ...r,
      stderr: `${r.stderr}${r.stderr.endsWith('\n') || r.stderr === '' ? '' : '\n'}[ran on a temporary worktree at main's HEAD: this sandbox has no overlay]\n`,
    };
  } finally {
    await runGit(mainDir, ['worktree', 'remove', '--force', copy], { allowFail: true }).catch(() => undefined);
    fs.rmSync(holder, { recursive: true, force: true });
    await runGit(mainDir, ['worktree', 'prune'], { allowFail: true }).catch(() => undefined);
  }
}
