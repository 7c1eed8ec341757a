import { TASK_KINDS, type ManifestTask, type PlanTask, type TaskKind } from '../../scheduler/index.js';
import { fillTemplate, loadPromptTemplate, promptsDir } from '../agent/prompts.js';
import path from 'node:path';

/**
 * Task templates: `prompts/templates/<kind>.md`, one per subtask kind. Each
 * wraps the subtask's own prompt with the goal, constraints, tests to run, the
 * definition of done and the structured-result instruction. All six are loaded
 * and checked at start (like prompts/orchestrator.md): a missing file or a
 * missing placeholder is a ConfigError before any worker runs.
 */
export const TASK_TEMPLATE_VARS = ['id', 'title', 'task', 'prompt', 'files', 'acceptance'] as const;

export type TaskTemplates = Readonly<Record<TaskKind, string>>;

export function templatesDir(): string {
  return path.join(promptsDir(), 'templates');
}

/** Loads and validates every kind's template. */
export function loadTaskTemplates(dir = templatesDir()): TaskTemplates {
  const out = {} as Record<TaskKind, string>;
  for (const kind of TASK_KINDS) out[kind] = loadPromptTemplate(`${kind}.md`, TASK_TEMPLATE_VARS, dir);
  return Object.freeze(out);
}

/** The worker prompt of one subtask: its kind's template around its own prompt. */
export function renderTaskPrompt(
  templates: TaskTemplates,
  task: PlanTask | ManifestTask,
  context: { planTask: string; acceptance: string | undefined },
): string {
  const files = task.files.map((f) => `\`${f}\``).join(', ');
  const acceptance = context.acceptance
    ? `Run \`${context.acceptance}\` in this worktree and make it pass. The program runs it again after you finish; a failure comes back to you.`
    : 'No acceptance command is configured: run the project tests that cover your change, if there are any.';
  return fillTemplate(
    templates[task.kind],
    { id: task.id, title: task.title, task: context.planTask, prompt: task.prompt.trim(), files, acceptance },
    `templates/${task.kind}.md`,
  );
}
