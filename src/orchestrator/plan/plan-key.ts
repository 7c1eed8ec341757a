import { createHash } from 'node:crypto';
import type { Manifest, Plan } from '../../scheduler/index.js';

/** The fields of a subtask that say what is to be done (not how far it got). */
const TASK_FIELDS = ['id', 'title', 'kind', 'prompt', 'files', 'dependsOn', 'acceptance'] as const;

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The plan's identity on one repository state: a hash of the normalised plan
 * (task, phases, each subtask's definition — never its progress) and the
 * commit main/ was on when the run started. The same plan started again on the
 * same commit has the same key, so a second start finds the first run.
 */
export function planKey(plan: Plan | Manifest, baseCommit: string | null): string {
  const normal = {
    task: plan.task.trim(),
    phases: plan.phases.map((p) => ({
      name: p.name,
      tasks: p.tasks.map((t) => Object.fromEntries(TASK_FIELDS.filter((f) => t[f] !== undefined).map((f) => [f, t[f]]))),
    })),
  };
  const h = createHash('sha256')
    .update(JSON.stringify(sorted(normal)))
    .update('\0')
    .update(baseCommit ?? '(no commit)');
  return `plan-${h.digest('hex').slice(0, 24)}`;
}
