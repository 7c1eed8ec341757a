import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardServer } from '../../src/dashboard/server.js';
import { runListRow } from '../../src/orchestrator/run-view.js';
import { openStore } from '../../src/store/index.js';
import { CLI, spawnTs, waitFor } from '../helpers/cli-child.js';
import { startPlanRun, type DashboardRun } from '../helpers/dashboard-rig.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';

/**
 * The dashboard's JSON API, SSE stream and security checks against a real plan
 * run (plan fake codex, real git, the SQLite store), over real HTTP.
 */

const TSX_CLI = [process.execPath, '--import', 'tsx', CLI];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Reads an SSE stream until `count` events arrived, then drops the connection. */
function readSse(
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<{ events: SseEvent[]; comments: string[]; status: number; type: string }> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      const type = String(res.headers['content-type']);
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ events, comments, status: res.statusCode ?? 0, type });
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: Partial<SseEvent> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else if (line.startsWith('id: ')) e.id = Number(line.slice(4));
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
          }
          if (e.id !== undefined) events.push(e as SseEvent);
          if (events.length >= count) {
            req.destroy();
            resolve({ events, comments, status: 200, type });
            return;
          }
        }
      });
    });
    req.on('error', (e) => (events.length >= count ? undefined : reject(e)));
  });
}

describe('dashboard API on a finished plan run', () => {
  let rig: PlanRig;
  let run: DashboardRun;
  let dash: DashboardServer;
  let base: string;

  beforeAll(async () => {
    rig = makePlanRig();
    run = startPlanRun(
      rig,
      plan(
        [
          { id: 'lib-a', title: 'Add a', prompt: fakePrompt('Write lib/a.txt.', { write: { 'lib/a.txt': 'alpha\n' } }), files: ['lib/**'] },
          {
            id: 'docs',
            title: 'Document a',
            prompt: fakePrompt('Write docs/a.md.', { write: { 'docs/a.md': '# a\n' } }),
            files: ['docs/**'],
            dependsOn: ['lib-a'],
          },
        ],
        'add a and its docs',
      ),
    );
    const result = await run.done;
    expect(result.allMerged).toBe(true);
    dash = await startDashboard({
      sources: [{ baseDir: rig.base.baseDir, stateDir: rig.base.stateDir }],
      port: 0,
      cli: TSX_CLI,
      heartbeatMs: 200,
    });
    base = dash.url.replace(/\/$/, '');
  }, 120_000);

  afterAll(async () => {
    await dash?.close();
    run?.store.close();
    rig?.base.cleanup();
  });

  it('GET /api/runs: the rows `runs list --json` prints, with an attention count', async () => {
    const r = await request(`${base}/api/runs`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    expect(r.json.runs).toHaveLength(1);
    const row = r.json.runs[0];
    expect(row).toMatchObject({ id: run.runId, status: 'succeeded', subtasks: { done: 2, total: 2 }, merges: 2, attention: 0 });
    const { attention: _a, ...shape } = row;
    expect(shape).toEqual(runListRow(run.store, rig.base.stateDir, run.store.requireRun(run.runId)));
  });

  it('GET /api/runs/:id: the same object as `runs show --json`, plus attention and the last event seq', async () => {
    const r = await request(`${base}/api/runs/${run.runId}`);
    expect(r.status).toBe(200);
    const cli = spawnTs(['runs', 'show', run.runId, '--json', '--base-dir', rig.base.baseDir], {
      ORCHESTRATOR_STATE_DIR: rig.base.stateDir,
    });
    const out = await cli.done;
    expect(out.code, out.stderr).toBe(0);
    const shown = JSON.parse(out.stdout);
    const { attention, lastEventSeq, ...rest } = r.json;
    expect(rest).toEqual(shown);
    expect(attention).toEqual([]);
    expect(lastEventSeq).toBe(run.store.lastEventSeq(run.runId));
    expect(rest.subtasks.map((t: { id: string; status: string }) => [t.id, t.status])).toEqual([
      ['lib-a', 'merged'],
      ['docs', 'merged'],
    ]);
    expect(rest.merges.filter((m: { outcome: string }) => m.outcome === 'merged')).toHaveLength(2);
  });

  it('GET …/tasks/:task/diff: the merge commit of the subtask, as JSON; the page fragment renders it with diff2html', async () => {
    const r = await request(`${base}/api/runs/${run.runId}/tasks/lib-a/diff`);
    expect(r.status).toBe(200);
    expect(r.json.source).toBe('merged');
    expect(r.json.diff).toContain('+++ b/lib/a.txt');
    expect(r.json.diff).toContain('+alpha');
    expect(r.json.diff).not.toContain('docs/a.md');
    const h = await request(`${base}/runs/${run.runId}/tasks/lib-a/diff`);
    expect(h.status).toBe(200);
    expect(h.body).toContain('d2h-file-wrapper');
    expect(h.body).toContain('lib/a.txt');
  });

  it('GET …/commands: the run’s command log (acceptance, setup… went through the gateway)', async () => {
    const r = await request(`${base}/api/runs/${run.runId}/commands`);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.json.commands)).toBe(true);
    expect(r.json.commands).toEqual(run.store.listCommands({ runId: run.runId }));
    const bad = await request(`${base}/api/runs/${run.runId}/commands?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/limit/);
  });

  it('pages: the runs list and the run page with a node per subtask (data-task, data-status) and the assets served locally', async () => {
    const list = await request(`${base}/`);
    expect(list.status).toBe(200);
    expect(list.headers['content-security-policy']).toContain("script-src 'self'");
    expect(list.body).toContain(`href="/runs/${run.runId}"`);
    expect(list.body).toMatch(/<button type="submit" id="submit-button">\s*Submit task\s*<\/button>/);
    const page = await request(`${base}/runs/${run.runId}`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<button[^>]*data-task="lib-a"\s+data-status="merged"/);
    expect(page.body).toMatch(/<button[^>]*data-task="docs"\s+data-status="merged"/);
    expect(page.body).toMatch(/data-from="lib-a"\s+data-to="docs"/);
    for (const asset of ['dashboard.js', 'dashboard.css', 'diff2html.min.css']) {
      const a = await request(`${base}/assets/${asset}`);
      expect(a.status, asset).toBe(200);
      expect(a.body.length, asset).toBeGreaterThan(500);
    }
    const panel = await request(`${base}/runs/${run.runId}/tasks/docs/panel`);
    expect(panel.status).toBe(200);
    expect(panel.body).toContain('Show diff');
    expect(panel.body).toContain(path.join(rig.base.stateDir, 'runs', run.runId, 'workers'));
    expect(panel.body).toMatch(/<h4>Worker [^<]+<\/h4>\s*<ol class="worker-lines">\s*<li class="w-/);
  });

  it('bad ids are 404, bad bodies 400/413/415, unknown routes 404, with a JSON message', async () => {
    for (const url of [
      `/api/runs/nope-123`,
      `/api/runs/${run.runId}/tasks/nope/diff`,
      `/api/runs/..%2F..%2Fetc/commands`,
      `/api/nothing`,
      `/runs/nope/fragments`,
    ]) {
      const r = await request(`${base}${url}`, { headers: { Accept: 'application/json' } });
      expect(r.status, url).toBe(404);
      expect(typeof r.json.error, url).toBe('string');
    }
    const html404 = await request(`${base}/runs/nope`);
    expect(html404.status).toBe(404);
    expect(html404.headers['content-type']).toContain('text/html');
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 400, /not JSON/],
      [{ task: '' }, 400, /task/],
      [{ task: 'x', extra: 1 }, 400, /extra|Unrecognized/i],
      [{ task: 'x', baseDir: '/elsewhere' }, 400, /not served/],
      [{ task: 'x', id: '../etc' }, 400, /id/],
      [{ task: 'x'.repeat(70_000) }, 413, /limit/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post(`${base}/api/tasks`, body);
      expect(r.status, JSON.stringify(body).slice(0, 40)).toBe(status);
      expect(r.json.error).toMatch(message);
    }
    const form = await request(`${base}/api/tasks`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
    expect(form.status).toBe(415);
    const del = await request(`${base}/api/runs`, { method: 'DELETE' });
    expect(del.status).toBe(405);
  });

  it('stop and resume say why not when the run is finished (409); approve without the approval hooks is 501', async () => {
    const stop = await post(`${base}/api/runs/${run.runId}/stop`, {});
    expect(stop.status).toBe(409);
    expect(stop.json.error).toMatch(/not running/);
    const resume = await post(`${base}/api/runs/${run.runId}/resume`, {});
    expect(resume.status).toBe(409);
    expect(resume.json.error).toMatch(/nothing to resume/);
    const approve = await post(`${base}/api/runs/${run.runId}/tasks/lib-a/approve`, {});
    expect(approve.status).toBe(501);
  });

  it('retry: a merged subtask is 409, an unknown one 404, a cross-site POST 403; nothing is recorded', async () => {
    const merged = await post(`${base}/api/runs/${run.runId}/tasks/lib-a/retry`, {});
    expect(merged.status).toBe(409);
    expect(merged.json.error).toMatch(/^subtask lib-a of run \S+ is merged already; there is nothing to retry$/);
    const unknown = await post(`${base}/api/runs/${run.runId}/tasks/nope/retry`, {});
    expect(unknown.status).toBe(404);
    expect((await post(`${base}/api/runs/no-such-run/tasks/lib-a/retry`, {})).status).toBe(404);
    const csrf = await post(`${base}/api/runs/${run.runId}/tasks/lib-a/retry`, {}, { Origin: 'https://evil.example' });
    expect(csrf.status).toBe(403);
    expect(run.store.listEvents(run.runId).some((e) => e.type === 'retry.request')).toBe(false);
  });

  it('SSE: every event with its seq as id; a dropped connection resumes after Last-Event-ID with nothing lost or repeated', async () => {
    const total = run.store.lastEventSeq(run.runId);
    expect(total).toBeGreaterThan(10);
    const first = await readSse(`${base}/api/events?run=${run.runId}`, 7);
    expect(first.type).toContain('text/event-stream');
    expect(first.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(first.events[0]!.event).toBe('run-event');
    expect(first.events[0]!.data).toMatchObject({ seq: 1, type: 'plan.started' });
    // the connection was dropped after 7; the browser reconnects with Last-Event-ID: 7
    const rest = await readSse(`${base}/api/events?run=${run.runId}&since=2`, total - 7, { 'Last-Event-ID': '7' });
    const ids = rest.events.map((e) => e.id);
    expect(ids[0]).toBe(8);
    expect(ids).toEqual(Array.from({ length: total - 7 }, (_, i) => i + 8));
    const stored = run.store.listEvents(run.runId);
    expect(rest.events.map((e) => e.data.type)).toEqual(stored.slice(7).map((e) => e.type));
    const missing = await readSse(`${base}/api/events?run=nope`, 1);
    expect(missing.status).toBe(404);
  });

  it('SSE: new events written by another connection (another process) arrive live; heartbeats keep the stream open', async () => {
    const writer = openStore({ stateDir: rig.base.stateDir });
    const from = writer.lastEventSeq(run.runId);
    const reading = readSse(`${base}/api/events?run=${run.runId}&since=${from}`, 3);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) writer.appendEvent(run.runId, { type: 'test.tick', data: { i } });
    const got = await reading;
    writer.close();
    expect(got.events.map((e) => [e.id, e.data.data.i])).toEqual([
      [from + 1, 0],
      [from + 2, 1],
      [from + 3, 2],
    ]);
    expect(got.comments.some((c) => c.startsWith(': heartbeat'))).toBe(true);
  });

  it('CSRF: a cross-site POST is refused (Origin, Sec-Fetch-Site); a foreign Host header is refused (DNS rebinding)', async () => {
    const evil = await post(`${base}/api/runs/${run.runId}/stop`, {}, { Origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.json.error).toMatch(/cross-site/);
    const site = await post(`${base}/api/runs/${run.runId}/stop`, {}, { 'Sec-Fetch-Site': 'cross-site' });
    expect(site.status).toBe(403);
    const same = await post(`${base}/api/runs/${run.runId}/stop`, {}, { Origin: base, 'Sec-Fetch-Site': 'same-origin' });
    expect(same.status).toBe(409); // past the check, refused for its own reason
    const rebound = await request(`${base}/api/runs`, { headers: { Host: `attacker.example:${dash.port}` } });
    expect(rebound.status).toBe(421);
  });
});

describe('dashboard token', () => {
  let rig: PlanRig;
  let dash: DashboardServer;
  let base: string;
  const token = 'a-test-token-of-some-length-0123456789';

  beforeAll(async () => {
    rig = makePlanRig();
    const store = openStore({ stateDir: rig.base.stateDir });
    store.createRun({ task: 'tokened', baseDir: rig.base.baseDir, status: 'succeeded' });
    store.close();
    dash = await startDashboard({ sources: [{ baseDir: rig.base.baseDir, stateDir: rig.base.stateDir }], port: 0, token, cli: TSX_CLI });
    base = dash.url.replace(/\/$/, '');
  });
  afterAll(async () => {
    await dash?.close();
    rig?.base.cleanup();
  });

  it('without the token: 401 for pages, API and events; a wrong one too', async () => {
    for (const url of ['/', '/api/runs', '/api/events?run=x', '/assets/dashboard.js']) {
      const r = await request(`${base}${url}`);
      expect(r.status, url).toBe(401);
    }
    expect((await request(`${base}/api/runs`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await request(`${base}/api/runs`, { headers: { Cookie: 'codex_orch_token=wrong' } })).status).toBe(401);
  });

  it('the link with ?token= sets an HttpOnly SameSite=Strict cookie and redirects to the address without it; the cookie and a bearer header work', async () => {
    const r = await request(`${base}/?token=${token}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const pair = cookie.split(';')[0]!;
    const page = await request(`${base}/`, { headers: { Cookie: pair } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('tokened');
    const api = await request(`${base}/api/runs`, { headers: { Authorization: `Bearer ${token}` } });
    expect(api.status).toBe(200);
    expect(api.json.runs[0].task).toBe('tokened');
    // The token does not let a cross-site page post: the same-origin check still applies.
    const csrf = await post(`${base}/api/tasks`, { task: 'x' }, { Cookie: pair, Origin: 'http://evil.example' });
    expect(csrf.status).toBe(403);
  });

  it('a non-loopback host without a token does not start', async () => {
    await expect(
      startDashboard({ sources: [{ baseDir: rig.base.baseDir, stateDir: rig.base.stateDir }], host: '0.0.0.0', port: 0 }),
    ).rejects.toThrow(/token/);
  });
});

describe('submitting a task', () => {
  let rig: PlanRig;
  let model: ModelServer;
  let dash: DashboardServer;

  beforeAll(async () => {
    rig = makePlanRig();
    model = await startModelServer(() => ({ text: 'Nothing needed doing.' }));
    dash = await startDashboard({
      sources: [{ baseDir: rig.base.baseDir, stateDir: rig.base.stateDir }],
      port: 0,
      cli: TSX_CLI,
      env: {
        ...process.env,
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: model.url,
        ORCHESTRATOR_MODEL: 'scripted',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
        ORCHESTRATOR_STATE_DIR: rig.base.stateDir,
      },
    });
  });
  afterAll(async () => {
    await dash?.close();
    await model?.close();
    rig?.base.cleanup();
  });

  it('POST /api/tasks runs it through the dispatcher (its own process): the run appears in the store; the same id twice runs once', async () => {
    const r = await post(`${dash.url}api/tasks`, { task: 'say hello', id: 'hello-1' });
    expect(r.status).toBe(202);
    expect(r.json.submitted).toEqual({ id: 'hello-1', task: 'say hello', baseDir: rig.base.baseDir });
    const store = openStore({ stateDir: rig.base.stateDir });
    try {
      await waitFor(
        () => store.listRuns().some((x) => x.task === 'say hello' && x.status === 'succeeded'),
        'the submitted run to finish',
        90_000,
      );
      await waitFor(() => fs.readFileSync(r.json.log, 'utf8').includes('hello-1'), 'the dispatcher summary in the log', 60_000);
      expect(JSON.parse(fs.readFileSync(r.json.log, 'utf8'))).toMatchObject({ status: 'succeeded' });
      const again = await post(`${dash.url}api/tasks`, { task: 'say hello', id: 'hello-1' });
      expect(again.status).toBe(202);
      await waitFor(
        () => fs.existsSync(again.json.log) && fs.readFileSync(again.json.log, 'utf8').includes('}'),
        'the second dispatcher to finish',
        90_000,
      );
      expect(store.listRuns().filter((x) => x.task === 'say hello')).toHaveLength(1);
    } finally {
      store.close();
    }
  }, 180_000);
});

describe('codex-orch serve: bad input', () => {
  it('a non-loopback --host without a token, a bad --port, a missing base dir: exit 2 with one line saying what to do', async () => {
    const rig = makePlanRig();
    try {
      const env = { ORCHESTRATOR_DASHBOARD_TOKEN: '', ORCHESTRATOR_BASE_DIR: '' };
      const open = await spawnTs(['serve', '--host', '0.0.0.0', '--port', '0', '--base-dir', rig.base.baseDir], env).done;
      expect(open.code).toBe(2);
      expect(open.stderr).toMatch(/not a loopback address.*token.*ORCHESTRATOR_DASHBOARD_TOKEN/s);
      expect(open.stdout).toBe('');
      const port = await spawnTs(['serve', '--port', '99999', '--base-dir', rig.base.baseDir], env).done;
      expect(port.code).toBe(2);
      expect(port.stderr).toMatch(/--port 99999/);
      const none = await spawnTs(['serve', '--port', '0', '--base-dir', `${rig.base.root}/nope`], env).done;
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/not a directory/);
      const short = await spawnTs(['serve', '--port', '0', '--token', 'short', '--base-dir', rig.base.baseDir], env).done;
      expect(short.code).toBe(2);
      expect(short.stderr).toMatch(/ORCHESTRATOR_DASHBOARD_TOKEN: expected a token of at least 16/);
    } finally {
      rig.base.cleanup();
    }
  }, 120_000);
});

describe('stop and resume from the dashboard', () => {
  it('Stop sends SIGTERM to the process holding the run lock (the run records its stop); Resume starts `runs resume` and the run finishes', async () => {
    const rig = makePlanRig();
    let slow = true;
    const model = await startModelServer(() => (slow ? { text: 'thinking…', delayMs: 60_000 } : { text: 'Done: nothing else needed.' }));
    const env = {
      ORCHESTRATOR_STATE_DIR: rig.base.stateDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: model.url,
      ORCHESTRATOR_MODEL: 'scripted',
      OPENAI_AGENTS_DISABLE_TRACING: '1',
    };
    const child = spawnTs(['run', '--base-dir', rig.base.baseDir, '-q', 'wait for the model'], env);
    const dash = await startDashboard({
      sources: [{ baseDir: rig.base.baseDir, stateDir: rig.base.stateDir }],
      port: 0,
      cli: TSX_CLI,
      env: { ...process.env, ...env },
    });
    const store = openStore({ stateDir: rig.base.stateDir });
    try {
      await waitFor(
        () => store.listRuns().length === 1 && model.requests.some((r) => r.method === 'POST'),
        'the run to call its model',
        60_000,
      );
      const runId = store.listRuns()[0]!.id;
      const detail = await request(`${dash.url}api/runs/${runId}`);
      expect(detail.json.live).toBe(true);
      expect(detail.json.lock.pid).toBe(child.child.pid);
      const stop = await post(`${dash.url}api/runs/${runId}/stop`, {});
      expect(stop.status).toBe(202);
      expect(stop.json).toMatchObject({ stopping: runId, pid: child.child.pid, signal: 'SIGTERM' });
      const exited = await child.done;
      expect(exited.signal).toBeNull(); // it handled the signal: stopped cleanly and exited
      expect(exited.code).toBe(130);
      const stopped = store.requireRun(runId);
      expect(['aborted', 'interrupted']).toContain(stopped.status);
      const again = await post(`${dash.url}api/runs/${runId}/stop`, {});
      expect(again.status).toBe(409);

      slow = false;
      const resume = await post(`${dash.url}api/runs/${runId}/resume`, {});
      expect(resume.status).toBe(202);
      await waitFor(() => store.requireRun(runId).status === 'succeeded', 'the resumed run to succeed', 90_000);
      expect(fs.readFileSync(resume.json.log, 'utf8')).not.toMatch(/error/i);
    } finally {
      store.close();
      child.child.kill('SIGKILL');
      await dash.close();
      await model.close();
      rig.base.cleanup();
    }
  }, 180_000);
});
