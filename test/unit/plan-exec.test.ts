import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { BudgetTracker, type BudgetStop } from '../../src/orchestrator/plan/budgets.js';
import { DecisionsLog } from '../../src/orchestrator/plan/decisions-log.js';
import { loadManifestFile, parseManifest, saveManifest } from '../../src/orchestrator/plan/manifest-file.js';
import { conflictPrompt, healPrompt, tail } from '../../src/orchestrator/plan/rework-prompts.js';
import { TASK_TEMPLATE_VARS, loadTaskTemplates, renderTaskPrompt, templatesDir } from '../../src/orchestrator/plan/templates.js';
import { TASK_KINDS, manifestSchema } from '../../src/scheduler/index.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-exec-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('task templates', () => {
  it('exist for every kind, with every placeholder and the structured-result instruction', () => {
    const templates = loadTaskTemplates();
    expect(Object.keys(templates).sort()).toEqual([...TASK_KINDS].sort());
    for (const kind of TASK_KINDS) {
      const text = templates[kind];
      for (const v of TASK_TEMPLATE_VARS) expect(text, `${kind}: {{${v}}}`).toContain(`{{${v}}}`);
      for (const section of ['## Goal', '## Constraints', '## Tests to run', '## Definition of done', '## Result'])
        expect(text, `${kind}: ${section}`).toContain(section);
      expect(text).toContain('"goal_met": boolean');
    }
  });

  it('wrap the subtask prompt with its files and acceptance command', () => {
    const templates = loadTaskTemplates();
    const prompt = renderTaskPrompt(
      templates,
      {
        id: 'fix-1',
        title: 'Fix the parser',
        kind: 'fix',
        prompt: '  The parser drops the last token.  ',
        files: ['src/parser/**', 'test/parser.test.ts'],
        dependsOn: [],
      },
      { planTask: 'Make parsing robust', acceptance: 'npm test' },
    );
    expect(prompt).toMatch(/^# Fix a bug: Fix the parser/);
    expect(prompt).toContain('The parser drops the last token.');
    expect(prompt).toContain('`src/parser/**`, `test/parser.test.ts`');
    expect(prompt).toContain('Run `npm test` in this worktree');
    expect(prompt).toContain('Make parsing robust');
    expect(prompt).not.toMatch(/\{\{/);
    const none = renderTaskPrompt(
      templates,
      { id: 'd', title: 'Docs', kind: 'docs', prompt: 'Write docs.', files: ['**'], dependsOn: [] },
      { planTask: 'x', acceptance: undefined },
    );
    expect(none).toContain('No acceptance command is configured');
  });

  it('a missing template or placeholder is a ConfigError at start', () => {
    const dir = tmp();
    for (const kind of TASK_KINDS) fs.copyFileSync(path.join(templatesDir(), `${kind}.md`), path.join(dir, `${kind}.md`));
    fs.writeFileSync(path.join(dir, 'tests.md'), 'no placeholders here\n');
    expect(() => loadTaskTemplates(dir)).toThrow(/tests\.md lacks the placeholder/);
    fs.rmSync(path.join(dir, 'docs.md'));
    expect(() => loadTaskTemplates(dir)).toThrow(ConfigError);
  });
});

describe('manifest files', () => {
  it('a person-written plan becomes a manifest with the documented defaults', () => {
    const m = parseManifest({ version: 1, task: 'T', phases: [{ name: 'P', tasks: [{ id: 't1', title: 'x', prompt: 'do' }] }] });
    expect(m.phases[0]!.tasks[0]).toEqual({
      id: 't1',
      title: 'x',
      kind: 'feature',
      prompt: 'do',
      files: ['**'],
      dependsOn: [],
      status: 'pending',
      worktree: null,
      branch: null,
      startedAt: null,
      endedAt: null,
      attempts: 0,
      threadId: null,
      reason: null,
    });
  });

  it('lists every problem with its path and the file name', () => {
    const dir = tmp();
    const file = path.join(dir, 'plan.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        task: 'T',
        phases: [
          {
            name: 'P',
            tasks: [
              { id: 't1', title: 'x', prompt: 'a', dependsOn: ['t9'] },
              { id: 't2', title: 'y', prompt: 'b', files: ['../x'] },
            ],
          },
        ],
      }),
    );
    let err: unknown;
    try {
      loadManifestFile(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain(file);
    expect(msg).toMatch(/phases\[0\]\.tasks\[0\]\.dependsOn\[0\]: unknown task id "t9"/);
    expect(msg).toMatch(/phases\[0\]\.tasks\[1\]\.files\[0\]/);
  });

  it('unreadable and non-JSON files are ConfigErrors naming the file', () => {
    const dir = tmp();
    expect(() => loadManifestFile(path.join(dir, 'missing.json'))).toThrow(/missing\.json: cannot be read/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{');
    expect(() => loadManifestFile(path.join(dir, 'bad.json'))).toThrow(/bad\.json: not valid JSON/);
  });

  it('saves atomically and round-trips through the schema', () => {
    const dir = tmp();
    const file = path.join(dir, 'manifest.json');
    const m = parseManifest({ version: 1, task: 'T', phases: [{ name: 'P', tasks: [{ id: 't1', title: 'x', prompt: 'do' }] }] });
    m.phases[0]!.tasks[0]!.status = 'merged';
    saveManifest(file, m);
    expect(manifestSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')))).toEqual(m);
    expect(fs.readdirSync(dir)).toEqual(['manifest.json']);
  });
});

describe('budgets', () => {
  it('tokens: exhausted once, when the total reaches the budget', () => {
    const stops: BudgetStop[] = [];
    const b = new BudgetTracker({ totalTokens: 100 }, (s) => stops.push(s));
    b.addTokens(60);
    expect(stops).toEqual([]);
    b.addTokens(40);
    b.addTokens(10);
    expect(stops).toEqual([{ budget: 'totalTokens', reason: 'token budget of 100 used up (100 tokens)' }]);
    expect(b.canLaunchWorker()).toBe(false);
  });

  it('workers: launches are counted; the next one is refused', () => {
    const stops: BudgetStop[] = [];
    const b = new BudgetTracker({ maxWorkers: 2 }, (s) => stops.push(s));
    for (let i = 0; i < 2; i++) {
      expect(b.canLaunchWorker()).toBe(true);
      b.workerLaunched();
    }
    expect(b.canLaunchWorker()).toBe(false);
    expect(stops.map((s) => s.budget)).toEqual(['maxWorkers']);
  });

  it('no budgets: never exhausted; invalid budgets are refused', () => {
    const b = new BudgetTracker({}, () => {
      throw new Error('unexpected');
    });
    b.start();
    b.addTokens(1e9);
    for (let i = 0; i < 100; i++) b.workerLaunched();
    expect(b.canLaunchWorker()).toBe(true);
    b.stop();
    expect(() => new BudgetTracker({ wallMs: 0 }, () => undefined)).toThrow(RangeError);
    expect(() => new BudgetTracker({ totalTokens: Number.NaN }, () => undefined)).toThrow(RangeError);
  });
});

describe('decisions log', () => {
  it('appends one JSON line per decision with increasing seq, and tells the observer', () => {
    const file = path.join(tmp(), 'decisions.jsonl');
    const seen: string[] = [];
    const log = new DecisionsLog(file, (d) => seen.push(d.action));
    log.add('schedule', 'started', 'runnable', { taskId: 't1' });
    log.add('merge', 'merged', 'ok', { taskId: 't1', data: { sha: 'abc' } });
    log.add('run', 'finish', 'done', { data: {} });
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.seq, l.kind, l.action, l.taskId])).toEqual([
      [1, 'schedule', 'started', 't1'],
      [2, 'merge', 'merged', 't1'],
      [3, 'run', 'finish', undefined],
    ]);
    expect(lines[1].data).toEqual({ sha: 'abc' });
    expect('data' in lines[2]).toBe(false);
    expect(log.count).toBe(3);
    expect(seen).toEqual(['started', 'merged', 'finish']);
  });
});

describe('rework prompts', () => {
  it('tail keeps the end of long logs and says how much was cut', () => {
    expect(tail('short')).toBe('short');
    const t = tail('x'.repeat(50) + 'END', 10);
    expect(t.endsWith('xxxxxxxEND')).toBe(true);
    expect(t).toMatch(/43 earlier characters cut/);
  });

  it('heal: with a thread only the error; without one the task too', () => {
    expect(healPrompt('stalled', null)).not.toContain('The task:');
    expect(healPrompt('crashed', 'DO THE THING')).toContain('The task:\nDO THE THING');
  });

  it('conflict: files and both sides intent', () => {
    const p = conflictPrompt(
      {
        status: 'conflict',
        worktree: '/b/task-x',
        branch: 'task-x',
        mainBranch: 'main',
        mainSha: 'a',
        branchSha: 'b',
        base: 'c',
        files: ['src/a.ts'],
        mainCommits: [{ sha: '1', subject: 'Merge task-y: rename a', body: '' }],
        taskCommits: [{ sha: '2', subject: 'feature: extend a (x)', body: '' }],
      },
      'Extend a',
    );
    expect(p).toContain('- src/a.ts');
    expect(p).toContain('- Merge task-y: rename a');
    expect(p).toContain('- feature: extend a (x)');
    expect(p).toContain('your intent: Extend a');
  });
});
