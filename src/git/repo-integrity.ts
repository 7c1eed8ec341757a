/**
 * The repository parts no command may change behind the program's back:
 * `.git/config`, `hooks/`, `info/`, `packed-refs` and every ref. Snapshotted
 * (file contents, no git process) before a gateway call and compared after;
 * what changed and was not allowed is put back from the snapshot and reported.
 * This is the second line behind the sandbox's read-only mounts, and the only
 * one on backends that cannot confine writes.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RepoSnapshot {
  common: string;
  /** Relative path (config, hooks/x, info/x, packed-refs, refs/heads/x) → content; null for a directory marker. */
  files: Map<string, { content: Buffer; mode: number }>;
}

const WATCHED_DIRS = ['hooks', 'info', 'refs'];
const WATCHED_FILES = ['config', 'packed-refs', 'commondir', 'HEAD'];
/** Per linked worktree: what it points at (not its index or logs, which change with every commit). */
const WORKTREE_FILES = ['HEAD', 'commondir', 'gitdir', 'config.worktree'];

function walk(root: string, rel: string, out: Map<string, { content: Buffer; mode: number }>, depth = 0): void {
  if (depth > 32) return;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = path.join(rel, e.name);
    if (e.name.endsWith('.lock')) continue; // transient, git's own
    if (e.isDirectory()) walk(root, r, out, depth + 1);
    else {
      try {
        const full = path.join(root, r);
        const st = fs.lstatSync(full);
        out.set(r, {
          content: st.isSymbolicLink() ? Buffer.from(`symlink:${fs.readlinkSync(full)}`) : fs.readFileSync(full),
          mode: st.mode,
        });
      } catch {
        /* vanished meanwhile */
      }
    }
  }
}

/** Paths that the program's own git moves too (refs, HEADs, worktree metadata): see `programRefWrites`. */
export function isRefState(rel: string): boolean {
  const p = rel.split(path.sep).join('/');
  return p.startsWith('refs/') || p === 'HEAD' || p.startsWith('worktrees/');
}

export function snapshotRepo(common: string): RepoSnapshot {
  const files = new Map<string, { content: Buffer; mode: number }>();
  for (const f of WATCHED_FILES) {
    try {
      const full = path.join(common, f);
      const st = fs.lstatSync(full);
      files.set(f, {
        content: st.isSymbolicLink() ? Buffer.from(`symlink:${fs.readlinkSync(full)}`) : fs.readFileSync(full),
        mode: st.mode,
      });
    } catch {
      /* absent */
    }
  }
  for (const d of WATCHED_DIRS) walk(common, d, files);
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(common, 'worktrees'));
  } catch {
    /* no linked worktrees */
  }
  for (const n of names) {
    for (const f of WORKTREE_FILES) {
      const rel = path.join('worktrees', n, f);
      try {
        files.set(rel, { content: fs.readFileSync(path.join(common, rel)), mode: fs.lstatSync(path.join(common, rel)).mode });
      } catch {
        /* absent */
      }
    }
  }
  return { common, files };
}

export interface IntegrityChange {
  path: string;
  kind: 'added' | 'changed' | 'removed';
}

/**
 * What a call may change: refs it may move (its own branch, main's branch for a
 * merge), and whether it may create new branches (`git branch`, `worktree add -b`).
 */
export interface IntegrityAllowance {
  refs: string[];
  newBranches: boolean;
  /** Packed refs rewritten by git itself when it deletes or packs a ref it may move. */
  packedRefs?: boolean;
}

function allowed(change: IntegrityChange, allow: IntegrityAllowance): boolean {
  const p = change.path.split(path.sep).join('/');
  if (allow.refs.includes(p)) return true;
  // `git worktree add -b x`: a new branch and the new worktree's metadata.
  if (allow.newBranches && change.kind === 'added' && (p.startsWith('refs/heads/') || p.startsWith('worktrees/'))) return true;
  if (allow.packedRefs && p === 'packed-refs') return true;
  return false;
}

/** Compares the repository with a snapshot; returns the changes that were not allowed. */
export function unexpectedChanges(snap: RepoSnapshot, allow: IntegrityAllowance): IntegrityChange[] {
  const now = snapshotRepo(snap.common);
  const changes: IntegrityChange[] = [];
  for (const [p, before] of snap.files) {
    const after = now.files.get(p);
    if (!after) changes.push({ path: p, kind: 'removed' });
    else if (!after.content.equals(before.content) || (after.mode & 0o777) !== (before.mode & 0o777))
      changes.push({ path: p, kind: 'changed' });
  }
  for (const p of now.files.keys()) if (!snap.files.has(p)) changes.push({ path: p, kind: 'added' });
  return changes.filter((c) => !allowed(c, allow));
}

/** Puts the listed paths back as the snapshot had them (removing what was added). */
export function restoreRepo(snap: RepoSnapshot, changes: IntegrityChange[]): string[] {
  const failed: string[] = [];
  for (const c of changes) {
    const full = path.join(snap.common, c.path);
    try {
      if (c.kind === 'added') {
        fs.rmSync(full, { force: true, recursive: true });
      } else {
        const before = snap.files.get(c.path);
        if (!before) continue;
        fs.rmSync(full, { force: true, recursive: true });
        fs.mkdirSync(path.dirname(full), { recursive: true });
        const text = before.content.toString('utf8');
        if (text.startsWith('symlink:')) fs.symlinkSync(text.slice('symlink:'.length), full);
        else fs.writeFileSync(full, before.content, { mode: before.mode & 0o777 });
        fs.chmodSync(full, before.mode & 0o777);
      }
    } catch {
      failed.push(c.path);
    }
  }
  return failed;
}
