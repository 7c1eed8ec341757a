/**
 * `yarn bench merge`: the merge queue and worktree creation against raw git on
 * a generated repository of 10,000 files.
 *
 * - merges: 30 non-conflicting task branches (each touching its own file),
 *   merged through MergeQueue (smoke command `true`) and by a plain shell loop
 *   of `git merge --no-ff`, each in its own fresh copy of the same repository;
 *   two rounds each, alternating, so neither side gets the warmer cache.
 * - worktrees: createWorktree vs raw `git worktree add -b`, alternating.
 * Figures are ratios against the raw baseline measured in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { MergeQueue, createWorktree } from '../src/git/index.js';
import { writeResult } from './write-result.js';

const FILES = 10_000;
const BRANCHES = 30;
const ROUNDS = 3;
const WORKTREES = 4;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 }).trim();
}

function makeTemplate(root: string): string {
  const baseDir = path.join(root, 'template');
  const main = path.join(baseDir, 'main');
  fs.mkdirSync(main, { recursive: true });
  git(main, 'init', '-q', '-b', 'main');
  git(main, 'config', 'user.name', 'Bench');
  git(main, 'config', 'user.email', 'bench@example.invalid');
  git(main, 'config', 'commit.gpgsign', 'false');
  git(main, 'config', 'gc.auto', '0');
  for (let d = 0; d < FILES / 100; d++) {
    const dir = path.join(main, 'src', `mod${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `file${f}.ts`), `export const v${d}_${f} = ${d * 100 + f};\n`);
  }
  git(main, 'add', '-A');
  git(main, 'commit', '-q', '-m', 'generated repository');
  for (let i = 0; i < BRANCHES; i++) {
    const b = `task-b${String(i).padStart(2, '0')}`;
    git(main, 'checkout', '-q', '-b', b, 'main');
    fs.writeFileSync(path.join(main, 'src', `mod${String(i).padStart(3, '0')}`, 'file0.ts'), `export const changed${i} = true;\n`);
    git(main, 'commit', '-q', '-am', `change ${b}`);
  }
  git(main, 'checkout', '-q', 'main');
  return baseDir;
}

function copyOf(template: string, name: string): string {
  const dest = path.join(path.dirname(template), name);
  execFileSync('cp', ['-a', template, dest]);
  return dest;
}

const branches = Array.from({ length: BRANCHES }, (_, i) => `task-b${String(i).padStart(2, '0')}`);

/** The plain shell loop; with `checked`, the same loop preceded by the queue's safety reads (status, added files). */
function rawMerges(baseDir: string, checked = false): number {
  const main = path.join(baseDir, 'main');
  const checks = checked
    ? 'test -z "$(git status --porcelain=v2 -z --untracked-files=all)"; git diff --name-only -z --diff-filter=A HEAD "$b" >/dev/null; '
    : '';
  const script = `set -e; for b in ${branches.join(' ')}; do ${checks}git merge -q --no-ff --no-edit -m "Merge $b: bench" "$b"; done`;
  const t0 = performance.now();
  execFileSync('bash', ['-c', script], { cwd: main, stdio: ['ignore', 'ignore', 'inherit'] });
  const ms = performance.now() - t0;
  if (git(main, 'rev-list', '--count', '--merges', 'HEAD') !== String(BRANCHES)) throw new Error('raw loop did not merge every branch');
  return ms;
}

/** Per-merge phases seen through the queue's decisions: clean check + added-files check, git merge, smoke. */
interface Phases {
  checkMs: number[];
  mergeMs: number[];
  smokeMs: number[];
}

async function queueMerges(baseDir: string, phases: Phases): Promise<number> {
  const main = path.join(baseDir, 'main');
  let last = performance.now();
  const queue = new MergeQueue({
    baseDir,
    dirtyWaitMs: 0,
    onDecision: (d) => {
      const now = performance.now();
      if (d.action === 'merging') phases.checkMs.push(now - last);
      else if (d.action === 'smoke-started') phases.mergeMs.push(now - last);
      else if (d.action === 'merged') phases.smokeMs.push(now - last);
      else return;
      last = now;
    },
    smoke: (dir) =>
      new Promise((resolve) => {
        execFile('true', [], { cwd: dir }, (error) => resolve({ ok: !error, log: '' }));
      }),
  });
  const t0 = performance.now();
  last = t0;
  const outcomes = await Promise.all(branches.map((b) => queue.enqueue(b, { title: 'bench' })));
  const ms = performance.now() - t0;
  const bad = outcomes.filter((o) => o.status !== 'merged');
  if (bad.length > 0) throw new Error(`queue did not merge every branch: ${JSON.stringify(bad[0])}`);
  if (git(main, 'rev-list', '--count', '--merges', 'HEAD') !== String(BRANCHES))
    throw new Error('queue did not make a merge commit per branch');
  return ms;
}

async function worktrees(baseDir: string): Promise<{ raw: number[]; ours: number[] }> {
  const main = path.join(baseDir, 'main');
  const raw: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < WORKTREES; i++) {
    let t0 = performance.now();
    git(main, 'worktree', 'add', '-q', '-b', `raw-${i}`, path.join(baseDir, `raw-${i}`), 'HEAD');
    raw.push(performance.now() - t0);
    t0 = performance.now();
    const wt = await createWorktree(baseDir, `wt${i}`);
    ours.push(performance.now() - t0);
    if (wt.state !== 'new') throw new Error('expected a new worktree');
  }
  return { raw, ours };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[s.length >> 1] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'co-bench-merge-')));
  try {
    let t0 = performance.now();
    const template = makeTemplate(root);
    const generateMs = performance.now() - t0;

    const rawMs: number[] = [];
    const queueMs: number[] = [];
    const checkedMs: number[] = [];
    const phases: Phases = { checkMs: [], mergeMs: [], smokeMs: [] };
    for (let r = 0; r < ROUNDS; r++) {
      rawMs.push(rawMerges(copyOf(template, `raw-${r}`)));
      queueMs.push(await queueMerges(copyOf(template, `queue-${r}`), phases));
      checkedMs.push(rawMerges(copyOf(template, `checked-${r}`), true));
    }
    t0 = performance.now();
    const wt = await worktrees(copyOf(template, 'worktrees'));
    const wtMs = performance.now() - t0;

    const rawPerMin = (BRANCHES * ROUNDS * 60_000) / sum(rawMs);
    const queuePerMin = (BRANCHES * ROUNDS * 60_000) / sum(queueMs);
    const result = {
      files: FILES,
      branches: BRANCHES,
      rounds: ROUNDS,
      generateMs: Math.round(generateMs),
      merges: {
        rawMsPerMerge: round(sum(rawMs) / (BRANCHES * ROUNDS), 1),
        queueMsPerMerge: round(sum(queueMs) / (BRANCHES * ROUNDS), 1),
        rawMergesPerMinute: round(rawPerMin, 1),
        queueMergesPerMinute: round(queuePerMin, 1),
        ratio: round(queuePerMin / rawPerMin),
        target: 0.7,
        pass: queuePerMin / rawPerMin >= 0.7,
        // How much of the gap is the safety check itself (a clean main/ must be proven before each merge).
        rawWithSafetyChecksMsPerMerge: round(sum(checkedMs) / (BRANCHES * ROUNDS), 1),
        ratioVsRawWithSafetyChecks: round(sum(checkedMs) / sum(queueMs)),
        // Median per merge through the queue, from its decisions: clean check (git status) + added-files
        // check until 'merging', git merge until 'smoke-started', smoke test until 'merged'.
        queuePhaseMedianMs: {
          check: round(median(phases.checkMs), 1),
          merge: round(median(phases.mergeMs), 1),
          smoke: round(median(phases.smokeMs), 1),
        },
        roundsMs: {
          raw: rawMs.map((x) => Math.round(x)),
          queue: queueMs.map((x) => Math.round(x)),
          rawWithSafetyChecks: checkedMs.map((x) => Math.round(x)),
        },
      },
      worktrees: {
        count: WORKTREES,
        rawMsEach: round(sum(wt.raw) / WORKTREES, 1),
        createWorktreeMsEach: round(sum(wt.ours) / WORKTREES, 1),
        ratio: round(sum(wt.ours) / sum(wt.raw)),
        note: 'ratio is time(createWorktree) / time(git worktree add); lower is better',
        totalMs: Math.round(wtMs),
      },
    };
    const file = writeResult('merge', result);
    console.log(
      `merge queue: ${result.merges.queueMergesPerMinute}/min vs raw git ${result.merges.rawMergesPerMinute}/min ` +
        `(ratio ${result.merges.ratio}, target >= 0.7: ${result.merges.pass ? 'ok' : 'MISSED'}); ` +
        `raw loop with the same safety reads: ${result.merges.rawWithSafetyChecksMsPerMerge} ms/merge (queue/that ratio ${result.merges.ratioVsRawWithSafetyChecks})`,
    );
    const ph = result.merges.queuePhaseMedianMs;
    console.log(
      `queue per merge (median ms): check ${ph.check}, merge ${ph.merge}, smoke ${ph.smoke}; raw ${result.merges.rawMsPerMerge} ms/merge`,
    );
    console.log(
      `worktree: createWorktree ${result.worktrees.createWorktreeMsEach} ms vs git worktree add ${result.worktrees.rawMsEach} ms (ratio ${result.worktrees.ratio})`,
    );
    console.log(`written ${file}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
