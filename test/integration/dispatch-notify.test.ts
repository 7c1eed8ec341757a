import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startScriptedModelServer, toolOutputs, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { dispatch, listTaskSource } from '../../src/dispatcher/index.js';
import { createNotifier } from '../../src/notify/notifier.js';
import type { Notification } from '../../src/notify/notification.js';
import { makeRunTask } from '../../src/orchestrator/run-task.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

/** Dispatched runs notify like runs: each run's end reaches the webhook with its own run id (real SDK loop, scripted model). */
describe('dispatch notifications', { timeout: 120_000 }, () => {
  const bases: TempBase[] = [];
  let orch: ScriptedModelServer | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await orch?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    for (const b of bases.splice(0)) b.cleanup();
  });

  it('every dispatched run sends its run.succeeded to the webhook', async () => {
    const got: Notification[] = [];
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push(JSON.parse(body) as Notification);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    orch = await startScriptedModelServer(({ body }) =>
      toolOutputs(body).size === 0
        ? { toolCalls: [{ name: 'run_repo_command', arguments: { worktree: 'main', command: 'git status --short' } }] }
        : { text: 'looked; nothing to change' },
    );
    const a = makeTempBase();
    const b = makeTempBase();
    bases.push(a, b);
    const config = loadConfig({
      env: {
        OPENAI_API_KEY: 'k',
        OPENAI_BASE_URL: orch.url,
        ORCHESTRATOR_MODEL: 'scripted',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
        ORCHESTRATOR_WEBHOOK_URL: url,
      },
      dotenvDir: null,
    });
    const source = listTaskSource('test', [
      { id: 'a1', task: 'look at A', baseDir: a.baseDir },
      { id: 'b1', task: 'look at B', baseDir: b.baseDir },
    ]);
    const runTask = makeRunTask(config, { observe: (c) => createNotifier({ config: c, quiet: true, env: {} }) });
    const summary = await dispatch(source, runTask, { concurrency: 2 });
    expect(summary.status).toBe('succeeded');
    const runIds = summary.rows.map((r) => r.runId).sort();
    expect(got.map((n) => n.event)).toEqual(['run.succeeded', 'run.succeeded']);
    expect(got.map((n) => n.runId).sort()).toEqual(runIds);
    expect(got.map((n) => n.task).sort()).toEqual(['look at A', 'look at B']);
    expect(got.every((n) => n.reportPath?.endsWith(`${n.runId}/report.md`))).toBe(true);
  });
});
