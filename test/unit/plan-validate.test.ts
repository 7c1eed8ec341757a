import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  manifestFromPlan,
  planFromManifest,
  submitPlanParameters,
  submitPlanToPlan,
  taskSlug,
  taskWorktreeName,
  validateManifest,
  validatePlan,
  type PlanInput,
} from '../../src/scheduler/index.js';

type TaskIn = PlanInput['phases'][number]['tasks'][number];

const task = (id: string, extra: Partial<TaskIn> = {}): TaskIn => ({ id, title: `title ${id}`, prompt: `do ${id}`, ...extra });
const plan = (...phases: TaskIn[][]): PlanInput => ({
  version: 1,
  task: 'the whole thing',
  phases: phases.map((tasks, i) => ({ name: `Phase ${i + 1}`, tasks })),
});

function errorsOf(input: unknown): string[] {
  const r = validatePlan(input);
  if (r.ok) throw new Error('expected the plan to be rejected');
  return r.errors;
}

describe('validatePlan: accepted plans', () => {
  it('applies the documented defaults', () => {
    const r = validatePlan(plan([task('t1')]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.phases[0]?.tasks[0]).toEqual({
      id: 't1',
      title: 'title t1',
      prompt: 'do t1',
      kind: 'feature',
      files: ['**'],
      dependsOn: [],
    });
  });

  it('accepts the example manifest from the issue', () => {
    const r = validatePlan({
      version: 1,
      task: 'what the whole plan achieves',
      phases: [
        {
          name: 'Phase 1',
          tasks: [
            {
              id: 't1',
              title: 'Add parser',
              kind: 'feature',
              prompt: '…',
              files: ['src/parser/**'],
              dependsOn: [],
              acceptance: 'npm test',
            },
          ],
        },
      ],
    });
    expect(r).toMatchObject({ ok: true, plan: { phases: [{ tasks: [{ id: 't1', acceptance: 'npm test' }] }] } });
  });

  it('accepts dependencies within a phase and on earlier phases, in any declaration order', () => {
    const r = validatePlan(plan([task('b', { dependsOn: ['a'] }), task('a')], [task('c', { dependsOn: ['a', 'b'] })]));
    expect(r.ok).toBe(true);
  });

  it('accepts relative globs including ./ prefixes, dotfiles and braces', () => {
    expect(validatePlan(plan([task('t1', { files: ['./src/**', '.env.example', 'src/{a,b}/*.ts', 'docs/'] })])).ok).toBe(true);
  });
});

describe('validatePlan: shape errors carry JSON paths', () => {
  it('not an object', () => {
    expect(errorsOf('plan')).toEqual(['(plan): expected object, got "plan"']);
  });

  it('wrong version and missing fields', () => {
    expect(errorsOf({ version: 2, phases: [] })).toEqual([
      'version: expected 1, got number 2',
      'task: required (string)',
      'phases: a plan needs at least one phase',
    ]);
  });

  it('empty prompt, empty title (whitespace counts as empty)', () => {
    expect(errorsOf(plan([task('t1'), task('t2'), task('t3', { prompt: '  \n' })]))).toEqual(['phases[0].tasks[2].prompt: empty']);
    expect(errorsOf(plan([task('t1', { title: '' })]))).toEqual(['phases[0].tasks[0].title: empty']);
  });

  it('empty acceptance command', () => {
    expect(errorsOf(plan([task('t1', { acceptance: '' })]))).toEqual(['phases[0].tasks[0].acceptance: empty']);
  });

  it('unknown kind lists the allowed ones', () => {
    expect(errorsOf(plan([task('t1', { kind: 'chore' as never })]))).toEqual([
      'phases[0].tasks[0].kind: expected one of "feature", "fix", "refactor", "tests", "migration", "docs", got "chore"',
    ]);
  });

  it('a misspelt field is an error, not a silently dropped dependency', () => {
    expect(errorsOf(plan([task('t1'), { ...task('t2'), depends_on: ['t1'] } as TaskIn]))).toEqual([
      'phases[0].tasks[1]: unknown field "depends_on"',
    ]);
  });

  it('wrong element types', () => {
    expect(errorsOf(plan([task('t1', { files: ['src/**', 3 as never], dependsOn: 't0' as never })]))).toEqual([
      'phases[0].tasks[0].files[1]: expected string, got number 3',
      'phases[0].tasks[0].dependsOn: expected array, got "t0"',
    ]);
  });

  it('empty phase', () => {
    expect(errorsOf(plan([task('t1')], []))).toEqual(['phases[1].tasks: a phase needs at least one task']);
  });
});

describe('validatePlan: graph errors', () => {
  it('duplicate ids', () => {
    expect(errorsOf(plan([task('t1'), task('t2')], [task('t1')]))).toEqual([
      'phases[1].tasks[0].id: duplicate id "t1" (first used at phases[0].tasks[0])',
    ]);
  });

  it('unknown dependsOn ids, with a suggestion when the case differs', () => {
    expect(errorsOf(plan([task('parser'), task('t2', { dependsOn: ['t9', 'Parser'] })]))).toEqual([
      'phases[0].tasks[1].dependsOn[0]: unknown task id "t9"',
      'phases[0].tasks[1].dependsOn[1]: unknown task id "Parser" (did you mean "parser"?)',
    ]);
  });

  it('a dependency listed twice', () => {
    expect(errorsOf(plan([task('t1'), task('t2', { dependsOn: ['t1', 't1'] })]))).toEqual([
      'phases[0].tasks[1].dependsOn[1]: "t1" is listed twice',
    ]);
  });

  it('names the cycle', () => {
    expect(errorsOf(plan([task('t1', { dependsOn: ['t3'] }), task('t2'), task('t3', { dependsOn: ['t1'] })]))).toEqual([
      'dependsOn cycle: t1 → t3 → t1 (each task depends on the next); remove one of these dependencies',
    ]);
  });

  it('a self-dependency is a cycle of one', () => {
    expect(errorsOf(plan([task('t1', { dependsOn: ['t1'] })]))).toEqual([
      'dependsOn cycle: t1 → t1 (each task depends on the next); remove one of these dependencies',
    ]);
  });

  it('reports one cycle per tangle, along the shortest way round', () => {
    const errors = errorsOf(
      plan([
        task('a', { dependsOn: ['b'] }),
        task('b', { dependsOn: ['c', 'a'] }),
        task('c', { dependsOn: ['a'] }),
        task('x', { dependsOn: ['y'] }),
        task('y', { dependsOn: ['x'] }),
      ]),
    );
    expect(errors).toEqual([
      'dependsOn cycle: a → b → a (each task depends on the next); remove one of these dependencies',
      'dependsOn cycle: x → y → x (each task depends on the next); remove one of these dependencies',
    ]);
  });

  it('dependency on a task in a later phase (phase gates)', () => {
    expect(errorsOf(plan([task('t1', { dependsOn: ['t2'] })], [task('t2')]))).toEqual([
      'phases[0].tasks[0].dependsOn[0]: "t2" is in a later phase (phases[1] "Phase 2"); a task may depend only on tasks of its own or an earlier phase — move one of them',
    ]);
  });

  it('globs that escape the repository', () => {
    expect(
      errorsOf(plan([task('t1', { files: ['/etc/passwd', '../other/**', 'src/../../x', '~/notes', 'C:/x', 'src\\a.ts', '!src/**', ''] })])),
    ).toEqual([
      'phases[0].tasks[0].files[0]: "/etc/passwd" escapes the repository (absolute path); use a path relative to the repository root',
      'phases[0].tasks[0].files[1]: "../other/**" escapes the repository (".." segment); use a path relative to the repository root',
      'phases[0].tasks[0].files[2]: "src/../../x" escapes the repository (".." segment); use a path relative to the repository root',
      'phases[0].tasks[0].files[3]: "~/notes" escapes the repository (home directory); use a path relative to the repository root',
      'phases[0].tasks[0].files[4]: "C:/x" escapes the repository (absolute path); use a path relative to the repository root',
      'phases[0].tasks[0].files[5]: "src\\\\a.ts" contains "\\"; separate path segments with "/"',
      'phases[0].tasks[0].files[6]: "!src/**" is a negated glob, which is not supported; list what the task touches',
      'phases[0].tasks[0].files[7]: "" is empty',
    ]);
  });

  it('an empty files list', () => {
    expect(errorsOf(plan([task('t1', { files: [] })]))).toEqual([
      'phases[0].tasks[0].files: empty; list the globs the task may touch, or ["**"] if unsure',
    ]);
  });

  it('ids that are not slug-safe', () => {
    expect(errorsOf(plan([task('add parser'), task('-x'), task('a/b'), task(''), task('x'.repeat(65))]))).toEqual([
      'phases[0].tasks[0].id: "add parser" is not slug-safe; use at most 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'phases[0].tasks[1].id: "-x" is not slug-safe; use at most 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'phases[0].tasks[2].id: "a/b" is not slug-safe; use at most 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'phases[0].tasks[3].id: empty',
      `phases[0].tasks[4].id: "${'x'.repeat(65)}" is not slug-safe; use at most 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    ]);
  });

  it('ids whose worktree names collide', () => {
    expect(errorsOf(plan([task('Parser_V2'), task('parser-v2')]))).toEqual([
      'phases[0].tasks[1].id: "parser-v2" and "Parser_V2" (phases[0].tasks[0]) would share the worktree task-parser-v2; make the ids differ in more than case or punctuation',
    ]);
  });

  it('reports every graph problem at once', () => {
    expect(errorsOf(plan([task('t1', { dependsOn: ['nope'], files: ['/x'] }), task('t1')])).length).toBe(3);
  });
});

describe('task slugs', () => {
  it('lowercases and folds punctuation', () => {
    expect(taskSlug('Parser_V2.final')).toBe('parser-v2-final');
    expect(taskSlug('t1')).toBe('t1');
    expect(taskWorktreeName('Add-Parser')).toBe('task-add-parser');
  });
});

describe('manifests', () => {
  it('a fresh manifest has every task pending with empty bookkeeping, and round-trips', () => {
    const r = validatePlan(plan([task('t1', { acceptance: 'npm test' })], [task('t2', { dependsOn: ['t1'] })]));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const m = manifestFromPlan(r.plan);
    expect(m.phases[0]?.tasks[0]).toMatchObject({
      status: 'pending',
      worktree: null,
      branch: null,
      startedAt: null,
      endedAt: null,
      attempts: 0,
      threadId: null,
      reason: null,
    });
    const again = validateManifest(JSON.parse(JSON.stringify(m)));
    expect(again).toEqual({ ok: true, plan: m });
    expect(planFromManifest(m)).toEqual(r.plan);
  });

  it('a saved manifest is checked like a plan, plus its statuses', () => {
    const m = { ...plan([task('t1', { dependsOn: ['t2'] })]), phases: [{ name: 'P', tasks: [{ ...task('t1'), status: 'done' }] }] };
    const r = validateManifest(m);
    expect(r).toEqual({
      ok: false,
      errors: [
        'phases[0].tasks[0].status: expected one of "pending", "blocked", "running", "stuck", "error", "complete", "awaiting_approval", "merged", got "done"',
      ],
    });
  });

  it('a bare plan is a valid manifest (statuses default to pending)', () => {
    const r = validateManifest(plan([task('t1')]));
    expect(r.ok && r.plan.phases[0]?.tasks[0]?.status).toBe('pending');
  });
});

describe('submit_plan tool parameters', () => {
  it('is a strict function schema: every property required, closed objects, no defaults, no unions', () => {
    const schema = z.toJSONSchema(submitPlanParameters) as Record<string, unknown>;
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      expect(n).not.toHaveProperty('default');
      expect(n).not.toHaveProperty('anyOf');
      expect(n).not.toHaveProperty('oneOf');
      if (n.type === 'object') {
        expect(n.additionalProperties).toBe(false);
        expect([...(n.required as string[])].sort()).toEqual(Object.keys(n.properties as object).sort());
      }
      Object.values(n).forEach(visit);
    };
    visit(schema);
  });

  it('tool arguments become a plan: null or blank acceptance means none', () => {
    const args = submitPlanParameters.parse({
      task: 'x',
      phases: [
        {
          name: 'P',
          tasks: [
            { id: 'a', title: 'A', kind: 'fix', prompt: 'p', files: ['src/**'], dependsOn: [], acceptance: null },
            { id: 'b', title: 'B', kind: 'tests', prompt: 'p', files: ['test/**'], dependsOn: ['a'], acceptance: '' },
            { id: 'c', title: 'C', kind: 'docs', prompt: 'p', files: ['docs/**'], dependsOn: [], acceptance: 'npm test' },
          ],
        },
      ],
    });
    const r = validatePlan(submitPlanToPlan(args));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const [a, b, c] = r.plan.phases[0]?.tasks ?? [];
    expect(a).not.toHaveProperty('acceptance');
    expect(b).not.toHaveProperty('acceptance');
    expect(c?.acceptance).toBe('npm test');
  });
});
