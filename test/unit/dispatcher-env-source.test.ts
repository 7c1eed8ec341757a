import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { envTaskSource, listTaskSource, parseDispatchTasks, taskContentId } from '../../src/dispatcher/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDispatchTasks: formats', () => {
  it('reads a JSON array of strings with content-hash ids', () => {
    const tasks = parseDispatchTasks('["add a --verbose flag", "  fix the flaky test  "]');
    expect(tasks).toEqual([
      { id: taskContentId('add a --verbose flag'), task: 'add a --verbose flag' },
      { id: taskContentId('fix the flaky test'), task: 'fix the flaky test' },
    ]);
    expect(tasks[0]?.id).toMatch(/^[0-9a-f]{12}$/);
  });

  it('reads a JSON array of objects and mixes with strings', () => {
    const tasks = parseDispatchTasks(
      JSON.stringify([
        { id: 'verbose', task: 'add a flag', baseDir: '/work/app/' },
        { task: 'fix it', baseDir: '/work/lib/../lib' },
        'plain',
      ]),
    );
    expect(tasks).toEqual([
      { id: 'verbose', task: 'add a flag', baseDir: '/work/app' },
      { id: taskContentId('fix it', '/work/lib'), task: 'fix it', baseDir: '/work/lib' },
      { id: taskContentId('plain'), task: 'plain' },
    ]);
  });

  it('reads one task per non-empty line when the value does not start with [', () => {
    const tasks = parseDispatchTasks('first task\n\n  second task  \r\nthird task\n');
    expect(tasks.map((t) => t.task)).toEqual(['first task', 'second task', 'third task']);
    expect(tasks.every((t) => t.baseDir === undefined)).toBe(true);
  });

  it('accepts leading whitespace before a JSON array', () => {
    expect(parseDispatchTasks('  \n ["a"]')).toHaveLength(1);
  });

  it('gives the same task in two base dirs different ids', () => {
    const tasks = parseDispatchTasks(
      JSON.stringify([
        { task: 't', baseDir: '/a' },
        { task: 't', baseDir: '/b' },
      ]),
    );
    expect(tasks[0]?.id).not.toBe(tasks[1]?.id);
  });
});

describe('parseDispatchTasks: malformed input names the position and the variable', () => {
  it('a missing "task"', () => {
    const error = configError(() => parseDispatchTasks('["a", "b", {"id": "x"}]'));
    expect(error.message).toBe('DISPATCH_TASKS[2]: expected a string or {task, id?, baseDir?}; "task" is missing');
    expect(error.variable).toBe('DISPATCH_TASKS');
    expect(error.hint).toContain('one task per non-empty line');
  });

  it.each([
    ['[1]', 'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; got number'],
    ['["ok", null]', 'DISPATCH_TASKS[1]: expected a string or {task, id?, baseDir?}; got null'],
    ['["ok", ["nested"]]', 'DISPATCH_TASKS[1]: expected a string or {task, id?, baseDir?}; got array'],
    ['[{"task": 5}]', 'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; "task" must be a string, got number'],
    ['[{"task": "  "}]', 'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; "task" is empty'],
    ['[{"task": "t", "base_dir": "/x"}]', 'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; unknown key "base_dir"'],
    [
      '[{"task": "t", "baseDir": "rel/dir"}]',
      'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; "baseDir" must be an absolute path',
    ],
    [
      '[{"task": "t", "id": "has space"}]',
      'DISPATCH_TASKS[0]: expected a string or {task, id?, baseDir?}; "id" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ],
    ['["a", ""]', 'DISPATCH_TASKS[1]: empty task'],
    ['{"task": "t"}', 'DISPATCH_TASKS: looks like a JSON object; give a JSON array ([{"task": "..."}]) or one task per line'],
    ['[]', 'DISPATCH_TASKS: no tasks (the array is empty)'],
    ['   ', 'DISPATCH_TASKS: no tasks (the value is empty)'],
  ])('%s', (value, expected) => {
    expect(configError(() => parseDispatchTasks(value)).message).toBe(expected);
  });

  it('invalid JSON after [ says so', () => {
    const error = configError(() => parseDispatchTasks('["a", "b",]'));
    expect(error.message).toMatch(/^DISPATCH_TASKS: starts with "\[" but is not valid JSON \(/);
  });

  it('a value not starting with [ or { is lines, even if it is JSON', () => {
    expect(parseDispatchTasks('"quoted"')).toEqual([{ id: taskContentId('"quoted"'), task: '"quoted"' }]);
  });

  it('uses the given variable name (e.g. --tasks)', () => {
    const error = configError(() => parseDispatchTasks('[{"id":"a"}]', '--tasks'));
    expect(error.message).toBe('--tasks[0]: expected a string or {task, id?, baseDir?}; "task" is missing');
    expect(error.variable).toBe('--tasks');
  });
});

describe('parseDispatchTasks: duplicates', () => {
  it('reports a repeated task (same content hash) with both positions', () => {
    const error = configError(() => parseDispatchTasks('["a", "b", "a"]'));
    expect(error.message).toBe(`DISPATCH_TASKS[2]: duplicate task: the same task as DISPATCH_TASKS[0] (id ${taskContentId('a')})`);
  });

  it('reports a repeated line', () => {
    const error = configError(() => parseDispatchTasks('a\nb\n\na'));
    expect(error.message).toBe(`DISPATCH_TASKS line 4: duplicate task: the same task as DISPATCH_TASKS line 1 (id ${taskContentId('a')})`);
  });

  it('reports a repeated explicit id', () => {
    const error = configError(() => parseDispatchTasks('[{"id":"x","task":"one"},{"id":"x","task":"two"}]'));
    expect(error.message).toBe('DISPATCH_TASKS[1]: duplicate id "x" (also used by DISPATCH_TASKS[0])');
  });

  it('the same task on two base dirs is not a duplicate', () => {
    expect(parseDispatchTasks('[{"task":"t","baseDir":"/a"},{"task":"t","baseDir":"/b"}]')).toHaveLength(2);
  });
});

describe('envTaskSource', () => {
  it('reads DISPATCH_TASKS from the given env; a value wins over it', async () => {
    const fromEnv = envTaskSource({ env: { DISPATCH_TASKS: 'one\ntwo' } });
    expect(fromEnv.name).toBe('DISPATCH_TASKS');
    const got: string[] = [];
    for await (const t of fromEnv.tasks(new AbortController().signal)) got.push(t.task);
    expect(got).toEqual(['one', 'two']);

    const fromFlag = envTaskSource({ env: { DISPATCH_TASKS: 'one' }, value: '["three"]', variable: '--tasks' });
    expect(fromFlag.name).toBe('--tasks');
  });

  it('is a ConfigError when unset', () => {
    const error = configError(() => envTaskSource({ env: {} }));
    expect(error.message).toBe('DISPATCH_TASKS: not set; no tasks to dispatch');
  });

  it('records ack, fail and release per task', async () => {
    const source = listTaskSource('list', [
      { id: 'a', task: 'A' },
      { id: 'b', task: 'B' },
      { id: 'c', task: 'C' },
    ]);
    const taken = [];
    for await (const t of source.tasks(new AbortController().signal)) taken.push(t);
    await taken[0]?.ack({ status: 'succeeded', merges: 1, tokens: 5, durationMs: 1 });
    await taken[1]?.fail(new Error('nope'));
    await taken[2]?.release?.();
    expect([...source.results().values()]).toEqual([
      { id: 'a', state: 'acked', outcome: { status: 'succeeded', merges: 1, tokens: 5, durationMs: 1 } },
      { id: 'b', state: 'failed', reason: 'nope' },
      { id: 'c', state: 'released' },
    ]);
  });

  it('stops handing out tasks once its signal is aborted', async () => {
    const source = listTaskSource('list', [
      { id: 'a', task: 'A' },
      { id: 'b', task: 'B' },
    ]);
    const controller = new AbortController();
    const got: string[] = [];
    for await (const t of source.tasks(controller.signal)) {
      got.push(t.id);
      controller.abort();
    }
    expect(got).toEqual(['a']);
  });
});
