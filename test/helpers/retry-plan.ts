import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Store } from '../../src/store/index.js';
import type { ChildRun } from './cli-child.js';
import { git, makeTempBase, type TempBase } from './git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from './plan-env.js';

/**
 * A plan whose subtask `bad` fails its acceptance until main/ has flag.txt
 * (`addFlag` commits it, what a person fixing the cause would do), with `dep`
 * depending on it and `ok` beside them: for the tests of a person's retry.
 */
export const RETRY_PLAN = {
  version: 1,
  task: 'three files, one needs a flag in main',
  phases: [
    {
      name: 'P1',
      tasks: [
        { id: 'ok', title: 'Add ok', prompt: fakePrompt('Do ok.', { write: { 'ok.txt': 'ok\n' } }), files: ['ok.txt'] },
        {
          id: 'bad',
          title: 'Add bad',
          prompt: fakePrompt('Do bad.', { write: { 'bad.txt': 'bad\n' } }),
          files: ['bad.txt'],
          acceptance: 'test -f flag.txt',
        },
        {
          id: 'dep',
          title: 'Add dep',
          prompt: fakePrompt('Do dep.', { write: { 'dep.txt': 'dep\n' } }),
          files: ['dep.txt'],
          dependsOn: ['bad'],
        },
      ],
    },
  ],
};

export interface RetryRig {
  t: TempBase;
  file: string;
  env: NodeJS.ProcessEnv;
  addFlag(): void;
}

/** A temp base with the plan file and the environment of `codex-orch run --plan` with the plan fake codex. */
export function retryRig(bases: TempBase[]): RetryRig {
  const t = makeTempBase({ 'README.md': '# sample\n' });
  bases.push(t);
  const file = path.join(t.root, 'plan.json');
  fs.writeFileSync(file, JSON.stringify(RETRY_PLAN));
  const env: NodeJS.ProcessEnv = {
    ORCHESTRATOR_BASE_DIR: t.baseDir,
    ORCHESTRATOR_STATE_DIR: t.stateDir,
    CODEX_BIN: PLAN_FAKE_CODEX,
    ORCHESTRATOR_CODEX_ARGS: '[]',
    PLAN_FAKE_STATE: path.join(t.root, 'fake-state'),
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
  const addFlag = () => {
    fs.writeFileSync(path.join(t.main, 'flag.txt'), 'flag\n');
    git(t.main, 'add', 'flag.txt');
    git(t.main, 'commit', '-q', '-m', 'add the flag bad needs');
  };
  return { t, file, env, addFlag };
}

/** Each subtask's status in the store. */
export const retryStatuses = (store: Store, runId: string) => Object.fromEntries(store.listSubtasks(runId).map((s) => [s.id, s.status]));

/** What a `runs resume --json` after the retry of `bad` must end with, on every road: succeeded, all three merged once, in order. */
export function expectRetryResumed(resumed: Awaited<ChildRun['done']>, rig: RetryRig, store: Store, runId: string): void {
  expect(resumed.code, resumed.stderr).toBe(0);
  const final = JSON.parse(resumed.stdout) as { status: string; plan: { result: { allMerged: boolean } } };
  expect(final.status).toBe('succeeded');
  expect(final.plan.result.allMerged).toBe(true);
  expect(retryStatuses(store, runId)).toEqual({ ok: 'merged', bad: 'merged', dep: 'merged' });
  for (const f of ['ok.txt', 'bad.txt', 'dep.txt', 'flag.txt']) expect(fs.existsSync(path.join(rig.t.main, f)), f).toBe(true);
  const merges = git(rig.t.main, 'log', '--first-parent', '--merges', '--reverse', '--format=%s', 'HEAD').split('\n');
  expect(merges).toEqual(['Merge task-ok: Add ok', 'Merge task-bad: Add bad', 'Merge task-dep: Add dep']);
}
