import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { DispatchOutcome, DispatchTask, SourcedTask, TaskSource } from './types.js';

/** The environment variable the dispatcher reads its tasks from. */
export const DISPATCH_TASKS_VAR = 'DISPATCH_TASKS';

/** Formats accepted in DISPATCH_TASKS, for --help and errors. */
export const DISPATCH_TASKS_FORMATS = [
  'a JSON array of strings: ["add a --verbose flag", "fix the flaky test"]',
  'a JSON array of objects {task, id?, baseDir?}: [{"id":"verbose","task":"add a --verbose flag","baseDir":"/work/app"}]',
  'or, when the value does not start with "[", one task per non-empty line',
] as const;

const FORMAT_HINT = 'expected a JSON array of strings or of {task, id?, baseDir?} objects, or one task per non-empty line';

/** Ids end up in file names and URLs (inbox results, HTTP intake), so they are kept plain. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ITEM_SHAPE = 'expected a string or {task, id?, baseDir?}';

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

const field = (name: string) =>
  z.string({
    error: (issue) => (issue.input === undefined ? `"${name}" is missing` : `"${name}" must be a string, got ${typeName(issue.input)}`),
  });

const taskObject = z
  .object({
    id: field('id')
      .trim()
      .regex(ID_PATTERN, '"id" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
      .optional(),
    task: field('task').trim().min(1, '"task" is empty'),
    baseDir: field('baseDir')
      .trim()
      .min(1, '"baseDir" is empty')
      .refine((v) => path.isAbsolute(v), { message: '"baseDir" must be an absolute path' })
      .transform((v) => path.resolve(v))
      .optional(),
  })
  .strict();

/** The default id of a task: 12 hex of sha256 over the task text and its (resolved) base dir. */
export function taskContentId(task: string, baseDir?: string): string {
  return createHash('sha256')
    .update(task)
    .update('\0')
    .update(baseDir ?? '')
    .digest('hex')
    .slice(0, 12);
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** Whether `id` is a valid explicit task id (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit). */
export function isValidTaskId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * One `{task, id?, baseDir?}` object (inbox `*.json`, HTTP intake body), with
 * the same rules as a DISPATCH_TASKS item; the id defaults to the content hash.
 */
export function parseTaskObject(value: unknown): { ok: true; task: DispatchTask; explicitId: boolean } | { ok: false; error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: `expected an object {task, id?, baseDir?}, got ${typeName(value)}` };
  const result = taskObject.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, error: issue ? issueText(issue) : 'invalid task object' };
  }
  const { id, task, baseDir } = result.data;
  const entry: DispatchTask = { id: id ?? taskContentId(task, baseDir), task };
  if (baseDir !== undefined) entry.baseDir = baseDir;
  return { ok: true, task: entry, explicitId: id !== undefined };
}

/**
 * Parses a DISPATCH_TASKS value into tasks. A value starting with `[` is a JSON
 * array of strings or {task, id?, baseDir?} objects; anything else is one task
 * per non-empty line. Every problem is a ConfigError that names `variable` and
 * the position (`DISPATCH_TASKS[2]` for JSON, `DISPATCH_TASKS line 3` for lines).
 */
export function parseDispatchTasks(value: string, variable: string = DISPATCH_TASKS_VAR): DispatchTask[] {
  const fail = (where: string, why: string): never => {
    throw new ConfigError(`${where}: ${why}`, { variable, hint: FORMAT_HINT });
  };
  const text = value.trim();
  if (text === '') fail(variable, 'no tasks (the value is empty)');

  const entries: { where: string; task: DispatchTask; explicitId: boolean }[] = [];
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      fail(variable, `starts with "[" but is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
    }
    if (!Array.isArray(parsed)) return fail(variable, `expected a JSON array, got ${typeName(parsed)}`);
    parsed.forEach((item: unknown, index) => {
      const where = `${variable}[${index}]`;
      if (typeof item === 'string') {
        const task = item.trim();
        if (task === '') fail(where, 'empty task');
        entries.push({ where, task: { id: taskContentId(task), task }, explicitId: false });
        return;
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(where, `${ITEM_SHAPE}; got ${typeName(item)}`);
      const result = taskObject.safeParse(item);
      if (!result.success) {
        const issue = result.error.issues[0];
        return fail(where, `${ITEM_SHAPE}; ${issue ? issueText(issue) : 'invalid'}`);
      }
      const { id, task, baseDir } = result.data;
      const entry: DispatchTask = { id: id ?? taskContentId(task, baseDir), task };
      if (baseDir !== undefined) entry.baseDir = baseDir;
      entries.push({ where, task: entry, explicitId: id !== undefined });
    });
  } else {
    if (text.startsWith('{')) {
      fail(variable, 'looks like a JSON object; give a JSON array ([{"task": "..."}]) or one task per line');
    }
    value.split(/\r?\n/).forEach((line, index) => {
      const task = line.trim();
      if (task === '') return;
      entries.push({ where: `${variable} line ${index + 1}`, task: { id: taskContentId(task), task }, explicitId: false });
    });
  }
  if (entries.length === 0) fail(variable, 'no tasks (the array is empty)');

  const seen = new Map<string, { where: string; explicitId: boolean }>();
  for (const entry of entries) {
    const first = seen.get(entry.task.id);
    if (first) {
      const why =
        !entry.explicitId && !first.explicitId
          ? `duplicate task: the same task${entry.task.baseDir ? ' and baseDir' : ''} as ${first.where} (id ${entry.task.id})`
          : `duplicate id "${entry.task.id}" (also used by ${first.where})`;
      fail(entry.where, why);
    }
    seen.set(entry.task.id, { where: entry.where, explicitId: entry.explicitId });
  }
  return entries.map((e) => e.task);
}

/** What a list source heard back about one task. */
export type ListTaskResult =
  | { id: string; state: 'acked'; outcome: DispatchOutcome }
  | { id: string; state: 'failed'; reason: string }
  | { id: string; state: 'released' };

/** A finite in-memory source: hands out the tasks in order and records what it is told about them. */
export interface ListTaskSource extends TaskSource {
  /** What was reported for each task so far, by id. */
  results(): ReadonlyMap<string, ListTaskResult>;
}

export function listTaskSource(name: string, tasks: readonly DispatchTask[]): ListTaskSource {
  const results = new Map<string, ListTaskResult>();
  const list = tasks.map((t) => ({ ...t }));
  return {
    name,
    results: () => results,
    async *tasks(signal: AbortSignal): AsyncGenerator<SourcedTask> {
      for (const task of list) {
        if (signal.aborted) return;
        const sourced: SourcedTask = {
          ...task,
          ack: async (outcome) => {
            results.set(task.id, { id: task.id, state: 'acked', outcome });
          },
          fail: async (reason) => {
            results.set(task.id, { id: task.id, state: 'failed', reason: reason instanceof Error ? reason.message : reason });
          },
          release: async () => {
            results.set(task.id, { id: task.id, state: 'released' });
          },
        };
        yield sourced;
      }
    },
  };
}

/**
 * The DISPATCH_TASKS source. Parses eagerly, so a malformed value is a
 * ConfigError here, before anything runs. `value` (e.g. from --tasks) wins
 * over the environment; `variable` is the name used in errors.
 */
export function envTaskSource(options: { env?: NodeJS.ProcessEnv; value?: string; variable?: string } = {}): ListTaskSource {
  const variable = options.variable ?? DISPATCH_TASKS_VAR;
  const value = options.value ?? (options.env ?? process.env)[DISPATCH_TASKS_VAR];
  if (value === undefined) {
    throw new ConfigError(`${variable}: not set; no tasks to dispatch`, {
      variable,
      hint: `set ${variable} to ${DISPATCH_TASKS_FORMATS.join('; ')}`,
    });
  }
  return listTaskSource(variable, parseDispatchTasks(value, variable));
}
