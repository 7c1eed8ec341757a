/**
 * Git bundles: how branches travel between the orchestrator's machine and
 * agent machines without a shared remote. A bundle is a file; nothing here
 * talks to a network or a remote, and nothing rewrites a branch: an incoming
 * branch only ever moves forward (compare-and-swap on the old value).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from '../errors.js';
import { withGitLock } from './lock.js';
import { firstLines, resolveCommit, runGit } from './repo.js';
import { repoLockKey } from './worktrees.js';

/** Bundles carry refs under this namespace, so fetching one never touches a branch by accident. */
export const BUNDLE_REF_PREFIX = 'refs/codex-orch/';

export interface BundleInfo {
  file: string;
  /** The ref inside the bundle and the commit it names. */
  ref: string;
  sha: string;
  /** Commits the receiver must already have (empty for a full bundle). */
  prerequisites: string[];
}

const SHA = /^[0-9a-f]{40,64}$/;

/**
 * Writes a bundle of `tip` (a commit) to `file` under the ref `refs/codex-orch/<name>`.
 * With `base`, only the commits after it (`base..tip`) are included and the
 * receiver needs `base`; without, the whole history of `tip`. Returns null when
 * `tip` adds nothing to `base` (git refuses empty bundles).
 */
export async function createBundle(
  repoDir: string,
  file: string,
  options: { tip: string; name: string; base?: string },
): Promise<BundleInfo | null> {
  const tip = await resolveCommit(repoDir, options.tip);
  if (!tip) throw new GitError(`cannot bundle ${options.tip}: no such commit in ${repoDir}`, { context: { repoDir, tip: options.tip } });
  const ref = `${BUNDLE_REF_PREFIX}${options.name}`;
  let base: string | null = null;
  if (options.base) {
    base = await resolveCommit(repoDir, options.base);
    if (!base)
      throw new GitError(`cannot bundle from ${options.base}: no such commit in ${repoDir}`, { context: { repoDir, base: options.base } });
    if (base === tip) return null;
  }
  // A bundle names refs, not bare commits: point a private ref at the tip for the moment of bundling.
  await runGit(repoDir, ['update-ref', ref, tip]);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const r = await runGit(repoDir, ['bundle', 'create', '--quiet', file, ref, ...(base ? [`^${base}`] : [])], { allowFail: true });
    if (r.exitCode !== 0) {
      if (/empty bundle/i.test(r.stderr)) return null;
      throw new GitError(`git bundle create failed in ${repoDir}: ${firstLines(r.stderr || r.stdout)}`, {
        context: { repoDir, file, stderr: r.stderr },
      });
    }
  } finally {
    await runGit(repoDir, ['update-ref', '-d', ref], { allowFail: true });
  }
  return { file, ref, sha: tip, prerequisites: base ? [base] : [] };
}

/** `git bundle verify`: the file is a bundle and `repoDir` has every prerequisite. Throws a GitError saying which is wrong. */
export async function verifyBundle(repoDir: string, file: string): Promise<{ refs: Map<string, string> }> {
  const r = await runGit(repoDir, ['bundle', 'verify', '--quiet', file], { allowFail: true });
  if (r.exitCode !== 0) {
    throw new GitError(`bundle ${file} does not verify against ${repoDir}: ${firstLines(r.stderr || r.stdout)}`, {
      hint: 'the bundle is damaged or this repository lacks the commit it builds on',
      context: { repoDir, file, stderr: r.stderr },
    });
  }
  const heads = await runGit(repoDir, ['bundle', 'list-heads', file]);
  const refs = new Map<string, string>();
  for (const line of heads.stdout.split('\n')) {
    const [sha, ref] = line.trim().split(/\s+/);
    if (sha && ref && SHA.test(sha)) refs.set(ref, sha);
  }
  return { refs };
}

/**
 * Fetches the bundle's `ref` into `repoDir` as the private ref
 * `refs/codex-orch/incoming/<name>`; returns the commit. No branch moves.
 * The fetch is the verification: git checks the bundle's header and that
 * `repoDir` has every prerequisite before it reads the pack, and index-pack
 * checks every object it takes in (a separate `git bundle verify` and
 * `list-heads` would only read the same file twice more).
 */
export async function fetchBundle(repoDir: string, file: string, options: { ref: string; name: string }): Promise<string> {
  const into = `${BUNDLE_REF_PREFIX}incoming/${options.name}`;
  // The program's git allows no transport at all; reading a bundle file needs the local "file" one, for this fetch alone.
  // Under the repository's lock: fetch checks connectivity against every ref, worktree HEADs included, and a
  // `git worktree add` of this process in flight has a HEAD that names no object yet ("bad object worktrees/…/HEAD").
  const r = await withGitLock(await repoLockKey(repoDir), () =>
    runGit(
      repoDir,
      ['-c', 'protocol.file.allow=always', 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', file, `+${options.ref}:${into}`],
      { allowFail: true },
    ),
  );
  if (r.exitCode !== 0) {
    const text = r.stderr || r.stdout;
    const missingRef = /couldn't find remote ref/i.test(text);
    throw new GitError(
      missingRef ? `bundle ${file} has no ref ${options.ref}` : `bundle ${file} does not apply to ${repoDir}: ${firstLines(text)}`,
      {
        hint: missingRef ? undefined : 'the bundle is damaged or this repository lacks the commit it builds on',
        context: { repoDir, file, ref: options.ref, stderr: r.stderr },
      },
    );
  }
  const got = await resolveCommit(repoDir, into);
  if (!got) throw new GitError(`fetching ${options.ref} from ${file} gave nothing`, { context: { repoDir, file } });
  return got;
}

/**
 * Points `branch` at `sha` only if it moves forward: creates it when absent,
 * fast-forwards it when `sha` descends from it, and refuses anything else.
 * `expectedOld` (when given) must be the branch's current value (compare-and-swap).
 */
export async function advanceBranch(
  repoDir: string,
  branch: string,
  sha: string,
  expectedOld?: string | null,
): Promise<'created' | 'advanced' | 'unchanged'> {
  const ref = `refs/heads/${branch}`;
  const old = await resolveCommit(repoDir, ref);
  if (expectedOld !== undefined && (expectedOld ?? null) !== old) {
    throw new GitError(`${branch} is at ${old ?? 'nothing'}, expected ${expectedOld ?? 'no branch'}; not moving it`, {
      context: { repoDir, branch, old, expectedOld },
    });
  }
  if (old === sha) return 'unchanged';
  if (old) {
    const ff = await runGit(repoDir, ['merge-base', '--is-ancestor', old, sha], { allowFail: true });
    if (ff.exitCode !== 0) {
      throw new GitError(`${branch} (${old.slice(0, 10)}) is not an ancestor of ${sha.slice(0, 10)}; a branch is only ever moved forward`, {
        context: { repoDir, branch, old, sha },
      });
    }
  }
  await runGit(repoDir, ['update-ref', '-m', 'codex-orchestrator: branch from an agent bundle', ref, sha, old ?? '0'.repeat(sha.length)]);
  return old ? 'advanced' : 'created';
}

/** Removes the private ref a fetchBundle made (housekeeping; never a branch). */
export async function dropIncoming(repoDir: string, name: string): Promise<void> {
  await runGit(repoDir, ['update-ref', '-d', `${BUNDLE_REF_PREFIX}incoming/${name}`], { allowFail: true });
}
