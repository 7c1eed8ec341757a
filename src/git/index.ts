export {
  runGit,
  gitEnv,
  programRefWrites,
  currentBranch,
  headSha,
  resolveCommit,
  isAncestor,
  statusSnapshot,
  dirtyFiles,
  isDirty,
  listWorktrees,
  parseWorktreeList,
  listBranches,
  branchExists,
  unmergedFiles,
  type GitResult,
  type StatusSnapshot,
  type WorktreeInfo,
} from './repo.js';
export {
  taskBranch,
  worktreePath,
  createTaskBranch,
  createWorktree,
  removeWorktree,
  deleteMergedTaskBranch,
  commitAll,
  assertIdentity,
  changedFiles,
  diffAgainst,
  parseNameStatus,
  type CreatedWorktree,
  type RemovedWorktree,
  type DeletedTaskBranch,
  type ChangedFile,
  type DiffFile,
  type BoundedDiff,
} from './worktrees.js';
export {
  MergeQueue,
  type MergeQueueOptions,
  type MergeMeta,
  type MergeOutcome,
  type MergeDecision,
  type MergeDecisionAction,
  type MainDirtyReason,
  type SmokeFn,
  type SmokeResult,
} from './merge-queue.js';
export {
  prepareConflictRework,
  finishConflictRework,
  abortConflictRework,
  prepareSmokeRework,
  filesWithConflictMarkers,
  type ConflictRework,
  type SmokeRework,
  type CommitInfo,
} from './rework.js';
export { loadRepoSettings, repoSettingsSchema, REPO_SETTINGS_FILE, type RepoSettings } from './repo-settings.js';
export { withGitLock } from './lock.js';
export { checkWorktreePointer, hardenedGitConfigEnv, identityConfigFile, HARDENED_GIT_CONFIG } from './git-hardening.js';
export { gitLayout, type GitLayout } from './worktree-layout.js';
export {
  isRefState,
  restoreRepo,
  snapshotRepo,
  unexpectedChanges,
  type IntegrityAllowance,
  type IntegrityChange,
  type RepoSnapshot,
} from './repo-integrity.js';
export {
  parseUnifiedDiff,
  branchDiff,
  type BranchDiff,
  type FileDiff,
  type DiffHunk,
  type DiffLine,
  type DiffLineKind,
  type FileChangeStatus,
} from './diff.js';
export { setAsideAttempt, type SetAside } from './set-aside.js';
