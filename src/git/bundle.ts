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

/** The private refs made for bundling and fetching live under this namespace (a fetch always names where a ref goes, so no branch moves by accident). */
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
 *
 * `via` names a ref of `repoDir` (a full name, or `HEAD`) that should point at `tip` already (`HEAD` of
 * the worktree that just committed it, main's head after a merge): the bundle
 * then carries that ref as it is, one git process instead of three, and its
 * header is read back to check that the ref did name `tip`; when it had moved,
 * the bundle is made again the usual way.
 */
export async function createBundle(
  repoDir: string,
  file: string,
  options: { tip: string; name: string; base?: string; via?: string },
): Promise<BundleInfo | null> {
  // A full sha is taken as it is (git itself refuses one that names nothing); a name is resolved first.
  const tip = SHA.test(options.tip) ? options.tip : await resolveCommit(repoDir, options.tip);
  if (!tip) throw new GitError(`cannot bundle ${options.tip}: no such commit in ${repoDir}`, { context: { repoDir, tip: options.tip } });
  const ref = `${BUNDLE_REF_PREFIX}${options.name}`;
  let base: string | null = null;
  if (options.base) {
    base = SHA.test(options.base) ? options.base : await resolveCommit(repoDir, options.base);
    if (!base)
      throw new GitError(`cannot bundle from ${options.base}: no such commit in ${repoDir}`, { context: { repoDir, base: options.base } });
    if (base === tip) return null;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bundle = async (what: string): Promise<boolean> => {
    const r = await runGit(repoDir, ['bundle', 'create', '--quiet', file, what, ...(base ? [`^${base}`] : [])], { allowFail: true });
    if (r.exitCode === 0) return true;
    if (/empty bundle/i.test(r.stderr)) return false;
    throw new GitError(`git bundle create failed in ${repoDir}: ${firstLines(r.stderr || r.stdout)}`, {
      context: { repoDir, file, stderr: r.stderr },
    });
  };
  const info = (carried: string): BundleInfo => ({ file, ref: carried, sha: tip, prerequisites: base ? [base] : [] });
  if (options.via) {
    // An empty bundle here may only mean that the ref moved back to base: the usual way below decides.
    if ((await bundle(options.via)) && readBundleHeader(file).refs.get(options.via) === tip) return info(options.via);
    fs.rmSync(file, { force: true });
  }
  // A bundle names refs, not bare commits: point a private ref at the tip for the moment of bundling.
  await runGit(repoDir, ['update-ref', ref, tip]);
  try {
    if (!(await bundle(ref))) return null;
  } finally {
    await runGit(repoDir, ['update-ref', '-d', ref], { allowFail: true });
  }
  return info(ref);
}

/**
 * `git fetch <file> <refspec>`, the one fetch from a bundle file. The program's
 * git allows no transport at all; reading a bundle file needs the local "file"
 * one, for this fetch alone. Under the repository's lock: fetch checks
 * connectivity against every ref, worktree HEADs included, and a `git worktree
 * add` of this process in flight has a HEAD that names no object yet ("bad
 * object worktrees/…/HEAD"). Not --quiet: that also silences the "rejected
 * (non-fast-forward)" line a refused update is told by.
 */
async function fetchFromBundle(repoDir: string, file: string, refspec: string) {
  return withGitLock(await repoLockKey(repoDir), () =>
    runGit(repoDir, ['-c', 'protocol.file.allow=always', 'fetch', '--no-progress', '--no-tags', '--no-write-fetch-head', file, refspec], {
      allowFail: true,
    }),
  );
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
  const r = await fetchFromBundle(repoDir, file, `+${options.ref}:${into}`);
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
  // The fetch set `into` to what the header names for the ref (forced, so nothing else): read there, not by another git process.
  const got = readBundleHeader(file).refs.get(options.ref);
  if (!got) throw new GitError(`fetching ${options.ref} from ${file} gave nothing`, { context: { repoDir, file } });
  return got;
}

/** What a bundle file's header says: the commits it needs and the refs it carries (v2 and v3 bundles). */
export function readBundleHeader(file: string): { prerequisites: string[]; refs: Map<string, string> } {
  const fd = fs.openSync(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    text = buf.subarray(0, n).toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
  const end = text.indexOf('\n\n');
  const lines = (end < 0 ? '' : text.slice(0, end)).split('\n');
  if (!/^# v[23] git bundle$/.test(lines[0] ?? ''))
    throw new GitError(`${file} is not a git bundle (or its header is over 64 KiB)`, { context: { file } });
  const prerequisites: string[] = [];
  const refs = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line.startsWith('@')) continue; // v3 capabilities
    if (line.startsWith('-')) {
      const sha = line.slice(1).split(' ')[0] ?? '';
      if (SHA.test(sha)) prerequisites.push(sha);
      continue;
    }
    const [sha, ref] = line.split(' ');
    if (sha && ref && SHA.test(sha)) refs.set(ref, sha);
  }
  return { prerequisites, refs };
}

/**
 * Fetches the bundle's `ref` straight into `refs/heads/<branch>`, only if the
 * bundle says that ref is `sha` (read from its header before anything moves)
 * and only forward: the refspec has no `+`, so git creates the branch or
 * fast-forwards it and refuses anything else, and it refuses a branch checked
 * out in a worktree (use `fetchBundle` and move that worktree instead). Like
 * `fetchBundle`, the fetch checks the prerequisites and every object.
 */
export async function fetchBundleIntoBranch(
  repoDir: string,
  file: string,
  options: { ref: string; branch: string; sha: string },
): Promise<void> {
  const said = readBundleHeader(file).refs.get(options.ref);
  if (said !== options.sha) {
    throw new GitError(
      said
        ? `bundle ${file}: ${options.ref} is ${said.slice(0, 10)}, not the reported ${options.sha.slice(0, 10)}`
        : `bundle ${file} has no ref ${options.ref}`,
      { context: { repoDir, file, ref: options.ref } },
    );
  }
  const r = await fetchFromBundle(repoDir, file, `${options.ref}:refs/heads/${options.branch}`);
  if (r.exitCode !== 0) {
    const text = r.stderr || r.stdout;
    const behind = /non-fast-forward|rejected/i.test(text);
    throw new GitError(
      behind
        ? `${options.branch} is not an ancestor of ${options.sha.slice(0, 10)}; a branch is only ever moved forward`
        : `bundle ${file} does not apply to ${repoDir}: ${firstLines(text)}`,
      {
        hint: behind ? undefined : 'the bundle is damaged or this repository lacks the commit it builds on',
        context: { repoDir, file, ref: options.ref, branch: options.branch, stderr: r.stderr },
      },
    );
  }
}

/** Removes the private ref a fetchBundle made (housekeeping; never a branch). */
export async function dropIncoming(repoDir: string, name: string): Promise<void> {
  await runGit(repoDir, ['update-ref', '-d', `${BUNDLE_REF_PREFIX}incoming/${name}`], { allowFail: true });
}
