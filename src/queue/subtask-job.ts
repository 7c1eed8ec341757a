/**
 * What travels through the subtask queue: the job an agent receives and the
 * result it returns, both validated with zod at the boundary (a result comes
 * from another machine and is untrusted: it is only ever an input).
 */
import { z } from 'zod';

const sha = z.string().regex(/^[0-9a-f]{40,64}$/, 'expected a commit sha');

export const artifactRefSchema = z.object({
  name: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

const bundleRefSchema = z.object({ artifact: artifactRefSchema, ref: z.string().min(1), sha });

export const subtaskJobSchema = z.object({
  v: z.literal(1),
  runId: z.string().min(1),
  taskId: z.string().min(1),
  /** The subtask's slug: its branch is task-<slug>. */
  slug: z.string().min(1),
  attempt: z.number().int().positive(),
  purpose: z.string().min(1),
  repoId: z.string().min(1),
  /** main's commit the subtask branched from; every bundle builds on it. */
  baseCommit: sha,
  /** A bundle of baseCommit, for an agent whose clone lacks it: a full one, or, with `baseFrom`, only the commits after baseFrom's. */
  baseBundle: bundleRefSchema,
  /** A full bundle of an ancestor of baseCommit (the run's first base): what an incremental baseBundle builds on. */
  baseFrom: bundleRefSchema.optional(),
  /** The branch so far (rework): the agent starts from it instead of baseCommit. */
  startBundle: bundleRefSchema.optional(),
  /** main's head to merge into the branch first (conflict and smoke rework). */
  mergeFrom: bundleRefSchema.optional(),
  /**
   * Smoke rework with conflicts: revert `commit` (main's revert of the branch's merge, in the start commit's history)
   * before the worker starts, leaving its conflicts to the worker; the restore is committed with `message`.
   */
  revert: z.object({ commit: sha, message: z.string().min(1) }).optional(),
  prompt: z.string().min(1),
  profile: z.enum(['fast', 'deep']).default('fast'),
  setup: z.array(z.string()).default([]),
  acceptance: z.string().optional(),
  commitMessage: z.string().min(1),
  /** Where the agent fetches and uploads bundles (the agent's own --artifacts wins). */
  artifacts: z.string().optional(),
});
export type SubtaskJob = z.infer<typeof subtaskJobSchema>;
export type SubtaskJobInput = z.input<typeof subtaskJobSchema>;

const usageSchema = z.object({ inputTokens: z.number(), cachedInputTokens: z.number(), outputTokens: z.number() });

export const subtaskResultSchema = z.object({
  v: z.literal(1),
  jobId: z.string(),
  attempt: z.number().int().positive(),
  /** host:pid of the agent that did the work. */
  agent: z.string(),
  /** The branch's new head, or null when the worker changed nothing. */
  headSha: sha.nullable(),
  bundle: bundleRefSchema.optional(),
  worker: z.object({
    status: z.string(),
    reason: z.string().optional(),
    goalMet: z.boolean().nullable(),
    summary: z.string(),
    followup: z.string().nullable(),
    threadId: z.string().nullable(),
    usage: usageSchema,
    durationMs: z.number(),
    changedFiles: z.array(z.string()),
    runDir: z.string(),
  }),
  setup: z.array(z.object({ command: z.string(), ok: z.boolean(), exitCode: z.number().nullable(), log: z.string() })),
  acceptance: z.object({ command: z.string(), ok: z.boolean(), exitCode: z.number().nullable(), log: z.string() }).optional(),
  /** Files left conflicted after mergeFrom that the worker did not resolve. */
  unresolved: z.array(z.string()).default([]),
  events: z.object({ commands: z.number(), fileChanges: z.number(), messages: z.number() }),
  /** How long each phase took on the agent, in ms (baseFetch, worktree, setup, worker, acceptance, commit, bundle, upload, cleanup). */
  timings: z.record(z.string(), z.number()).optional(),
});
export type SubtaskResult = z.infer<typeof subtaskResultSchema>;

const text = z.string().max(2_000);
/** One codex activity as the worker layer reads it (`CodexActivity`), as it travels from an agent (untrusted: validated here). */
export const codexActivitySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('command'), text, phase: z.enum(['started', 'finished']), exitCode: z.number().nullable() }),
  z.object({ kind: z.literal('file'), text }),
  z.object({ kind: z.literal('message'), text }),
  z.object({ kind: z.literal('thinking'), text }),
  z.object({ kind: z.literal('tool'), text }),
  z.object({ kind: z.literal('error'), text }),
  z.object({
    kind: z.literal('usage'),
    usage: z.object({ input: z.number().nonnegative(), cachedInput: z.number().nonnegative(), output: z.number().nonnegative() }),
  }),
]);

/** Progress an agent reports while a job runs (job.updateProgress). */
export const subtaskProgressSchema = z.object({
  stage: z.enum(['preparing', 'setup', 'worker', 'acceptance', 'bundling', 'done']),
  agent: z.string(),
  /** The worker's latest readable activity (a command, a file, a message), shortened, or the setup/acceptance command. */
  activity: z.string().optional(),
  /** The same activity as the worker layer reads it, for the orchestrator's live view, store and budget. */
  codex: codexActivitySchema.optional(),
  tokens: z.number().optional(),
});
export type SubtaskProgress = z.infer<typeof subtaskProgressSchema>;
