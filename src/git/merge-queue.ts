/**
 * The merge queue: task branches go into main's checked-out branch one at a
 * time, in the order they were enqueued, each as a `--no-ff` merge commit,
 * followed by the smoke test. Every failure path leaves main's branch and
 * working tree as they were or moves history forward only: a conflict is
 * undone with `git merge --abort` (the merge was never committed), a failed
 * smoke test with `git revert -m 1` (a new commit). Nothing here resets,
 * rebases, stashes, checks out, forces or pushes.
 *
 * The user's uncommitted work in main/ is never touched: while main/ has
 * uncommitted changes (untracked files included) or a half-done git operation,
 * the queue waits (bounded, announced through onDecision) and then answers
 * `main-dirty` for that branch. It also refuses a merge that would silently
 * overwrite an ignored file in main/ (git treats ignored files as expendable).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from '../errors.js';
import { gitProcessesIn } from './git-processes.js';
import { withGitLock } from './lock.js';
import { assertIdentity } from './worktrees.js';
import {
  commonGitDir,
  currentBranch,
  firstLines,
  gitDir,
  headSha,
  isAncestor,
  operationInProgress,
  resolveCommit,
  runGit,
  splitZ,
  statusSnapshot,
  unmergedFiles,
  type StatusSnapshot,
} from './repo.js';

export interface SmokeResult {
  ok: boolean;
  log: string;
}

/** Runs the repository's smoke test in main/ (through the guarded gateway; the caller decides how). */
export type SmokeFn = (mainDir: string) => Promise<SmokeResult>;

export interface MergeMeta {
  /** One line for the merge commit message: `Merge <branch>: <title>`. */
  title: string;
  /** The plan's subtask id, carried into decisions. */
  taskId?: string;
}

export type MainDirtyReason =
  | 'uncommitted-changes'
  | 'operation-in-progress'
  | 'ignored-files-in-the-way'
  | 'wrong-branch'
  | 'detached-head'
  | 'index-locked'
  | 'stale-lock';

export type MergeOutcome =
  | { status: 'merged'; branch: string; sha: string; mainSha: string; branchSha: string; alreadyMerged: boolean; smokeLog?: string }
  | { status: 'conflict'; branch: string; files: string[]; mainSha: string; branchSha: string }
  | { status: 'smoke-failed'; branch: string; mergeSha: string; revertSha: string; mainSha: string; branchSha: string; log: string }
  | { status: 'main-dirty'; branch: string; reason: MainDirtyReason; files: string[]; waitedMs: number; message: string }
  | { status: 'error'; branch: string; message: string; error: GitError };

export type MergeDecisionAction =
  'queued' | 'waiting' | 'merging' | 'merged' | 'conflict' | 'smoke-started' | 'smoke-failed' | 'main-dirty' | 'recovered' | 'error';

/** One thing the queue decided and why; the caller appends these to decisions.jsonl. */
export interface MergeDecision {
  at: string;
  /** Enqueue order, from 1 (0: found by `recover` before any branch was enqueued, or for a branch not enqueued). */
  seq: number;
  branch: string;
  taskId?: string;
  action: MergeDecisionAction;
  reason: string;
  sha?: string;
  files?: string[];
}

export interface MergeQueueOptions {
  baseDir: string;
  /** The user's checkout; default `<baseDir>/main`. */
  mainDir?: string;
  /** The branch to merge into; default: whatever main/ has checked out at the first merge. */
  targetBranch?: string;
  smoke?: SmokeFn;
  onDecision?: (d: MergeDecision) => void;
  /**
   * How long the queue waits for main/ to become clean before answering
   * main-dirty (default 5 minutes; 0: do not wait). One budget for the whole
   * queue: once it is spent, a dirty main/ is answered at once.
   */
  dirtyWaitMs?: number;
  /** An index.lock older than this with no git process working in main/ is stale (default 10 minutes). */
  staleLockMs?: number;
  /** How often main/ is looked at while waiting (default 2 s). */
  dirtyPollMs?: number;
  /** Stops waiting for a dirty main/ (the pending merge answers main-dirty). */
  signal?: AbortSignal;
}

interface Item {
  seq: number;
  branch: string;
  meta: MergeMeta;
}

type Clean = { ok: true; snap: StatusSnapshot; waited: boolean } | { ok: false; outcome: MergeOutcome };

export class MergeQueue {
  readonly baseDir: string;
  readonly mainDir: string;
  private readonly smoke: SmokeFn | undefined;
  private readonly onDecisionFn: ((d: MergeDecision) => void) | undefined;
  private readonly dirtyWaitMs: number;
  private readonly dirtyPollMs: number;
  private readonly staleLockMs: number;
  /** When the queue's one wait for a dirty main/ ends (set the first time main/ is seen dirty). */
  private waitDeadline: number | undefined;
  private waitAnnounced = false;
  /** Set when main/ was left in a state this queue must not write over (a merge it could not undo). */
  private haltedBy: string | undefined;
  private readonly signal: AbortSignal | undefined;
  private targetBranch: string | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private inFlight = 0;
  private mainGitDir: string | undefined;
  private commonDir: string | undefined;
  private identityChecked = false;
  /** Branches whose merge this queue reverted, with the revert commit. */
  private readonly reverted = new Map<string, string>();
  /** Enqueued items whose merge has not started yet, in order. */
  private readonly waiting: Item[] = [];
  /** Added paths of the next branch, computed ahead (see prefetchAdded). */
  private prefetched: { mainSha: string; branchSha: string; promise: Promise<string[] | null> } | undefined;

  constructor(options: MergeQueueOptions) {
    this.baseDir = path.resolve(options.baseDir);
    this.mainDir = path.resolve(options.mainDir ?? path.join(this.baseDir, 'main'));
    this.smoke = options.smoke;
    this.onDecisionFn = options.onDecision;
    this.dirtyWaitMs = Math.max(0, options.dirtyWaitMs ?? 5 * 60_000);
    this.dirtyPollMs = Math.max(10, options.dirtyPollMs ?? 2_000);
    this.staleLockMs = Math.max(0, options.staleLockMs ?? 10 * 60_000);
    this.signal = options.signal;
    this.targetBranch = options.targetBranch;
  }

  /** Why the queue stopped for good (a merge it could not undo), or undefined. */
  get halted(): string | undefined {
    return this.haltedBy;
  }

  /** Merges still queued or running. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Queues a branch; resolves when its merge is done, whatever the outcome
   * (never rejects). Merges run strictly one at a time, first in, first out.
   */
  enqueue(branch: string, meta: MergeMeta): Promise<MergeOutcome> {
    const item: Item = { seq: ++this.seq, branch, meta };
    this.inFlight++;
    this.decide(item, 'queued', `position ${this.inFlight} in the merge queue`);
    this.waiting.push(item);
    const run = this.tail.then(() => {
      const at = this.waiting.indexOf(item);
      if (at !== -1) this.waiting.splice(at, 1);
      return this.process(item);
    });
    this.tail = run.catch(() => undefined);
    return run.finally(() => {
      this.inFlight--;
    });
  }

  /** Resolves when every merge enqueued so far is done. */
  async idle(): Promise<void> {
    await this.tail;
  }

  /**
   * Clears a merge of the queue's own that a killed process left half done in
   * main/ (see recoverCutOffMerge), before the first branch is enqueued: a run
   * whose every branch is already merged enqueues none, and a leftover for
   * another branch would make the first merge answer main-dirty. Never
   * rejects; reported through onDecision (`recovered`, seq 0).
   */
  async recover(): Promise<void> {
    const run = this.tail.then(() =>
      withGitLock(`merge:${mainKey(this.mainDir)}`, async () => {
        this.mainGitDir ??= await gitDir(this.mainDir);
        this.commonDir ??= await commonGitDir(this.mainDir);
        this.targetBranch ??= (await currentBranch(this.mainDir)) ?? undefined;
        if (this.targetBranch !== undefined) await this.recoverCutOffMerge();
      }),
    );
    this.tail = run.catch(() => undefined);
    await this.tail;
  }

  /** The revert commit of a branch whose merge this queue reverted after a failed smoke test. */
  revertOf(branch: string): string | undefined {
    return this.reverted.get(branch);
  }

  private decide(item: Item, action: MergeDecisionAction, reason: string, extra: { sha?: string; files?: string[] } = {}): void {
    if (!this.onDecisionFn) return;
    const d: MergeDecision = { at: new Date().toISOString(), seq: item.seq, branch: item.branch, action, reason, ...extra };
    if (item.meta.taskId !== undefined) d.taskId = item.meta.taskId;
    try {
      this.onDecisionFn(d);
    } catch {
      // A failing observer must not stop the queue.
    }
  }

  private async process(item: Item): Promise<MergeOutcome> {
    let outcome: MergeOutcome;
    try {
      outcome = await withGitLock(`merge:${mainKey(this.mainDir)}`, () => this.mergeOne(item));
    } catch (e) {
      const error =
        e instanceof GitError
          ? e
          : new GitError(`merging ${item.branch} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      outcome = { status: 'error', branch: item.branch, message: error.message, error };
    }
    switch (outcome.status) {
      case 'merged':
        this.decide(
          item,
          'merged',
          outcome.alreadyMerged
            ? 'already contained in main; nothing to merge'
            : this.smoke
              ? 'merged and smoke test passed'
              : 'merged; no smoke test configured — main was not tested',
          { sha: outcome.sha },
        );
        break;
      case 'conflict':
        this.decide(item, 'conflict', `conflicts in ${outcome.files.length} file(s); merge aborted, main unchanged`, {
          files: outcome.files,
        });
        break;
      case 'smoke-failed':
        this.decide(item, 'smoke-failed', `smoke test failed; merge ${short(outcome.mergeSha)} reverted by ${short(outcome.revertSha)}`, {
          sha: outcome.revertSha,
        });
        break;
      case 'main-dirty':
        this.decide(item, 'main-dirty', outcome.message, { files: outcome.files });
        break;
      case 'error':
        this.decide(item, 'error', outcome.message);
        break;
    }
    return outcome;
  }

  private async mergeOne(item: Item): Promise<MergeOutcome> {
    const { branch, meta } = item;
    const mainDir = this.mainDir;
    const fail = (message: string, hint?: string, context: Record<string, unknown> = {}): MergeOutcome => {
      const error = new GitError(message, { hint: hint || undefined, context: { branch, mainDir, ...context } });
      return { status: 'error', branch, message, error };
    };
    if (this.haltedBy) return fail(`not merged: the merge queue stopped earlier: ${this.haltedBy}`);
    this.mainGitDir ??= await gitDir(mainDir);
    if (!this.identityChecked) {
      await assertIdentity(mainDir);
      this.identityChecked = true;
    }
    if (this.targetBranch === undefined) {
      const b = await currentBranch(mainDir);
      if (b === null)
        return fail(`${mainDir} has a detached HEAD; the merge queue merges into a branch`, `check out your branch in ${mainDir}`);
      this.targetBranch = b;
    }
    this.commonDir ??= await commonGitDir(mainDir);
    const branchSha = readLooseRef(this.commonDir, branch) ?? (await resolveCommit(mainDir, `refs/heads/${branch}`));
    if (!branchSha) return fail(`branch ${branch} does not exist in ${mainDir}`);

    await this.recoverCutOffMerge(item);

    const revertSha = this.reverted.get(branch);
    if (revertSha && !(await isAncestor(mainDir, revertSha, branchSha))) {
      return fail(
        `${branch} was merged and reverted after a failed smoke test; merging it again would bring back only its new commits`,
        'call prepareSmokeRework for the branch before the worker fixes it, then enqueue it again',
        { revertSha },
      );
    }

    // The paths the merge would add, computed against the tip main/ is expected to be at: usually
    // already done while the previous merge's smoke test ran (prefetchAdded), otherwise alongside
    // the clean check. Both only read; the result is used only if the clean check then finds main/
    // at exactly that commit, else it is computed again against the commit found.
    const expectedSha = readLooseRef(this.commonDir, this.targetBranch);
    const early = expectedSha ? this.takeAdded(expectedSha, branchSha) : null;
    const clean = await this.waitForCleanMain(item);
    const addedEarly = early ? await early : null;
    if (!clean.ok) return clean.outcome;
    const mainSha = clean.snap.head;
    if (!mainSha) return fail(`${mainDir} has no commits yet`);
    const added = addedEarly !== null && expectedSha === mainSha ? addedEarly : await this.addedFiles(mainSha, branchSha);

    // git overwrites ignored files (a user's .env, local config) without a word when a merge adds them.
    const inTheWay = added.filter((p) => exists(path.join(mainDir, p)));
    if (inTheWay.length > 0) {
      const message = `merging ${branch} would overwrite ${inTheWay.length} ignored file(s) in ${mainDir}: ${preview(inTheWay)}`;
      return { status: 'main-dirty', branch, reason: 'ignored-files-in-the-way', files: inTheWay, waitedMs: 0, message };
    }

    this.decide(item, 'merging', `merging ${short(branchSha)} into ${this.targetBranch} at ${short(mainSha)}`, { sha: branchSha });
    const message = `Merge ${branch}: ${oneLine(meta.title)}`;
    // --no-stat: the diffstat is only printed, never read here. Repository hooks never run (runGit is hardened).
    const r = await runGit(mainDir, ['merge', '--no-ff', '--no-edit', '--no-stat', '-m', message, branchSha], { allowFail: true });
    if (r.exitCode !== 0) return this.undoFailedMerge(branch, mainSha, branchSha, r.stderr || r.stdout);

    const mergeSha = readLooseRef(this.commonDir, this.targetBranch) ?? (await headSha(mainDir));
    if (mergeSha === mainSha) return { status: 'merged', branch, sha: mainSha, mainSha, branchSha, alreadyMerged: true };
    this.prefetchAdded(mergeSha);
    if (!this.smoke) return { status: 'merged', branch, sha: mergeSha, mainSha, branchSha, alreadyMerged: false };

    this.decide(item, 'smoke-started', `running the smoke test on ${short(mergeSha)}`, { sha: mergeSha });
    let smoke: SmokeResult;
    try {
      smoke = await this.smoke(mainDir);
    } catch (e) {
      smoke = { ok: false, log: `the smoke test could not run: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (smoke.ok) return { status: 'merged', branch, sha: mergeSha, mainSha, branchSha, alreadyMerged: false, smokeLog: smoke.log };

    const now = await headSha(mainDir);
    if (now !== mergeSha) {
      return fail(
        `the smoke test failed for ${branch}, but ${this.targetBranch} moved from ${short(mergeSha)} to ${short(now)} meanwhile; not reverting`,
        `revert the merge yourself if it is wrong: git revert -m 1 ${mergeSha}`,
        { mergeSha, smokeLog: smoke.log },
      );
    }
    const rv = await runGit(mainDir, ['revert', '-m', '1', '--no-edit', mergeSha], { allowFail: true });
    if (rv.exitCode !== 0) {
      if (operationInProgress(this.mainGitDir) === 'a revert') await runGit(mainDir, ['revert', '--abort'], { allowFail: true });
      return fail(
        `the smoke test failed for ${branch} and reverting merge ${short(mergeSha)} failed: ${firstLines(rv.stderr || rv.stdout)}`,
        `main/ is at the merge commit; did the smoke test leave changes behind? Revert it yourself with: git revert -m 1 ${mergeSha}`,
        { mergeSha, smokeLog: smoke.log },
      );
    }
    const revert = await headSha(mainDir);
    this.reverted.set(branch, revert);
    return { status: 'smoke-failed', branch, mergeSha, revertSha: revert, mainSha, branchSha, log: smoke.log };
  }

  /** After a failed `git merge`: abort it if git left one half-done, and report conflict or error. */
  private async undoFailedMerge(branch: string, mainSha: string, branchSha: string, output: string): Promise<MergeOutcome> {
    const mainDir = this.mainDir;
    const inMerge = operationInProgress(this.mainGitDir as string) === 'a merge';
    const files = inMerge ? await unmergedFiles(mainDir) : [];
    if (inMerge) {
      const abort = await runGit(mainDir, ['merge', '--abort'], { allowFail: true });
      if (abort.exitCode !== 0) {
        // Never reset: stop the queue, say what main/ is left with and the one command that undoes it.
        const message =
          `merging ${branch} failed (${firstLines(output)}) and git merge --abort failed too (${firstLines(abort.stderr)}); ` +
          `${mainDir} is still in the middle of that merge (MERGE_HEAD)`;
        const hint = `nothing was reset; when the cause is gone, undo it with: git -C ${mainDir} merge --abort — then codex-orch runs merge <run id> merges the rest`;
        this.haltedBy = `${message} (${hint})`;
        return { status: 'error', branch, message, error: new GitError(message, { hint, context: { branch, mainDir } }) };
      }
    }
    const now = await headSha(mainDir);
    if (now !== mainSha) {
      const message = `after a failed merge of ${branch}, HEAD of ${mainDir} is ${short(now)}, expected ${short(mainSha)}`;
      return { status: 'error', branch, message, error: new GitError(message, { context: { branch, mainDir } }) };
    }
    if (files.length > 0) return { status: 'conflict', branch, files, mainSha, branchSha };
    const inTheWay = overwrittenUntracked(output);
    if (!inMerge && inTheWay.length > 0) {
      // main was clean (untracked files included) just before, so these are ignored files.
      const message = `merging ${branch} would overwrite ${inTheWay.length} ignored file(s) in ${mainDir}: ${preview(inTheWay)}`;
      return { status: 'main-dirty', branch, reason: 'ignored-files-in-the-way', files: inTheWay, waitedMs: 0, message };
    }
    const message = `git merge ${branch} failed in ${mainDir}: ${firstLines(output)}`;
    return {
      status: 'error',
      branch,
      message,
      error: new GitError(message, {
        hint: 'main is unchanged; git refused the merge (its message above says why)',
        context: { branch, mainDir, output },
      }),
    };
  }

  /**
   * Starts computing, for the next queued branch, the paths it would add on top of `mainSha`
   * (a read-only `git diff` of two commits), so that it runs during the smoke test instead of
   * on the next merge's critical path. A wrong guess costs nothing but the diff: the next merge
   * uses it only for exactly that pair of commits and exactly the commit its clean check finds.
   */
  private prefetchAdded(mainSha: string): void {
    const next = this.waiting[0];
    if (!next || !this.commonDir) return;
    const branchSha = readLooseRef(this.commonDir, next.branch);
    if (!branchSha) return;
    const promise = this.addedFiles(mainSha, branchSha).catch(() => null);
    this.prefetched = { mainSha, branchSha, promise };
  }

  /** The prefetched added paths for this pair of commits if there are any, else a diff started now; null when it failed. */
  private takeAdded(mainSha: string, branchSha: string): Promise<string[] | null> {
    const p = this.prefetched;
    this.prefetched = undefined;
    if (p && p.mainSha === mainSha && p.branchSha === branchSha) return p.promise;
    return this.addedFiles(mainSha, branchSha).catch(() => null);
  }

  /** Paths the branch has and main's tip lacks: the merge would add them. */
  private async addedFiles(mainRev: string, branchSha: string): Promise<string[]> {
    const r = await runGit(this.mainDir, ['diff', '--name-only', '-z', '--no-renames', '--diff-filter=A', mainRev, branchSha]);
    return splitZ(r.stdout);
  }

  /**
   * Clears what a merge of this queue's that a process was killed in the
   * middle of left in main/, before anything else merges (also at the start
   * of a run: `recover`). It is the queue's own when MERGE_MSG is its message,
   * `Merge <branch>: <title>`, and MERGE_HEAD is that task branch's tip. Two
   * states, both cleared with `git merge --abort` (which resets to HEAD; no
   * history is touched):
   *
   * - cut off before the commit: git wrote MERGE_HEAD and merged index and
   *   work tree but never committed; HEAD did not move, and the branch is
   *   merged again in its turn.
   * - cut off after the commit: the merge commit is on main (MERGE_HEAD is in
   *   HEAD's history) but git died before it removed its merge state — a kill
   *   of the whole process group, or of the orchestrator alone: git itself
   *   lives on, and its "Merge made by…" line then meets a closed pipe, which
   *   ends it with SIGPIPE right after the commit. main/ then looks "in the
   *   middle of a merge" whose work is done; aborting it changes no file.
   *
   * Anything else (a person's merge or message, a lock, a git still running,
   * another branch checked out) is left to the preflight, which refuses and
   * says how to undo it.
   */
  private async recoverCutOffMerge(item?: Item): Promise<void> {
    const gd = this.mainGitDir as string;
    let mergeHead: string;
    let mergeMsg: string;
    try {
      mergeHead = fs.readFileSync(path.join(gd, 'MERGE_HEAD'), 'utf8').trim();
      mergeMsg = fs.readFileSync(path.join(gd, 'MERGE_MSG'), 'utf8').split('\n')[0] ?? '';
    } catch {
      return;
    }
    const branch = /^Merge (\S+): ./.exec(mergeMsg)?.[1];
    if (!branch) return;
    // The queue's message for the branch being merged now; for another one, its title is not known here.
    if (item && branch === item.branch && mergeMsg !== `Merge ${item.branch}: ${oneLine(item.meta.title)}`) return;
    const tip = readLooseRef(this.commonDir as string, branch) ?? (await resolveCommit(this.mainDir, `refs/heads/${branch}`));
    if (tip !== mergeHead) return;
    if (statOrNull(path.join(gd, 'index.lock')) || gitProcessesIn(this.mainDir).length > 0) return;
    if (readHead(gd) !== `ref: refs/heads/${this.targetBranch}`) return;
    const committed = await isAncestor(this.mainDir, mergeHead, 'HEAD');
    const r = await runGit(this.mainDir, ['merge', '--abort'], { allowFail: true });
    if (r.exitCode !== 0) return;
    const found: Item = item?.branch === branch ? item : { seq: 0, branch, meta: { title: '' } };
    this.decide(
      found,
      'recovered',
      committed
        ? `${this.mainDir} was left "in the middle of" merging ${branch} (${short(mergeHead)}) although that merge is committed: the process that made it stopped before git cleared its merge state; cleared with git merge --abort (HEAD kept)`
        : `${this.mainDir} was left in the middle of merging ${branch} (${short(mergeHead)}) by a process that stopped before committing it; undone with git merge --abort`,
      { sha: mergeHead },
    );
  }

  /**
   * The merge preflight: is main/ in a state a merge may start from? Reads
   * files and `git status --no-optional-locks` only (no git write, no lock).
   * `wait`: the condition may clear by itself or by the person's hand.
   */
  private async preflight(): Promise<
    { ok: true; snap: StatusSnapshot } | { ok: false; reason: MainDirtyReason; message: string; files: string[]; wait: boolean }
  > {
    const mainDir = this.mainDir;
    const gd = this.mainGitDir as string;
    const lock = path.join(gd, 'index.lock');
    const lockStat = statOrNull(lock);
    if (lockStat) {
      const ageMs = Date.now() - lockStat.mtimeMs;
      const holders = gitProcessesIn(mainDir);
      if (holders.length === 0 && ageMs >= this.staleLockMs) {
        const message = `stale lock: ${lock} is ${Math.round(ageMs / 60_000)} min old and no git process is working in ${mainDir}; remove it with: rm ${lock}`;
        return { ok: false, reason: 'stale-lock', message, files: [], wait: false };
      }
      const who = holders.length
        ? `git process ${holders.join(', ')} is working in ${mainDir}`
        : `another git command may be working in ${mainDir}`;
      const message = `${lock} exists (${Math.round(ageMs / 1000)} s old): ${who}; the queue does not touch main/ until it is gone`;
      return { ok: false, reason: 'index-locked', message, files: [], wait: true };
    }
    const op = operationInProgress(gd);
    if (op) {
      const undo = OPERATION_UNDO[op] ?? 'git status';
      const message = `${mainDir} is in the middle of ${op} (not started by this run); finish it, or undo it with: ${undo}`;
      return { ok: false, reason: 'operation-in-progress', message, files: [], wait: true };
    }
    const head = readHead(gd);
    if (head !== null && !head.startsWith('ref: ')) {
      const message = `${mainDir} has a detached HEAD at ${short(head)}; the queue merges into ${this.targetBranch} and never checks out branches: git -C ${mainDir} checkout ${this.targetBranch}`;
      return { ok: false, reason: 'detached-head', message, files: [], wait: true };
    }
    const snap = await statusSnapshot(mainDir);
    if (snap.dirty.length > 0) {
      const message = `${mainDir} has uncommitted changes in ${snap.dirty.length} file(s): ${preview(snap.dirty)}; commit or move them and the queue goes on`;
      return { ok: false, reason: 'uncommitted-changes', message, files: snap.dirty, wait: true };
    }
    if (snap.branch !== this.targetBranch) {
      const message = `${mainDir} has ${snap.branch ?? 'a detached HEAD'} checked out; the queue merges into ${this.targetBranch} and never checks out branches`;
      return { ok: false, reason: snap.branch === null ? 'detached-head' : 'wrong-branch', message, files: [], wait: true };
    }
    return { ok: true, snap };
  }

  private async waitForCleanMain(item: Item): Promise<Clean> {
    const started = Date.now();
    let waited = false;
    for (;;) {
      const check = await this.preflight();
      if (check.ok) return { ok: true, snap: check.snap, waited };
      const { reason, message, files } = check;
      const waitedMs = Date.now() - started;
      // One wait for the whole queue: the first dirty sighting starts it, every later merge shares what is left.
      this.waitDeadline ??= Date.now() + this.dirtyWaitMs;
      const remaining = this.waitDeadline - Date.now();
      if (!check.wait || remaining <= 0 || this.signal?.aborted) {
        return { ok: false, outcome: { status: 'main-dirty', branch: item.branch, reason, files, waitedMs, message } };
      }
      if (!this.waitAnnounced) {
        this.decide(item, 'waiting', `waiting up to ${Math.round(remaining / 1000)} s: ${message}`, { files });
        this.waitAnnounced = true;
      }
      waited = true;
      await sleep(Math.min(this.dirtyPollMs, remaining), this.signal);
    }
  }
}

/** How to undo each half-done git operation (for the preflight's message). */
const OPERATION_UNDO: Record<string, string> = {
  'a merge': 'git merge --abort',
  'a cherry-pick': 'git cherry-pick --abort',
  'a revert': 'git revert --abort',
  'a rebase': 'git rebase --abort',
  'a rebase or am': 'git rebase --abort (or git am --abort)',
  'a bisect': 'git bisect reset',
};

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** HEAD of a git dir as written: `ref: refs/heads/x` or a commit id; null when unreadable. */
function readHead(gd: string): string | null {
  try {
    return fs.readFileSync(path.join(gd, 'HEAD'), 'utf8').trim();
  } catch {
    return null;
  }
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

const SIMPLE_REF = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/**
 * A branch's sha read straight from its loose ref file, or null (packed,
 * reftable, odd name): git writes a loose ref on every update, so right after
 * a merge this saves a process; everything else falls back to rev-parse.
 */
function readLooseRef(commonDir: string, branch: string): string | null {
  if (!SIMPLE_REF.test(branch) || branch.includes('..') || branch.includes('//')) return null;
  try {
    const text = fs.readFileSync(path.join(commonDir, 'refs', 'heads', branch), 'utf8').trim();
    return /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

/** The paths git lists after "untracked working tree files would be overwritten by merge:". */
function overwrittenUntracked(output: string): string[] {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => /untracked working tree files would be (?:overwritten|removed) by merge/.test(l));
  if (at === -1) return [];
  const files: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('\t')) break;
    files.push(l.slice(1).trim());
  }
  return files;
}

function mainKey(mainDir: string): string {
  try {
    return fs.realpathSync(mainDir);
  } catch {
    return mainDir;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function short(sha: string): string {
  return sha.slice(0, 10);
}

function oneLine(title: string): string {
  const t = title.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t || '(untitled)';
}

function preview(files: readonly string[], n = 10): string {
  return files.length <= n ? files.join(', ') : `${files.slice(0, n).join(', ')} and ${files.length - n} more`;
}
