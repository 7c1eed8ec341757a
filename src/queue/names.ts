/** Queue names. Subtask jobs go to one queue per repository, so an agent only takes work for the clones it has. */
import crypto from 'node:crypto';

const SAFE = /[^A-Za-z0-9_.-]/g;

export function subtaskQueueName(repoId: string): string {
  return `subtasks.${repoId.replace(SAFE, '_')}`;
}

export const TASK_QUEUE = 'tasks';

/** A BullMQ job id for one attempt of one subtask of one run (the dedupe key). */
export function subtaskJobId(runId: string, taskId: string, attempt: number): string {
  return `${runId}.${taskId}.${attempt}`.replace(SAFE, '_');
}

/**
 * The BullMQ job id of a whole task on the `tasks` queue: the dispatcher ledger's task id, plus 8 hex of the
 * base dir's sha256 when it has one (the ledger keys a task by id within its base dir's state dir, so the same
 * id in two repositories is two tasks). Adding the same task twice, from any dispatcher, is one job.
 */
export function taskJobId(id: string, baseDir?: string): string {
  const where = baseDir === undefined ? '' : `.${crypto.createHash('sha256').update(baseDir).digest('hex').slice(0, 8)}`;
  return `${id}${where}`.replace(SAFE, '_');
}
