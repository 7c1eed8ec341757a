/**
 * `yarn bench plan-tokens`: orchestrator-model tokens per subtask, the plan road
 * (`submit_plan` + `run_plan`) vs the seed's `run_repo_command` loop, on the same
 * task in the demo's sample repository, with the same scripted worker model and
 * the real codex binary, real git and the real Agents SDK run loop.
 *
 * Tokens are COUNTED FROM THE RECORDED REQUESTS, not taken from the scripted
 * usage (which is a constant): input = characters of what the SDK sends the
 * model each turn (instructions + conversation + tool schemas, as JSON) / 4;
 * output = characters of the scripted answer (tool calls or text, as JSON) / 4.
 * chars/4 is the usual rough English/JSON estimate; both roads are measured the
 * same way, so the ratio is what matters. Reviewer requests (plan road only)
 * are counted separately: they are not orchestrator tokens.
 *
 * BENCH_SUBTASKS=2,4 chooses the plan sizes (default 2,4,8; at most 8).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { codexScript, orchestratorScript, orchestratorTurns } from '../src/demo/demo-scripts.js';
import { createSampleRepo } from '../src/demo/sample-repo.js';
import {
  codexProviderArgs,
  startScriptedModelServer,
  toolOutputs,
  type Script,
  type ScriptedRequest,
  type ScriptedToolCall,
  type ScriptedTurn,
} from '../src/demo/scripted-model-server.js';
import { runOrchestrator } from '../src/orchestrator/run.js';
import { writeResult } from './write-result.js';

type Edit = { slug: string; title: string; files: Record<string, string> };

const HELPERS: [string, string, string][] = [
  ['capitalize', 'capitalize(text)', 'text.charAt(0).toUpperCase() + text.slice(1)'],
  ['truncate', 'truncate(text, max)', 'text.length > max ? text.slice(0, max) + "..." : text'],
  ['reverse', 'reverse(text)', '[...text].reverse().join("")'],
  ['shout', 'shout(text)', 'text.toUpperCase() + "!"'],
  ['whisper', 'whisper(text)', 'text.toLowerCase() + "..."'],
  ['initials', 'initials(text)', 'text.split(" ").map((w) => w.charAt(0)).join("")'],
  ['words', 'words(text)', 'text.split(" ").filter(Boolean).length'],
  ['squash', 'squash(text)', 'text.replace(/\\s+/g, " ")'],
];

export function benchEdits(n: number): Edit[] {
  return HELPERS.slice(0, n).map(([slug, title, body]) => {
    const fn = title.split('(')[0] as string;
    const params = title.slice(title.indexOf('(') + 1, -1);
    return {
      slug,
      title,
      files: {
        [`src/${slug}.js`]: `export function ${fn}(${params}) {\n  return ${body};\n}\n`,
        [`test/${slug}.test.js`]: `import test from "node:test";\nimport assert from "node:assert/strict";\nimport { ${fn} } from "../src/${slug}.js";\n\ntest("${fn}", () => {\n  assert.equal(typeof ${fn}, "function");\n});\n`,
      },
    };
  });
}

const REVIEWER_MARK = 'You are the Reviewer';

/** The plan road as a good orchestrator model plays it: look, submit the plan, run it, report. */
export function planRoadTurns(edits: Edit[]): ScriptedToolCall[][] {
  return [
    [{ name: 'run_repo_command', arguments: { worktree: 'main', command: 'git status --short && git log --oneline -3 && ls' } }],
    [
      {
        name: 'submit_plan',
        arguments: {
          task: 'Add string helpers, each in its own module with a test',
          phases: [
            {
              name: 'Helpers',
              tasks: edits.map((e) => ({
                id: e.slug,
                title: `Add ${e.title}`,
                kind: 'feature',
                prompt: `Add ${e.title} in src/${e.slug}.js with a test in test/${e.slug}.test.js; run npm test. DEMO_EDIT:${e.slug}`,
                files: [`src/${e.slug}.js`, `test/${e.slug}.test.js`],
                dependsOn: [],
                acceptance: 'npm test',
              })),
            },
          ],
        },
      },
    ],
    [{ name: 'run_plan', arguments: {} }],
  ];
}

interface Counted {
  requests: number;
  inputTokens: number;
  outputTokens: number;
}

const est = (chars: number) => Math.ceil(chars / 4);

/** Wraps a script: counts orchestrator requests and answers, and answers the reviewer (approve) on the same server. */
function countingScript(inner: Script, orchestrator: Counted, reviewer: Counted): Script {
  return async (request: ScriptedRequest) => {
    const isReviewer = (request.body.instructions ?? '').includes(REVIEWER_MARK);
    const sent = JSON.stringify({ instructions: request.body.instructions, input: request.body.input, tools: request.body.tools ?? [] });
    const turn: ScriptedTurn = isReviewer
      ? { text: JSON.stringify({ verdict: 'approve', comments: 'The helper and its test match the instructions.', risk: 'low' }) }
      : await inner(request);
    const answered = JSON.stringify(turn.toolCalls ?? turn.text ?? '');
    const c = isReviewer ? reviewer : orchestrator;
    c.requests++;
    c.inputTokens += est(sent.length);
    c.outputTokens += est(answered.length);
    return turn;
  };
}

function planRoadScript(edits: Edit[]): Script {
  const turns = planRoadTurns(edits);
  return ({ body }) => {
    const done = toolOutputs(body).size;
    if (done < turns.length) return { toolCalls: turns[done] as ScriptedToolCall[] };
    return {
      text: 'Done: the program ran the plan; every helper branch was reviewed and merged into main one at a time. Nothing was pushed.',
    };
  };
}

interface RoadResult extends Counted {
  road: 'plan' | 'seed';
  subtasks: number;
  status: string;
  merged: number;
  perSubtask: { input: number; output: number; total: number };
  reviewer: Counted;
  wallMs: number;
}

async function runRoad(road: 'plan' | 'seed', n: number): Promise<RoadResult> {
  const edits = benchEdits(n);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `bench-plan-tokens-${road}-`)));
  const baseDir = path.join(root, 'base');
  createSampleRepo(baseDir);
  const codexHome = path.join(root, 'codex-home');
  fs.mkdirSync(codexHome);
  const prevHome = process.env.CODEX_HOME;
  const prevKey = process.env.OPENAI_API_KEY;
  process.env.CODEX_HOME = codexHome;
  process.env.OPENAI_API_KEY = 'bench';
  const orchestrator: Counted = { requests: 0, inputTokens: 0, outputTokens: 0 };
  const reviewer: Counted = { requests: 0, inputTokens: 0, outputTokens: 0 };
  const codex = await startScriptedModelServer(codexScript(edits));
  const inner = road === 'plan' ? planRoadScript(edits) : orchestratorScript(orchestratorTurns(edits));
  const orch = await startScriptedModelServer(countingScript(inner, orchestrator, reviewer));
  try {
    const config = loadConfig({
      env: {
        ORCHESTRATOR_BASE_DIR: baseDir,
        ORCHESTRATOR_STATE_DIR: path.join(root, 'state'),
        OPENAI_API_KEY: 'bench',
        OPENAI_BASE_URL: orch.url,
        ORCHESTRATOR_MODEL: 'scripted-orchestrator',
        ORCHESTRATOR_CODEX_ARGS: JSON.stringify(codexProviderArgs(codex.url)),
        OPENAI_AGENTS_DISABLE_TRACING: '1',
        ORCHESTRATOR_LOG_LEVEL: 'silent',
      },
      dotenvDir: null,
    });
    const t0 = Date.now();
    const report = await runOrchestrator({ task: `Add ${n} string helpers, each in its own module with a test`, config });
    const wallMs = Date.now() - t0;
    if (report.status !== 'succeeded') throw new Error(`${road} road with ${n} subtasks: ${report.status} ${report.error?.message ?? ''}`);
    const merged = report.merges.length;
    if (merged !== n) throw new Error(`${road} road with ${n} subtasks merged ${merged}`);
    return {
      road,
      subtasks: n,
      status: report.status,
      merged,
      ...orchestrator,
      perSubtask: {
        input: Math.round(orchestrator.inputTokens / n),
        output: Math.round(orchestrator.outputTokens / n),
        total: Math.round((orchestrator.inputTokens + orchestrator.outputTokens) / n),
      },
      reviewer,
      wallMs,
    };
  } finally {
    await orch.close();
    await codex.close();
    if (prevHome === undefined) delete process.env.CODEX_HOME;
    else process.env.CODEX_HOME = prevHome;
    if (prevKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = prevKey;
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const sizes = (process.env.BENCH_SUBTASKS ?? '2,4,8')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((x) => Number.isInteger(x) && x >= 1 && x <= HELPERS.length);
  const rows: { subtasks: number; seed: RoadResult; plan: RoadResult; ratio: number }[] = [];
  for (const n of sizes) {
    const seed = await runRoad('seed', n);
    const plan = await runRoad('plan', n);
    const ratio = plan.perSubtask.total / seed.perSubtask.total;
    rows.push({ subtasks: n, seed, plan, ratio: Math.round(ratio * 1000) / 1000 });
    console.log(
      `${n} subtasks: orchestrator tokens/subtask seed ${seed.perSubtask.total} (${seed.requests} requests) vs plan ${plan.perSubtask.total} (${plan.requests} requests) → plan/seed ${ratio.toFixed(3)}; reviewer ${plan.reviewer.inputTokens + plan.reviewer.outputTokens} tokens (${plan.reviewer.requests} requests)`,
    );
  }
  const file = writeResult('plan-tokens', {
    method:
      'tokens ≈ characters / 4 of each recorded request (instructions + input + tool schemas, JSON) and of each scripted answer; reviewer requests counted apart',
    worker: 'real codex binary with the demo codex script; real git; real Agents SDK run loop',
    rows,
  });
  console.log(`wrote ${file}`);
}
