import { z } from 'zod';
import { SUBTASK_STATUSES, type SubtaskStatus } from '../store/types.js';

/**
 * The plan, in three shapes:
 *
 * - `planSchema`: the manifest a person writes (`codex-orch run --plan`), with
 *   the documented defaults (`kind` → feature, `files` → ["**"], `dependsOn` → []).
 *   Objects are strict so a typo such as `depends_on` is an error, not a
 *   silently dropped dependency that would let two tasks race.
 * - `manifestSchema`: the plan as the program saves it in the run directory,
 *   each task carrying its status and bookkeeping (so a run can be followed and resumed from the file).
 * - `submitPlanParameters`: the parameters of the `submit_plan` tool. OpenAI
 *   strict function schemas require every property, forbid defaults and
 *   open objects, so this variant has no defaults, no optional fields (an absent
 *   acceptance command is `null`) and no constraints; `submitPlanToPlan` turns
 *   the tool's arguments into a plan and `validatePlan` does all the checking,
 *   returning errors the model can act on.
 *
 * Only the shape lives here; graph rules (ids, cycles, phase order, globs) are
 * in `validate-plan.ts`.
 */

export const TASK_KINDS = ['feature', 'fix', 'refactor', 'tests', 'migration', 'docs'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** A manifest task's status is the stored subtask status: one list, kept by the store. */
export const TASK_STATUSES = SUBTASK_STATUSES;
export type TaskStatus = SubtaskStatus;

const nonEmpty = z.string().refine((s) => s.trim().length > 0, { message: 'empty' });

const planTaskShape = {
  id: z.string(),
  title: nonEmpty,
  kind: z.enum(TASK_KINDS).default('feature'),
  prompt: nonEmpty,
  files: z.array(z.string()).default(['**']),
  dependsOn: z.array(z.string()).default([]),
  acceptance: nonEmpty.optional(),
};

export const planTaskSchema = z.strictObject(planTaskShape);

export const planPhaseSchema = z.strictObject({
  name: nonEmpty,
  tasks: z.array(planTaskSchema).min(1, { message: 'a phase needs at least one task' }),
});

export const planSchema = z.strictObject({
  version: z.literal(1),
  task: nonEmpty,
  phases: z.array(planPhaseSchema).min(1, { message: 'a plan needs at least one phase' }),
});

export type PlanTask = z.output<typeof planTaskSchema>;
export type PlanPhase = z.output<typeof planPhaseSchema>;
export type Plan = z.output<typeof planSchema>;
/** What a person may write: the defaults make several fields optional. */
export type PlanInput = z.input<typeof planSchema>;

export const manifestTaskSchema = z.strictObject({
  ...planTaskShape,
  status: z.enum(TASK_STATUSES).default('pending'),
  /** Worktree directory, e.g. `<baseDir>/task-<slug>`; null before the task starts. */
  worktree: z.string().nullable().default(null),
  branch: z.string().nullable().default(null),
  /** ISO-8601 timestamps. */
  startedAt: z.string().nullable().default(null),
  endedAt: z.string().nullable().default(null),
  attempts: z.number().int().nonnegative().default(0),
  /** The codex thread of the task's worker, for resume and rework. */
  threadId: z.string().nullable().default(null),
  /** Why the task is blocked, stuck or in error. */
  reason: z.string().nullable().default(null),
});

export const manifestPhaseSchema = z.strictObject({
  name: nonEmpty,
  tasks: z.array(manifestTaskSchema).min(1, { message: 'a phase needs at least one task' }),
});

export const manifestSchema = z.strictObject({
  version: z.literal(1),
  task: nonEmpty,
  phases: z.array(manifestPhaseSchema).min(1, { message: 'a plan needs at least one phase' }),
});

export type ManifestTask = z.output<typeof manifestTaskSchema>;
export type ManifestPhase = z.output<typeof manifestPhaseSchema>;
export type Manifest = z.output<typeof manifestSchema>;

/** The saved form of a freshly accepted plan: every task pending, nothing started. */
export function manifestFromPlan(plan: Plan): Manifest {
  return {
    version: 1,
    task: plan.task,
    phases: plan.phases.map((phase) => ({
      name: phase.name,
      tasks: phase.tasks.map((t) => ({
        ...t,
        status: 'pending' as const,
        worktree: null,
        branch: null,
        startedAt: null,
        endedAt: null,
        attempts: 0,
        threadId: null,
        reason: null,
      })),
    })),
  };
}

/** The plan inside a saved manifest (bookkeeping dropped). */
export function planFromManifest(manifest: Manifest): Plan {
  return {
    version: 1,
    task: manifest.task,
    phases: manifest.phases.map((phase) => ({
      name: phase.name,
      tasks: phase.tasks.map((t) => {
        const task: PlanTask = { id: t.id, title: t.title, kind: t.kind, prompt: t.prompt, files: t.files, dependsOn: t.dependsOn };
        if (t.acceptance !== undefined) task.acceptance = t.acceptance;
        return task;
      }),
    })),
  };
}

// ---------------------------------------------------------------------------
// submit_plan: the strict tool-parameter variant

const toolTaskSchema = z.strictObject({
  id: z.string().describe('Short slug-safe id, unique in the plan, e.g. "parser" or "t3". Becomes the worktree task-<id>.'),
  title: z.string().describe('One line: what this subtask delivers.'),
  kind: z.enum(TASK_KINDS).describe('feature, fix, refactor, tests, migration or docs.'),
  prompt: z.string().describe('The full instructions for the coding worker; it sees nothing else.'),
  files: z
    .array(z.string())
    .describe('Repository-relative globs this subtask expects to touch, e.g. ["src/parser/**"]. ["**"] if unknown (then it runs alone).'),
  dependsOn: z.array(z.string()).describe('Ids of subtasks (same or earlier phase) that must be merged first.'),
  acceptance: z.string().nullable().describe('Command that must pass in the worktree, e.g. "npm test"; null for none.'),
});

export const submitPlanParameters = z.strictObject({
  task: z.string().describe('What the whole plan achieves.'),
  phases: z
    .array(
      z.strictObject({
        name: z.string().describe('Phase name; a phase starts when the earlier phases are finished.'),
        tasks: z.array(toolTaskSchema),
      }),
    )
    .describe('Phases in order; subtasks of one phase may run in parallel when their files do not overlap.'),
});

export type SubmitPlanArgs = z.output<typeof submitPlanParameters>;

/** Tool arguments → the user-manifest shape (not yet validated: pass it to `validatePlan`). */
export function submitPlanToPlan(args: SubmitPlanArgs): PlanInput {
  return {
    version: 1,
    task: args.task,
    phases: args.phases.map((phase) => ({
      name: phase.name,
      // Models often send "" for "no command": treat it as none rather than an error.
      tasks: phase.tasks.map(({ acceptance, ...rest }) =>
        acceptance === null || acceptance.trim() === '' ? rest : { ...rest, acceptance },
      ),
    })),
  };
}
