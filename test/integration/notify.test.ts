import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifier, type NotifierOptions } from '../../src/notify/notifier.js';
import type { Notification } from '../../src/notify/notification.js';
import { SIGNATURE_HEADER, verifySignature } from '../../src/notify/webhook.js';
import type { RunEvent } from '../../src/orchestrator/events.js';
import { executePlan } from '../../src/orchestrator/plan/execute-plan.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';

/** Notifications through a real local HTTP receiver and a real hook process. */
interface Receiver {
  url: string;
  hits: { headers: http.IncomingHttpHeaders; body: string }[];
  close: () => Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(mode: 'ok' | 'hang' | '500' | '400'): Promise<Receiver> {
  const hits: Receiver['hits'] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hits.push({ headers: req.headers, body });
      if (mode === 'hang') return void open.add(res);
      res.writeHead(mode === 'ok' ? 204 : Number(mode)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = async () => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanups.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits, close };
}

const config = (over: Partial<NotifierOptions['config']> = {}): NotifierOptions['config'] => ({
  pricesFile: undefined,
  webhookUrl: undefined,
  webhookSecret: undefined,
  webhookTimeoutMs: 2000,
  notifyCommand: [],
  notifyDesktop: false,
  stateDir: '/state',
  ...over,
});

const ts = '2026-12-01T09:00:00.000Z';
const runEvents: RunEvent[] = [
  { type: 'run.started', ts, runId: 'r-1', task: 'greet', baseDir: '/b', dryRun: false, model: 'none' },
  { type: 'plan.started', ts, runId: 'r-1', task: 'greet', tasks: 2, maxParallel: 2 },
  { type: 'plan.worker', ts, taskId: 'a', workerId: 'a-1', purpose: 'initial', phase: 'started' },
  {
    type: 'plan.worker',
    ts,
    taskId: 'a',
    workerId: 'a-1',
    purpose: 'initial',
    phase: 'finished',
    status: 'stuck',
    tokens: 120,
    reason: 'no event from codex for 5 s',
  },
  { type: 'subtask.status', ts, taskId: 'a', status: 'merged', reason: null, attempts: 1 },
  { type: 'approval.requested', ts, runId: 'r-1', taskId: 'b', branch: 'task-b', head: 'abc' },
  { type: 'run.finished', ts, runId: 'r-1', status: 'failed', wallTimeMs: 4000 },
];

const quietStream = () => {
  const lines: string[] = [];
  return {
    lines,
    stream: Object.assign(new Writable({ write: (c: Buffer, _e: string, cb: () => void) => (lines.push(c.toString()), cb()) }), {
      isTTY: false,
    }),
  };
};

describe('notifications', { timeout: 60_000 }, () => {
  it('webhook: one signed JSON POST per notification with run id, event, summary, counts, cost and report path; a line per notification on the terminal', async () => {
    const r = await receiver('ok');
    const { lines, stream } = quietStream();
    const n = createNotifier({ config: config({ webhookUrl: r.url, webhookSecret: 's3cret' }), stream, env: {} });
    for (const e of runEvents) n.onEvent(e);
    await n.flush();
    expect(n.sent.map((x) => x.event)).toEqual(['worker.stuck', 'approval.needed', 'run.failed']);
    expect(r.hits.map((h) => h.headers['x-codex-orch-event'])).toEqual(['worker.stuck', 'approval.needed', 'run.failed']);
    for (const h of r.hits) {
      expect(verifySignature(h.body, 's3cret', h.headers[SIGNATURE_HEADER] as string)).toBe(true);
      expect(verifySignature(h.body, 'wrong', h.headers[SIGNATURE_HEADER] as string)).toBe(false);
      expect(h.headers['content-type']).toBe('application/json');
    }
    const last = JSON.parse(r.hits[2]!.body) as Notification;
    expect(last).toEqual({
      version: 1,
      event: 'run.failed',
      runId: 'r-1',
      summary: 'run r-1 failed after 4 s; 1/2 subtask(s) merged',
      ts,
      task: 'greet',
      taskId: null,
      workerId: null,
      counts: { subtasks: 2, merged: 1, failed: 0, awaitingApproval: 1, workers: 1 },
      cost: { tokens: 120, usd: null },
      reportPath: path.join('/state', 'runs', 'r-1', 'report.md'),
    });
    expect(JSON.parse(r.hits[1]!.body)).toMatchObject({
      event: 'approval.needed',
      taskId: 'b',
      summary: 'b waits for your approval: codex-orch runs diff r-1 b, then runs approve (or reject --note "…") r-1 b',
      reportPath: null,
    });
    expect(lines).toEqual([
      'codex-orch: worker a-1 of a is stuck: no event from codex for 5 s\n',
      'codex-orch: b waits for your approval: codex-orch runs diff r-1 b, then runs approve (or reject --note "…") r-1 b\n',
      'codex-orch: run r-1 failed after 4 s; 1/2 subtask(s) merged\n',
    ]);
    expect(n.deliveries.filter((d) => d.channel === 'webhook').every((d) => d.ok && d.attempts === 1)).toBe(true);
  });

  it('a receiver that hangs: each attempt times out, 3 retries, then given up; onEvent never waits for it', async () => {
    const r = await receiver('hang');
    const n = createNotifier({
      config: config({ webhookUrl: r.url, webhookTimeoutMs: 150 }),
      quiet: true,
      env: {},
      webhook: { backoffMs: 10 },
    });
    n.onEvent(runEvents[0]!);
    n.onEvent(runEvents[6]!);
    // Returned before any answer: nothing delivered yet.
    expect(n.deliveries).toEqual([]);
    await n.flush(30_000);
    expect(n.deliveries).toEqual([{ channel: 'webhook', event: 'run.failed', ok: false, attempts: 4, error: 'no answer within 150 ms' }]);
    expect(r.hits).toHaveLength(4);
  });

  it('a receiver that answers 500 is retried 3 times; a 400 is not retried', async () => {
    const five = await receiver('500');
    const n = createNotifier({ config: config({ webhookUrl: five.url }), quiet: true, env: {}, webhook: { backoffMs: 5 } });
    n.onEvent(runEvents[6]!);
    await n.flush();
    expect(five.hits).toHaveLength(4);
    expect(n.deliveries).toMatchObject([{ channel: 'webhook', ok: false, attempts: 4, error: 'HTTP 500' }]);
    const four = await receiver('400');
    const m = createNotifier({ config: config({ webhookUrl: four.url }), quiet: true, env: {}, webhook: { backoffMs: 5 } });
    m.onEvent(runEvents[6]!);
    await m.flush();
    expect(four.hits).toHaveLength(1);
    expect(m.deliveries).toMatchObject([{ ok: false, attempts: 1, error: 'HTTP 400' }]);
  });

  it("hook commands (user-level and the repository's) run as argv without a shell, the payload on stdin", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-hook-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const script = path.join(dir, 'hook.mjs');
    fs.writeFileSync(
      script,
      `import fs from 'node:fs';\nlet s='';process.stdin.on('data',(c)=>s+=c);process.stdin.on('end',()=>fs.appendFileSync(${JSON.stringify(path.join(dir, 'out.jsonl'))}, JSON.stringify({argv: process.argv.slice(2), payload: JSON.parse(s)})+'\\n'));\n`,
    );
    const evil = `$(touch ${path.join(dir, 'pwned')}); echo hi`;
    const n = createNotifier({
      config: config({ notifyCommand: [process.execPath, script, 'user', evil] }),
      repoHook: [process.execPath, script, 'repo'],
      quiet: true,
      env: {},
    });
    n.onEvent(runEvents[0]!);
    n.onEvent(runEvents[6]!);
    await n.flush();
    const out = fs
      .readFileSync(path.join(dir, 'out.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; payload: Notification });
    expect(out.map((o) => o.argv[0]).sort()).toEqual(['repo', 'user']);
    expect(out.find((o) => o.argv[0] === 'user')!.argv).toEqual(['user', evil]);
    expect(out.every((o) => o.payload.event === 'run.failed' && o.payload.runId === 'r-1')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
    const broken = createNotifier({ config: config({ notifyCommand: [path.join(dir, 'no-such-program')] }), quiet: true, env: {} });
    broken.onEvent(runEvents[6]!);
    await broken.flush();
    expect(broken.deliveries).toMatchObject([{ channel: 'hook', ok: false, error: expect.stringContaining('cannot run') }]);
  });

  it('a run whose webhook answers 500 runs to its end unaffected; the failed deliveries are counted', async () => {
    const r = await receiver('500');
    const rig: PlanRig = makePlanRig();
    cleanups.push(() => rig.base.cleanup());
    const n = createNotifier({ config: config({ webhookUrl: r.url }), quiet: true, env: {}, webhook: { backoffMs: 5 } });
    const result = await executePlan(
      plan([{ id: 'greet', title: 'Greeting', prompt: fakePrompt('Write.', { write: { 'hello.txt': 'hello\n' } }) }]),
      {
        ...rig.ctx,
        onEvent: (e) => n.onEvent(e),
      },
    );
    n.onEvent({
      type: 'run.finished',
      ts: new Date().toISOString(),
      runId: rig.ctx.runId,
      status: result.allMerged ? 'succeeded' : 'failed',
      wallTimeMs: result.wallTimeMs,
    });
    await n.flush();
    expect(result.allMerged).toBe(true);
    expect(n.sent.map((x) => x.event)).toEqual(['run.succeeded']);
    expect(n.sent[0]!.counts).toMatchObject({ subtasks: 1, merged: 1, workers: 1 });
    expect(r.hits).toHaveLength(4);
    expect(n.deliveries).toMatchObject([{ channel: 'webhook', ok: false, attempts: 4 }]);
  });
});
