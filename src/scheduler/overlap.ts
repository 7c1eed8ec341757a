import picomatch from 'picomatch';

/**
 * Whether two tasks' `files` globs could name the same file. Used to keep
 * tasks that might edit the same file from running at the same time, so the
 * answer must be conservative: "overlap" when unsure, "disjoint" only when no
 * path can match both.
 *
 * Meaning of a glob (also `globMatches`, the reference the tests check against):
 * - a glob with no glob characters is a path, and covers that path and
 *   everything under it (`src/parser` means the directory as well as a file);
 *   a trailing `/` means the same;
 * - otherwise picomatch semantics with `dot: true` (a `*` may match `.env`)
 *   and `nocase: true` (case-insensitive file systems exist).
 *
 * The rule: split both globs into `/` segments (`.` and empty segments
 * dropped) and walk them together from the left:
 * - a `**` segment on either side (or anything we do not parse: a `/` inside
 *   braces or an extglob, a backslash escape, a leading `!`) → overlap;
 * - literal vs literal → must be equal (case-insensitively);
 * - literal vs pattern (`*.ts`, `a?c`, `{a,b}`) → picomatch decides that segment;
 * - pattern vs pattern → assumed to intersect;
 * - when one side runs out: a path-like glob covers the rest → overlap;
 *   a pattern matches exactly that depth → overlap only if the other side is
 *   out too (or has nothing but `**` left).
 * So `src/a/**` vs `src/b/**`, `src/*.ts` vs `src/x.md`, `src/*` vs
 * `src/a/b.ts` are disjoint; `src/**` vs anything under `src`, `**` vs
 * anything, and `src/*.ts` vs `src/*.md` overlap (the last one conservatively).
 */

const MATCH_OPTIONS = { dot: true, nocase: true } as const;

type Segment = { kind: 'literal'; text: string } | { kind: 'pattern'; text: string } | { kind: 'globstar' };

interface ParsedGlob {
  segments: Segment[];
  /** Path-like globs cover everything under them. */
  coversSubtree: boolean;
}

const GLOB_CHARS = /[*?[\]{}()]/;

function isLiteralSegment(seg: string): boolean {
  return !GLOB_CHARS.test(seg) && !seg.startsWith('!') && !seg.includes('\\');
}

/** True when the glob has no glob characters at all (a path). */
export function isLiteralGlob(glob: string): boolean {
  return normalizeGlob(glob)
    .split('/')
    .every((seg) => isLiteralSegment(seg));
}

/** Drops `./` prefixes, `.` and empty segments; keeps a trailing `/` as a marker. */
export function normalizeGlob(glob: string): string {
  const trailing = glob.endsWith('/');
  const body = glob
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
  return trailing && body !== '' ? `${body}/` : body;
}

const parseCache = new Map<string, ParsedGlob>();

function parseGlob(raw: string): ParsedGlob {
  const cached = parseCache.get(raw);
  if (cached) return cached;
  const glob = normalizeGlob(raw);
  const segments: Segment[] = [];
  let unparsed = glob.startsWith('!') || glob.includes('\\');
  if (!unparsed) {
    // Split on `/` outside brackets, braces and parentheses; a `/` inside one
    // of them (`{a,b/c}`, `@(x|y/z)`) makes the segment structure unknown.
    let depth = 0;
    let current = '';
    for (const ch of glob) {
      if (ch === '[' || ch === '{' || ch === '(') depth += 1;
      else if ((ch === ']' || ch === '}' || ch === ')') && depth > 0) depth -= 1;
      if (ch === '/' && depth === 0) {
        segments.push(toSegment(current));
        current = '';
      } else if (ch === '/') {
        unparsed = true;
        break;
      } else {
        current += ch;
      }
    }
    if (!unparsed && current !== '') segments.push(toSegment(current));
  }
  if (unparsed) {
    // Keep the literal prefix we are sure of, then treat the rest as `**`.
    // A negated glob (`!src/**`) means "everything else": no prefix at all.
    const prefix: Segment[] = [];
    for (const seg of glob.startsWith('!') ? [] : glob.split('/')) {
      if (!isLiteralSegment(seg)) break;
      prefix.push({ kind: 'literal', text: seg });
    }
    const parsed = { segments: [...prefix, { kind: 'globstar' } as const], coversSubtree: true };
    parseCache.set(raw, parsed);
    return parsed;
  }
  const coversSubtree = glob.endsWith('/') || segments.every((s) => s.kind === 'literal');
  const parsed = { segments, coversSubtree };
  parseCache.set(raw, parsed);
  return parsed;
}

function toSegment(text: string): Segment {
  if (text.includes('**')) return { kind: 'globstar' };
  return isLiteralSegment(text) ? { kind: 'literal', text } : { kind: 'pattern', text };
}

const matcherCache = new Map<string, (s: string) => boolean>();

function segmentMatcher(pattern: string): (s: string) => boolean {
  let m = matcherCache.get(pattern);
  if (!m) {
    m = picomatch(pattern, MATCH_OPTIONS);
    matcherCache.set(pattern, m);
  }
  return m;
}

function segmentsCompatible(a: Segment, b: Segment): boolean {
  if (a.kind === 'literal' && b.kind === 'literal') return a.text.toLowerCase() === b.text.toLowerCase();
  if (a.kind === 'literal' && b.kind === 'pattern') return segmentMatcher(b.text)(a.text);
  if (a.kind === 'pattern' && b.kind === 'literal') return segmentMatcher(a.text)(b.text);
  return true;
}

function onlyGlobstars(segments: Segment[], from: number): boolean {
  for (let k = from; k < segments.length; k += 1) if (segments[k]?.kind !== 'globstar') return false;
  return true;
}

/** Could the two globs match a common path? Conservative (see the module comment). */
export function globPairOverlaps(a: string, b: string): boolean {
  const pa = parseGlob(a);
  const pb = parseGlob(b);
  const n = Math.min(pa.segments.length, pb.segments.length);
  for (let i = 0; i < n; i += 1) {
    const sa = pa.segments[i] as Segment;
    const sb = pb.segments[i] as Segment;
    if (sa.kind === 'globstar' || sb.kind === 'globstar') return true;
    if (!segmentsCompatible(sa, sb)) return false;
  }
  const la = pa.segments.length;
  const lb = pb.segments.length;
  if (la === lb) return true;
  // One side ran out; the other still has segments (deeper paths).
  if (la < lb) return pa.coversSubtree || onlyGlobstars(pb.segments, la);
  return pb.coversSubtree || onlyGlobstars(pa.segments, lb);
}

/** True when any glob of `a` may match a path some glob of `b` matches. `**` overlaps everything. */
export function globsOverlap(a: readonly string[], b: readonly string[]): boolean {
  for (const ga of a) for (const gb of b) if (globPairOverlaps(ga, gb)) return true;
  return false;
}

/** The reference meaning of one `files` glob for a repository-relative path. */
export function globMatches(glob: string, filePath: string): boolean {
  const g = normalizeGlob(glob);
  const p = normalizeGlob(filePath).replace(/\/$/, '');
  if (isLiteralGlob(g)) {
    const base = g.replace(/\/$/, '').toLowerCase();
    const lp = p.toLowerCase();
    return base === '' || lp === base || lp.startsWith(`${base}/`);
  }
  if (g.endsWith('/')) return picomatch(`${g}**`, MATCH_OPTIONS)(p);
  return picomatch(g, MATCH_OPTIONS)(p);
}
