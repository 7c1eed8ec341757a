/** Queue names. Subtask jobs go to one queue per repository, so an agent only takes work for the clones it has. */

const SAFE = /[^A-Za-z0-9_.-]/g;

export function subtaskQueueName(repoId: string): string {
  return `subtasks.${repoId.replace(SAFE, '_')}`;
}

export const TASK_QUEUE = 'tasks';

/** A BullMQ job id for one attempt of one subtask of one run (the dedupe key). */
export function subtaskJobId(runId: string, taskId: string, attempt: number): string {
  return `${runId}.${taskId}.${attempt}`.replace(SAFE, '_');
}
