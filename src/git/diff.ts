/**
 * A branch's changes as data: `git diff base...head` (what the branch changed
 * since it forked, whatever moved on the base since) parsed into files and
 * hunks, for `codex-orch runs diff`, its `--json`, and anything that shows a
 * person what a merge would bring in. The parser is pure; one git call feeds it.
 */
import { GitError } from '../errors.js';
import { resolveCommit, runGit } from './repo.js';

export type DiffLineKind = 'context' | 'add' | 'del' | 'note';

export interface DiffLine {
  kind: DiffLineKind;
  /** The line without its leading marker (for `note`: the text after `\ `). */
  text: string;
}

export interface DiffHunk {
  /** The `@@ -a,b +c,d @@ section` line as git wrote it. */
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** The function/section git names after the second `@@` ('' when none). */
  section: string;
  lines: DiffLine[];
}

export type FileChangeStatus = 'added' | 'deleted' | 'modified' | 'renamed' | 'copied';

export interface FileDiff {
  /** The path after the change (the old path for a deletion). */
  path: string;
  /** The path before a rename or copy; otherwise equal to `path`. */
  oldPath: string;
  status: FileChangeStatus;
  binary: boolean;
  /** File modes when git reports them (new file, mode change). */
  oldMode: string | null;
  newMode: string | null;
  additions: number;
  deletions: number;
  hunks: DiffHunk[];
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/;

/** `a/x` → `x`, unquoting git's C-style quoted paths ("a/sp\303\244ce"). */
function stripPrefix(raw: string, prefix: 'a/' | 'b/'): string {
  let p = raw;
  if (p.startsWith('"') && p.endsWith('"')) p = unquote(p.slice(1, -1));
  return p.startsWith(prefix) ? p.slice(prefix.length) : p;
}

function unquote(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = s[++i] ?? '';
    if (/[0-7]/.test(n)) {
      const oct = s.slice(i, i + 3);
      bytes.push(parseInt(oct, 8));
      i += 2;
    } else {
      const map: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', r: '\r', v: '\v' };
      bytes.push(...Buffer.from(map[n] ?? n, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The two paths of a `diff --git a/x b/y` line; ambiguous unquoted paths with spaces are split in the middle. */
function gitLinePaths(rest: string): { a: string; b: string } {
  if (rest.startsWith('"')) {
    const end = rest.indexOf('" ', 1);
    return { a: stripPrefix(rest.slice(0, end + 1), 'a/'), b: stripPrefix(rest.slice(end + 2), 'b/') };
  }
  const bq = rest.indexOf(' "b/');
  if (bq >= 0) return { a: stripPrefix(rest.slice(0, bq), 'a/'), b: stripPrefix(rest.slice(bq + 1), 'b/') };
  // Unquoted: both halves are equal unless renamed (then the rename lines give the real paths).
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest.slice(2, half) === rest.slice(half + 3)) return { a: rest.slice(2, half), b: rest.slice(half + 3) };
  const sp = rest.indexOf(' b/');
  return { a: stripPrefix(rest.slice(0, sp), 'a/'), b: stripPrefix(rest.slice(sp + 1), 'b/') };
}

/**
 * Parses `git diff` output (unified, no colour) into files and hunks. Line
 * counts come from the hunks, so they agree with what is shown. Text that is
 * not a diff yields no files.
 */
export function parseUnifiedDiff(text: string): FileDiff[] {
  const files: FileDiff[] = [];
  let file: FileDiff | undefined;
  let hunk: DiffHunk | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (hunk && (oldLeft > 0 || newLeft > 0 || line.startsWith('\\'))) {
      const marker = line[0];
      if (marker === '+') {
        hunk.lines.push({ kind: 'add', text: line.slice(1) });
        file!.additions++;
        newLeft--;
        continue;
      }
      if (marker === '-') {
        hunk.lines.push({ kind: 'del', text: line.slice(1) });
        file!.deletions++;
        oldLeft--;
        continue;
      }
      if (marker === ' ' || line === '') {
        hunk.lines.push({ kind: 'context', text: line.slice(1) });
        oldLeft--;
        newLeft--;
        continue;
      }
      if (marker === '\\') {
        hunk.lines.push({ kind: 'note', text: line.slice(2) });
        continue;
      }
    }
    if (line.startsWith('diff --git ')) {
      const { a, b } = gitLinePaths(line.slice('diff --git '.length));
      file = {
        path: b,
        oldPath: a,
        status: 'modified',
        binary: false,
        oldMode: null,
        newMode: null,
        additions: 0,
        deletions: 0,
        hunks: [],
      };
      files.push(file);
      hunk = undefined;
      continue;
    }
    if (!file) continue;
    const m = HUNK.exec(line);
    if (m) {
      hunk = {
        header: line,
        oldStart: Number(m[1]),
        oldLines: m[2] === undefined ? 1 : Number(m[2]),
        newStart: Number(m[3]),
        newLines: m[4] === undefined ? 1 : Number(m[4]),
        section: (m[5] ?? '').trim(),
        lines: [],
      };
      oldLeft = hunk.oldLines;
      newLeft = hunk.newLines;
      file.hunks.push(hunk);
      continue;
    }
    if (hunk) continue;
    if (line.startsWith('new file mode ')) {
      file.status = 'added';
      file.newMode = line.slice('new file mode '.length);
    } else if (line.startsWith('deleted file mode ')) {
      file.status = 'deleted';
      file.oldMode = line.slice('deleted file mode '.length);
      file.path = file.oldPath;
    } else if (line.startsWith('old mode ')) file.oldMode = line.slice('old mode '.length);
    else if (line.startsWith('new mode ')) file.newMode = line.slice('new mode '.length);
    else if (line.startsWith('rename from ')) {
      file.status = 'renamed';
      file.oldPath = stripPrefix(line.slice('rename from '.length), 'a/');
    } else if (line.startsWith('rename to ')) file.path = stripPrefix(line.slice('rename to '.length), 'b/');
    else if (line.startsWith('copy from ')) {
      file.status = 'copied';
      file.oldPath = stripPrefix(line.slice('copy from '.length), 'a/');
    } else if (line.startsWith('copy to ')) file.path = stripPrefix(line.slice('copy to '.length), 'b/');
    else if (line.startsWith('Binary files ') || line === 'GIT binary patch') file.binary = true;
  }
  return files;
}

export interface BranchDiff {
  /** The commits compared: the fork point (merge base) and the head. */
  base: string;
  head: string;
  files: FileDiff[];
  /** The unified diff as git wrote it (no colour). */
  text: string;
}

/**
 * What `head` changed since it forked from `base` (`git diff base...head`),
 * run in any worktree of the repository (main/ holds every branch ref).
 */
export async function branchDiff(repoDir: string, base: string, head: string): Promise<BranchDiff> {
  const [baseSha, headSha] = await Promise.all([resolveCommit(repoDir, base), resolveCommit(repoDir, head)]);
  if (!baseSha) throw new GitError(`${base} names no commit in ${repoDir}`, { context: { repoDir, base } });
  if (!headSha)
    throw new GitError(`${head} names no commit in ${repoDir}`, { hint: 'the branch may have been deleted', context: { repoDir, head } });
  const mb = await runGit(repoDir, ['merge-base', baseSha, headSha], { allowFail: true });
  const forkPoint = mb.exitCode === 0 ? mb.stdout.trim() : baseSha;
  const out = await runGit(repoDir, [
    'diff',
    '-M',
    '--no-color',
    '--no-ext-diff',
    '--no-textconv',
    '--end-of-options',
    `${forkPoint}..${headSha}`,
  ]);
  return { base: forkPoint, head: headSha, files: parseUnifiedDiff(out.stdout), text: out.stdout };
}
