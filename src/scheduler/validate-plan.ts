import type { z } from 'zod';
import { manifestSchema, planSchema, type Manifest, type Plan } from './plan-schema.js';
import { isSlugSafeId, taskSlug, taskWorktreeName, TASK_ID_MAX_LENGTH } from './task-slug.js';

/**
 * Validation of a plan (from `submit_plan` or a manifest file). Errors are
 * one line each, `path: problem`, written for the model that has to fix the
 * plan: the path is the JSON path (`phases[0].tasks[2].prompt`), the problem
 * says what is wrong and, where it is not obvious, what would be right.
 * All problems are reported at once; graph checks run only when the shape is
 * valid (they need ids and arrays to mean something).
 */

export type ValidationResult<T> = { ok: true; plan: T } | { ok: false; errors: string[] };

export function validatePlan(input: unknown): ValidationResult<Plan> {
  return validateWith(planSchema, input);
}

/** The same checks for a saved manifest (statuses and bookkeeping allowed). */
export function validateManifest(input: unknown): ValidationResult<Manifest> {
  return validateWith(manifestSchema, input);
}

function validateWith<S extends typeof planSchema | typeof manifestSchema>(schema: S, input: unknown): ValidationResult<z.output<S>> {
  const parsed = schema.safeParse(input, { error: issueMessage });
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((iss) => `${formatPath(iss.path)}: ${iss.message}`) };
  }
  const plan = parsed.data as z.output<S>;
  const errors = graphErrors(plan);
  return errors.length === 0 ? { ok: true, plan } : { ok: false, errors };
}

// ---------------------------------------------------------------------------
// Shape errors

type RawIssue = z.core.$ZodRawIssue;

function issueMessage(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? `required (${iss.expected})` : `expected ${iss.expected}, got ${describe(iss.input)}`;
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}, got ${describe(iss.input)}`
        : `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(iss.input)}`;
    case 'unrecognized_keys':
      return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    default:
      return undefined;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any value, shown as text on purpose
  return `${typeof value} ${String(value)}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(plan)' : out;
}

// ---------------------------------------------------------------------------
// Graph errors

interface GraphTask {
  id: string;
  files: string[];
  dependsOn: string[];
}
interface GraphPlan {
  phases: { name: string; tasks: GraphTask[] }[];
}

interface Located {
  id: string;
  phase: number;
  path: string;
  dependsOn: string[];
}

function graphErrors(plan: GraphPlan): string[] {
  const errors: string[] = [];
  const byId = new Map<string, Located>();
  const bySlug = new Map<string, Located>();
  const located: Located[] = [];

  plan.phases.forEach((phase, p) => {
    phase.tasks.forEach((task, t) => {
      const path = `phases[${p}].tasks[${t}]`;
      const here: Located = { id: task.id, phase: p, path, dependsOn: task.dependsOn };
      located.push(here);

      if (!isSlugSafeId(task.id)) {
        errors.push(
          task.id === ''
            ? `${path}.id: empty`
            : `${path}.id: ${JSON.stringify(task.id)} is not slug-safe; use at most ${TASK_ID_MAX_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`,
        );
      }
      const first = byId.get(task.id);
      if (first) {
        errors.push(`${path}.id: duplicate id ${JSON.stringify(task.id)} (first used at ${first.path})`);
      } else {
        byId.set(task.id, here);
        const slug = taskSlug(task.id);
        const clash = slug === '' ? undefined : bySlug.get(slug);
        if (clash) {
          errors.push(
            `${path}.id: ${JSON.stringify(task.id)} and ${JSON.stringify(clash.id)} (${clash.path}) would share the worktree ${taskWorktreeName(task.id)}; make the ids differ in more than case or punctuation`,
          );
        } else if (slug !== '') {
          bySlug.set(slug, here);
        }
      }

      if (task.files.length === 0) errors.push(`${path}.files: empty; list the globs the task may touch, or ["**"] if unsure`);
      task.files.forEach((glob, g) => {
        const problem = globProblem(glob);
        if (problem) errors.push(`${path}.files[${g}]: ${JSON.stringify(glob)} ${problem}`);
      });
    });
  });

  for (const task of located) {
    const seen = new Set<string>();
    task.dependsOn.forEach((dep, d) => {
      const where = `${task.path}.dependsOn[${d}]`;
      if (seen.has(dep)) {
        errors.push(`${where}: ${JSON.stringify(dep)} is listed twice`);
        return;
      }
      seen.add(dep);
      const target = byId.get(dep);
      if (!target) {
        errors.push(`${where}: unknown task id ${JSON.stringify(dep)}${suggest(dep, [...byId.keys()])}`);
      } else if (target.phase > task.phase) {
        errors.push(
          `${where}: ${JSON.stringify(dep)} is in a later phase (phases[${target.phase}] ${JSON.stringify(plan.phases[target.phase]?.name)}); a task may depend only on tasks of its own or an earlier phase — move one of them`,
        );
      }
    });
  }

  for (const cycle of findCycles(located, byId))
    errors.push(`dependsOn cycle: ${cycle.join(' → ')} (each task depends on the next); remove one of these dependencies`);
  return errors;
}

/** Why a `files` glob is refused, or undefined. Globs are repository-relative, `/`-separated. */
export function globProblem(glob: string): string | undefined {
  if (glob.trim() === '') return 'is empty';
  if (glob.startsWith('/') || /^[A-Za-z]:/.test(glob))
    return 'escapes the repository (absolute path); use a path relative to the repository root';
  if (glob.startsWith('~')) return 'escapes the repository (home directory); use a path relative to the repository root';
  if (glob.split(/[/\\]/).includes('..')) return 'escapes the repository (".." segment); use a path relative to the repository root';
  if (glob.includes('\\')) return 'contains "\\"; separate path segments with "/"';
  if (glob.startsWith('!')) return 'is a negated glob, which is not supported; list what the task touches';
  return undefined;
}

function suggest(id: string, known: string[]): string {
  const lower = id.toLowerCase();
  const close = known.find((k) => k.toLowerCase() === lower || taskSlug(k) === taskSlug(id));
  return close ? ` (did you mean ${JSON.stringify(close)}?)` : '';
}

/**
 * One cycle per strongly connected component that has one (Tarjan), named
 * from its first-declared task along a shortest way round: `t1 → t3 → t1`.
 */
function findCycles(tasks: Located[], byId: Map<string, Located>): string[][] {
  const order = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (!order.has(t.id)) order.set(t.id, i);
  });
  const deps = (id: string): string[] => (byId.get(id)?.dependsOn ?? []).filter((d) => byId.has(d));

  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];

  // Iterative Tarjan: plans are small, but a deep chain must not blow the stack.
  for (const root of byId.keys()) {
    if (index.has(root)) continue;
    const work: { id: string; next: number }[] = [{ id: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { id: string; next: number };
      const edges = deps(frame.id);
      if (frame.next < edges.length) {
        const w = edges[frame.next] as string;
        frame.next += 1;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter);
          counter += 1;
          stack.push(w);
          onStack.add(w);
          work.push({ id: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.id, Math.min(low.get(frame.id) as number, index.get(w) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id) as number, low.get(frame.id) as number));
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop() as string;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.id);
        components.push(component);
      }
    }
  }

  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort((a, b) => (order.get(a) as number) - (order.get(b) as number))[0] as string;
    if (component.length === 1 && !deps(start).includes(start)) continue;
    // Shortest way from start back to start inside the component (BFS).
    const prev = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const v = queue.shift() as string;
      for (const w of deps(v)) {
        if (!members.has(w)) continue;
        if (w === start) {
          closing = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = closing as string; v !== start; v = prev.get(v) as string) path.splice(1, 0, v);
    path.push(start);
    cycles.push(path);
  }
  cycles.sort((a, b) => (order.get(a[0] as string) as number) - (order.get(b[0] as string) as number));
  return cycles;
}
