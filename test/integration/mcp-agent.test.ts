import fs from 'node:fs';
import path from 'node:path';
import { Agent, MCPServerStdio, OpenAIProvider, Runner } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startScriptedModelServer,
  toolOutputs,
  type ScriptedModelServer,
  type ScriptedRequest,
  type ScriptedTurn,
} from '../../src/demo/scripted-model-server.js';
import { openSqliteStore } from '../../src/store/index.js';
import { CLI, REPO_ROOT } from '../helpers/cli-child.js';
import { makeTempBase, refsFingerprint, type TempBase } from '../helpers/git-repo.js';
import { PLAN_FAKE_CODEX, fakePrompt } from '../helpers/plan-env.js';

/**
 * An Agents SDK agent uses `codex-orch mcp` through MCPServerStdio, end to end:
 * its model (scripted) checks a command, starts a run, waits for it and reads
 * it; the run is a real detached `codex-orch run` whose own orchestrator model
 * (the same scripted server) submits and runs a plan with the plan fake codex.
 */
process.env.OPENAI_AGENTS_DISABLE_TRACING = '1';
const AGENT = 'You are the MCP client agent';
const REVIEWER = 'You are the Reviewer';
const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

let base: TempBase;
let originRefs: string;
let orch: ScriptedModelServer;

const PLAN = {
  task: 'Add agent.txt',
  phases: [
    {
      name: 'Only',
      tasks: [
        {
          id: 'agent-file',
          title: 'Write agent.txt',
          kind: 'feature',
          prompt: fakePrompt('Write agent.txt.', { write: { 'agent.txt': 'from the agent\n' } }),
          files: ['agent.txt'],
          dependsOn: [],
          acceptance: 'test -f agent.txt',
        },
      ],
    },
  ],
};

/** The client agent: check_command, start_run, wait_run until ended, get_run, then a final answer naming the run. */
function agentTurn(r: ScriptedRequest): ScriptedTurn {
  const outs = toolOutputs(r.body);
  if (!outs.has('c-check'))
    return { toolCalls: [{ name: 'check_command', callId: 'c-check', arguments: { worktree: 'main', command: 'git push origin main' } }] };
  if (!outs.has('c-start')) return { toolCalls: [{ name: 'start_run', callId: 'c-start', arguments: { task: 'Add agent.txt' } }] };
  const runId = /"runId":"([^"]+)"|run (\S+) \(pid/.exec(outs.get('c-start')!)?.slice(1).find(Boolean);
  if (!runId) return { text: `no run id in ${outs.get('c-start')}` };
  const waits = [...outs.keys()].filter((k) => k.startsWith('c-wait-'));
  const lastWait = waits.length ? outs.get(`c-wait-${waits.length}`)! : '';
  if (waits.length === 0 || (!/ended/.test(lastWait) && waits.length < 8)) {
    return { toolCalls: [{ name: 'wait_run', callId: `c-wait-${waits.length + 1}`, arguments: { runId, timeoutSeconds: 40 } }] };
  }
  if (!outs.has('c-get')) return { toolCalls: [{ name: 'get_run', callId: 'c-get', arguments: { runId } }] };
  return { text: `FINAL run=${runId} check=${outs.get('c-check')} get=${outs.get('c-get')}` };
}

beforeAll(async () => {
  base = makeTempBase();
  originRefs = refsFingerprint(base.origin);
  orch = await startScriptedModelServer((r) => {
    const instructions = r.body.instructions ?? '';
    if (instructions.includes(AGENT)) return agentTurn(r);
    if (instructions.includes(REVIEWER)) return { text: JSON.stringify({ verdict: 'approve', comments: 'fine', risk: 'low' }) };
    const done = toolOutputs(r.body).size;
    if (done === 0) return { toolCalls: [{ name: 'submit_plan', arguments: PLAN }] };
    if (done === 1) return { toolCalls: [{ name: 'run_plan', arguments: {} }] };
    return { text: 'Done: agent.txt is merged.' };
  });
}, 60_000);

afterAll(async () => {
  await orch?.close();
  if (base) {
    expect(refsFingerprint(base.origin)).toBe(originRefs);
    base.cleanup();
  }
});

describe('an Agents SDK agent drives codex-orch mcp over MCPServerStdio', { timeout: 300_000 }, () => {
  it('checks a command, starts a run, waits for it and reads it; the work is merged into main/', async () => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ORCHESTRATOR_')) env[k] = v;
    Object.assign(env, {
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: orch.url,
      ORCHESTRATOR_MODEL: 'scripted-orchestrator',
      CODEX_BIN: PLAN_FAKE_CODEX,
      ORCHESTRATOR_CODEX_ARGS: '[]',
      PLAN_FAKE_STATE: path.join(base.root, 'fake-state'),
      OPENAI_AGENTS_DISABLE_TRACING: '1',
    });
    const server = new MCPServerStdio({
      name: 'codex-orch',
      command: tsx,
      args: [CLI, 'mcp', '--base-dir', base.baseDir],
      env,
      cwd: base.root,
      clientSessionTimeoutSeconds: 70,
      timeout: 70_000,
    });
    await server.connect();
    try {
      const agent = new Agent({
        name: 'client',
        instructions: `${AGENT}. Use the codex-orch tools.`,
        model: 'scripted-client',
        mcpServers: [server],
      });
      const runner = new Runner({
        modelProvider: new OpenAIProvider({ openAIClient: new OpenAI({ apiKey: 'k', baseURL: orch.url }), useResponses: true }),
        tracingDisabled: true,
      });
      const result = await runner.run(agent, 'Add agent.txt to the repository through codex-orch.', { maxTurns: 20 });
      const final = String(result.finalOutput);
      expect(final).toMatch(/^FINAL run=/);
      const runId = /run=(\S+)/.exec(final)![1]!;
      expect(final).toMatch(/"allowed":false|denied/);
      expect(final).toMatch(/succeeded/);

      // The agent saw the MCP tools; the run is an ordinary run in the store, merged.
      const agentRequest = orch.requests.find((q) => (q.body.instructions ?? '').includes(AGENT))!;
      expect(agentRequest.body.tools?.map((t) => t.name)).toEqual(
        expect.arrayContaining(['start_run', 'wait_run', 'get_run', 'check_command', 'get_diff']),
      );
      const store = openSqliteStore(path.join(base.baseDir, '.codex-orchestrator'));
      try {
        const run = store.requireRun(runId);
        expect(run.status).toBe('succeeded');
        expect(store.listSubtasks(runId).map((t) => [t.id, t.status])).toEqual([['agent-file', 'merged']]);
      } finally {
        store.close();
      }
      expect(fs.readFileSync(path.join(base.main, 'agent.txt'), 'utf8')).toBe('from the agent\n');
    } finally {
      await server.close();
    }
  });
});
