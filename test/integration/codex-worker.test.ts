import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor, runCodexFromGateway, runCodexWorker, type CodexEvent } from '../../src/workers/codex/index.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { lastUserText, resultText, toolOutputs, userText, type Script } from '../helpers/model-server.js';
import { pidAlive, readJsonl, readMeta, startCodexRig, workerConfig, type CodexRig } from '../helpers/codex-worker-env.js';

/**
 * The REAL codex binary (bundled @openai/codex) against the scripted Responses API.
 * Scenario by prompt marker:
 *   FILE=<name>   turn 1: exec_command writes <name>; turn 2: a valid result
 *   BADRESULT     the final message is prose (not the schema) until the repair prompt
 *   NOTYET        goal_met:false with a follow-up (FOLLOWUP-STEP) until that follow-up arrives
 */
const script: Script = ({ body }) => {
  const all = userText(body);
  const last = lastUserText(body);
  const file = /FILE=([A-Za-z0-9_.-]+)/.exec(all)?.[1];
  if (last.includes('not a valid final result')) return { text: resultText({ goal_met: true, summary: 'repaired result' }) };
  if (all.includes('BADRESULT')) return { text: 'All done, the task is finished!' };
  if (all.includes('NOTYET')) {
    if (last.includes('FOLLOWUP-STEP')) return { text: resultText({ goal_met: true, summary: 'finished on deep' }) };
    return { text: resultText({ goal_met: false, summary: 'half way', followup_prompt: 'Do the FOLLOWUP-STEP now.' }) };
  }
  if (file && toolOutputs(body).length === 0) {
    return { toolCalls: [{ name: 'exec_command', arguments: { cmd: `printf 'hello\\n' > ${file}` } }] };
  }
  return {
    text: resultText({ goal_met: true, summary: file ? `created ${file}` : 'nothing to do', notes: 'scripted' }),
    usage: { input_tokens: 321, output_tokens: 12, cached_tokens: 7 },
  };
};

let rig: CodexRig;
let base: TempBase;

beforeAll(async () => {
  rig = await startCodexRig(script);
  base = makeTempBase();
});
afterAll(async () => {
  await rig?.close();
  base?.cleanup();
});

const config = () => workerConfig({ stateDir: base.stateDir, codexArgs: rig.codexArgs });

describe('codex worker on the real codex binary', () => {
  let firstThread = '';

  it('runs a scripted exec_command, returns a structured result and fills the run directory', async () => {
    const events: CodexEvent[] = [];
    const run = await runCodexWorker({
      prompt: 'Create the file. FILE=hello.txt',
      cwd: base.main,
      config: config(),
      env: rig.env,
      runId: 'run-basic',
      workerId: 'w1',
      onEvent: (e) => events.push(e),
    });
    expect(run.reason).toBeUndefined();
    expect(run.status).toBe('complete');
    expect(run.result).toEqual({ goal_met: true, summary: 'created hello.txt', followup_prompt: '', notes: 'scripted' });
    expect(fs.readFileSync(path.join(base.main, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(run.changedFiles).toContain('hello.txt');
    expect(run.exitCode).toBe(0);
    expect(run.attempts).toBe(1);
    expect(run.threadId).toMatch(/^[0-9a-f-]{36}$/);
    firstThread = run.threadId as string;
    expect(run.usage.inputTokens).toBeGreaterThanOrEqual(321 + 100);
    expect(run.usage.cachedInputTokens).toBe(7);
    expect(run.usage.outputTokens).toBeGreaterThan(0);

    expect(run.runDir).toBe(path.join(base.stateDir, 'runs', 'run-basic', 'workers', 'w1'));
    for (const f of ['prompt.md', 'events.jsonl', 'stderr.log', 'last_message.json', 'meta.json'])
      expect(fs.existsSync(path.join(run.runDir, f)), f).toBe(true);
    expect(fs.readFileSync(path.join(run.runDir, 'prompt.md'), 'utf8')).toContain('FILE=hello.txt');
    expect(JSON.parse(fs.readFileSync(path.join(run.runDir, 'last_message.json'), 'utf8')).goal_met).toBe(true);
    const raw = readJsonl(path.join(run.runDir, 'events.jsonl'));
    expect(raw[0]).toEqual({ type: 'thread.started', thread_id: run.threadId });
    expect(
      raw.some((e) => e.type === 'item.completed' && e.item.type === 'command_execution' && e.item.command.includes('hello.txt')),
    ).toBe(true);
    expect(raw.some((e) => e.type === 'turn.completed')).toBe(true);

    const meta = readMeta(run.runDir);
    expect(meta).toMatchObject({ status: 'complete', threadId: run.threadId, cwd: base.main, exitCode: 0, codexVersion: '0.171.0' });
    expect(meta.pid).toBeGreaterThan(0);
    expect(pidAlive(meta.pid)).toBe(false);
    expect(meta.attempts[0].argv).toEqual(expect.arrayContaining(['exec', '--json', '--sandbox', 'workspace-write', '--output-schema']));

    // typed events: the discriminated union, item kinds included
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['thread.started', 'turn.started', 'item.started', 'item.completed', 'turn.completed']),
    );
    const cmd = events.find((e) => e.type === 'item.completed' && e.item.type === 'command_execution');
    expect(cmd).toBeDefined();

    // codex streamed from our server, with the output schema as text.format
    const posts = rig.server.requests.filter((r) => r.path.endsWith('/responses'));
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts.every((r) => r.body.stream === true)).toBe(true);
    expect(JSON.stringify(posts.at(-1)?.body.text ?? {})).toContain('goal_met');
  });

  it('resumes the same thread with a follow-up prompt', async () => {
    const before = rig.server.requests.length;
    const run = await runCodexWorker({
      prompt: 'Now say you are done.',
      cwd: base.main,
      config: config(),
      env: rig.env,
      threadId: firstThread,
      runId: 'run-basic',
      workerId: 'w1-resume',
    });
    expect(run.status).toBe('complete');
    expect(run.threadId).toBe(firstThread);
    const meta = readMeta(run.runDir);
    expect(meta.attempts[0].kind).toBe('resume');
    expect(meta.attempts[0].argv.slice(0, 2)).toEqual(['exec', 'resume']);
    // the resumed conversation carries the first run's history
    const req = rig.server.requests.slice(before).find((r) => r.path.endsWith('/responses'));
    expect(userText(req?.body)).toContain('FILE=hello.txt');
    expect(lastUserText(req?.body)).toContain('Now say you are done.');
  });

  it('repairs an invalid structured result once by resuming the thread', async () => {
    const run = await runCodexWorker({ prompt: 'Answer in prose. BADRESULT', cwd: base.main, config: config(), env: rig.env });
    expect(run.status).toBe('complete');
    expect(run.result?.summary).toBe('repaired result');
    expect(run.attempts).toBe(2);
    const meta = readMeta(run.runDir);
    expect(meta.attempts.map((a: any) => a.kind)).toEqual(['initial', 'repair']);
    expect(meta.attempts[0].resultValid).toBe(false);
    expect(meta.attempts[1].threadId).toBe(meta.attempts[0].threadId);
    expect(meta.attempts[1].argv.slice(0, 2)).toEqual(['exec', 'resume']);
  });

  it('escalates fast → deep on goal_met:false with the follow-up prompt', async () => {
    const run = await runCodexWorker({
      prompt: 'Do the long task. NOTYET',
      cwd: base.main,
      config: config(),
      env: rig.env,
      profile: 'fast',
    });
    expect(run.status).toBe('complete');
    expect(run.result).toMatchObject({ goal_met: true, summary: 'finished on deep' });
    expect(run.profile).toBe('deep');
    const meta = readMeta(run.runDir);
    expect(meta.attempts.map((a: any) => [a.kind, a.profile])).toEqual([
      ['initial', 'fast'],
      ['escalation', 'deep'],
    ]);
    expect(meta.attempts[0].argv).toContain('model_reasoning_effort="low"');
    expect(meta.attempts[1].argv).toContain('model_reasoning_effort="high"');
    expect(meta.attempts[1].argv.at(-1)).toContain('FOLLOWUP-STEP');
  });

  it('does not escalate when escalation is off', async () => {
    const run = await runCodexWorker({
      prompt: 'Do the long task. NOTYET',
      cwd: base.main,
      config: config(),
      env: rig.env,
      escalate: false,
    });
    expect(run.status).toBe('complete');
    expect(run.result?.goal_met).toBe(false);
    expect(run.attempts).toBe(1);
  });

  it("runs the seed's `codex exec --full-auto` through the gateway entry point", async () => {
    const prev = { home: process.env.CODEX_HOME, key: process.env.OPENAI_API_KEY };
    process.env.CODEX_HOME = rig.codexHome;
    process.env.OPENAI_API_KEY = 'test-key';
    try {
      const res = await runCodexFromGateway(['exec', '--full-auto', 'Create the file. FILE=gate.txt'], {
        cwd: base.main,
        config: config(),
        runId: 'run-gw',
      });
      expect(res.ok).toBe(true);
      expect(res.exitCode).toBe(0);
      expect(fs.existsSync(path.join(base.main, 'gate.txt'))).toBe(true);
      expect(res.worker).toMatchObject({ status: 'complete', goalMet: true, summary: 'created gate.txt' });
      expect(res.worker?.changedFiles).toContain('gate.txt');
      expect(res.stdout).toContain('goal_met: true');
      expect(res.stdout).toContain(`run dir: ${res.worker?.runDir}`);
      expect(res.stdout).not.toContain('thread.started');
      const argv: string[] = readMeta(res.worker?.runDir as string).attempts[0].argv;
      expect(argv).not.toContain('--full-auto');
      expect(argv.join(' ')).toContain('--sandbox workspace-write');
    } finally {
      if (prev.home === undefined) delete process.env.CODEX_HOME;
      else process.env.CODEX_HOME = prev.home;
      if (prev.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = prev.key;
    }
  });

  it('doctor finds the native binary, its flags and the scripted model endpoint', async () => {
    const report = await doctor(config(), { timeoutMs: 2000 });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.binary?.native).toBe(true);
    expect(report.version).toBe('0.171.0');
    expect(report.mapping.fullAuto).toBe('--sandbox workspace-write');
    expect(report.model).toMatchObject({ baseUrl: rig.server.url, reachable: true, status: 200 });
    expect(rig.server.requests.some((r) => r.method === 'GET' && r.path === '/v1/models')).toBe(true);
  });

  it('refuses danger-full-access through the gateway unless allowed', async () => {
    const res = await runCodexFromGateway(['exec', '-s', 'danger-full-access', 'x'], { cwd: base.main, config: config() });
    expect(res.ok).toBe(false);
    expect(res.denied).toBe(true);
    expect(res.worker).toBeUndefined();
  });
});
