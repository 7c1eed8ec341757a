import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { PlanRunContext } from '../../src/orchestrator/plan/execute-plan.js';
import type { Decision } from '../../src/orchestrator/plan/decisions-log.js';
import { manifestFromPlan, planSchema, type Manifest, type PlanInput } from '../../src/scheduler/index.js';
import { newRunId } from '../../src/store/run-dir.js';
import { loadPolicy } from '../../src/tools/run-repo-command/policy-file.js';
import { makeTempBase, type TempBase } from './git-repo.js';

export const PLAN_FAKE_CODEX = fileURLToPath(new URL('../fixtures/bin/plan-fake-codex', import.meta.url));

/** What the plan fake codex does for one subtask (see test/fixtures/bin/plan-fake-codex). */
export interface FakeDirective {
  write?: Record<string, string>;
  append?: Record<string, string>;
  onResume?: Record<string, string>;
  stallFirst?: boolean;
  stallIfEnv?: string;
  commit?: boolean;
  barrier?: { name: string; count: number };
  goal?: boolean;
  sleepMs?: number;
}

export function fakePrompt(text: string, d: FakeDirective): string {
  return `${text} PLANFAKE<<${JSON.stringify(d)}>>`;
}

/** A smoke script for main/: fails when any tracked text file contains BROKEN. */
export const SMOKE_SCRIPT = `import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
const files = execFileSync('git', ['ls-files'], { encoding: 'utf8' }).split('\\n').filter(Boolean);
const bad = files.filter((f) => f !== 'smoke.mjs' && fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes('BROKEN'));
if (bad.length) { console.error('smoke: BROKEN in ' + bad.join(', ')); process.exit(1); }
console.log('smoke ok');
`;

export interface PlanRig {
  base: TempBase;
  config: Config;
  fakeState: string;
  ctx: PlanRunContext;
}

export function makePlanRig(
  options: {
    files?: Record<string, string>;
    settings?: object;
    realCodex?: boolean;
    codexArgs?: string[];
    workerEnv?: NodeJS.ProcessEnv;
  } = {},
): PlanRig {
  const files: Record<string, string> = { 'README.md': '# sample\n', ...(options.files ?? {}) };
  if (options.settings) files['.codex-orchestrator.json'] = `${JSON.stringify(options.settings, null, 2)}\n`;
  const base = makeTempBase(files);
  const fakeState = path.join(base.root, 'fake-state');
  fs.mkdirSync(fakeState, { recursive: true });
  const config = loadConfig({
    env: {},
    dotenvDir: null,
    overrides: {
      ORCHESTRATOR_BASE_DIR: base.baseDir,
      ORCHESTRATOR_STATE_DIR: base.stateDir,
      CODEX_BIN: options.realCodex ? undefined : PLAN_FAKE_CODEX,
      ORCHESTRATOR_CODEX_ARGS: JSON.stringify(options.codexArgs ?? []),
    },
  });
  const runId = newRunId();
  const runDir = path.join(base.stateDir, 'runs', runId);
  const ctx: PlanRunContext = {
    config,
    baseDir: base.baseDir,
    runId,
    runDir,
    gateway: { config, baseDir: base.baseDir, policy: loadPolicy(config.policyFile), commandLog: null },
    workerEnv: { PLAN_FAKE_STATE: fakeState, ...options.workerEnv },
    dirtyWaitMs: 0,
  };
  return { base, config, fakeState, ctx };
}

/** A one-phase plan as the executor takes it: a Manifest (every task pending). */
export function plan(tasks: PlanInput['phases'][number]['tasks'], task = 'the whole plan'): Manifest {
  return manifestFromPlan(planSchema.parse({ version: 1, task, phases: [{ name: 'Phase 1', tasks }] }));
}

export function readDecisions(runDir: string): Decision[] {
  return fs
    .readFileSync(path.join(runDir, 'decisions.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Decision);
}

/** The seq of the first decision matching, or -1. */
export function seqOf(ds: Decision[], match: Partial<Pick<Decision, 'kind' | 'action' | 'taskId'>>): number {
  const d = ds.find(
    (x) =>
      (match.kind === undefined || x.kind === match.kind) &&
      (match.action === undefined || x.action === match.action) &&
      (match.taskId === undefined || x.taskId === match.taskId),
  );
  return d ? d.seq : -1;
}
