import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryLedger,
  dispatch,
  httpTaskSource,
  taskContentId,
  tokenMatches,
  withIdempotency,
  type HttpTaskSource,
  type IntakeRecord,
  type RunTask,
} from '../../src/dispatcher/index.js';
import { ConfigError } from '../../src/errors.js';

const TOKEN = 'test-token-0123456789abcdef';
let source: HttpTaskSource | undefined;

afterEach(async () => {
  await source?.close();
  source = undefined;
});

async function start(options: Partial<Parameters<typeof httpTaskSource>[0]> = {}): Promise<{ source: HttpTaskSource; url: string }> {
  source = httpTaskSource({ token: TOKEN, port: 0, defaultBaseDir: '/work/app', ...options });
  const url = await source.start();
  return { source, url };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A raw request (fetch would refuse some of the malformed ones we want to send). */
function request(
  url: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const token = options.token === undefined ? TOKEN : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) {
      if (!('content-type' in headers)) headers['content-type'] = 'application/json';
      else if (headers['content-type'] === '') delete headers['content-type'];
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = http.request(`${url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const post = (url: string, body: unknown, token?: string | null) => request(url, 'POST', '/tasks', { body: JSON.stringify(body), token });

describe('HTTP intake: refusals', () => {
  it('no token configured is a ConfigError naming the variable; a non-loopback host is refused', () => {
    expect(() => httpTaskSource({ token: undefined, port: 0 })).toThrow(ConfigError);
    expect(() => httpTaskSource({ token: '  ', port: 0 })).toThrow(/ORCHESTRATOR_DISPATCH_TOKEN: not set/);
    expect(() => httpTaskSource({ token: TOKEN, port: 0, host: '0.0.0.0' })).toThrow(/refusing to listen on 0\.0\.0\.0/);
    expect(() => httpTaskSource({ token: TOKEN, port: 0, host: '192.168.1.2' })).toThrow(ConfigError);
    expect(() => httpTaskSource({ token: TOKEN, port: 70000 })).toThrow(/port/);
  });

  it('listens on 127.0.0.1 only', async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('bad or missing token → 401 for every route, nothing queued', async () => {
    const { url, source } = await start();
    const missing = await post(url, { task: 'x' }, null);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: 'missing "Authorization: Bearer <token>"' });
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await post(url, { task: 'x' }, 'wrong-token')).status).toBe(401);
    expect((await post(url, { task: 'x' }, `${TOKEN}x`)).status).toBe(401);
    expect((await request(url, 'GET', '/tasks', { token: 'nope' })).status).toBe(401);
    expect((await request(url, 'GET', '/tasks/abc', { token: null })).status).toBe(401);
    expect(source.list()).toEqual([]);
  });

  it('oversized body → 413 (declared or streamed)', async () => {
    const { url, source } = await start({ maxBodyBytes: 1024 });
    const big = await post(url, { task: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('the body is 5011 bytes; the limit is 1024');
    // Chunked, no content-length: counted while streaming.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${url}/tasks`,
        { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(`{"task":"${'y'.repeat(800)}`);
      req.write(`${'y'.repeat(800)}"}`);
      req.end();
    });
    expect(chunked).toBe(413);
    expect(source.list()).toEqual([]);
  });

  it('malformed body → 400 with the problem', async () => {
    const { url } = await start();
    const notJson = await request(url, 'POST', '/tasks', { body: '{"task": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/^the body is not valid JSON/);
    const missing = await post(url, { tsak: 'x' });
    expect(missing).toMatchObject({ status: 400, body: { error: expect.stringContaining('"task" is missing') } });
    expect((await post(url, { task: 'x', baseDir: 'relative' })).body.error).toContain('"baseDir" must be an absolute path');
    expect((await post(url, { task: 'x', id: '../etc' })).body.error).toContain('"id" must be');
    expect((await post(url, { task: 'x', extra: 1 })).body.error).toContain('unknown key "extra"');
    expect((await post(url, ['x'])).body.error).toContain('got array');
  });

  it('unknown route → 404, wrong method → 405 with Allow', async () => {
    const { url } = await start();
    expect((await request(url, 'GET', '/nope')).status).toBe(404);
    expect((await request(url, 'GET', '/tasks/a/b')).status).toBe(404);
    const put = await request(url, 'PUT', '/tasks');
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST');
    expect((await request(url, 'DELETE', '/tasks/x')).headers.allow).toBe('GET');
  });
});

describe('HTTP intake: submissions', () => {
  it('POST queues a task (202); GET /tasks/:id and GET /tasks show it; the dispatch runs it and the record follows', async () => {
    const { url, source } = await start();
    const accepted = await post(url, { id: 'fix-12', task: 'Fix issue 12' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({
      created: true,
      task: {
        id: 'fix-12',
        task: 'Fix issue 12',
        baseDir: '/work/app',
        state: 'queued',
        submittedAt: expect.any(String),
        startedAt: null,
        finishedAt: null,
        runId: null,
        outcome: null,
        error: null,
        origin: 'intake',
      },
    });
    const hashed = await post(url, { task: 'Add a flag', baseDir: '/work/other' });
    expect(hashed.body.task.id).toBe(taskContentId('Add a flag', '/work/other'));

    const controller = new AbortController();
    let seen = 0;
    const runTask: RunTask = async (task) => {
      seen += 1;
      const during = (await request(url, 'GET', `/tasks/${task.id}`)).body.task as IntakeRecord;
      expect(during.state).toBe('running');
      expect(during.startedAt).not.toBeNull();
      if (seen === 2) controller.abort();
      return task.id === 'fix-12'
        ? { status: 'succeeded', merges: 2, tokens: 500, durationMs: 9, runId: 'run-1' }
        : { status: 'failed', merges: 0, tokens: 3, durationMs: 1, runId: 'run-2', error: 'tests failed', interrupted: false };
    };
    const summary = await dispatch(source, runTask, { signal: controller.signal, concurrency: 1 });
    expect(summary).toMatchObject({ total: 2, succeeded: 1, failed: 1 });

    const one = await request(url, 'GET', '/tasks/fix-12');
    expect(one.status).toBe(200);
    expect(one.body.task).toMatchObject({
      state: 'succeeded',
      runId: 'run-1',
      outcome: { status: 'succeeded', merges: 2, tokens: 500 },
      finishedAt: expect.any(String),
    });
    const list = await request(url, 'GET', '/tasks');
    expect(list.body.tasks.map((t: IntakeRecord) => [t.id, t.state, t.error])).toEqual(
      expect.arrayContaining([
        ['fix-12', 'succeeded', null],
        [hashed.body.task.id, 'failed', 'tests failed'],
      ]),
    );
    expect((await request(url, 'GET', '/tasks/unknown')).status).toBe(404);
  });

  it('a duplicate submission returns the existing record (200), not a second run; same id with other text → 409', async () => {
    const { url, source } = await start();
    const first = await post(url, { id: 'same', task: 'do it' });
    const again = await post(url, { id: 'same', task: 'do it' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ created: false, task: first.body.task });
    const byHash1 = await post(url, { task: 'hash me' });
    const byHash2 = await post(url, { task: '  hash me  ' });
    expect([byHash1.status, byHash2.status]).toEqual([202, 200]);
    const clash = await post(url, { id: 'same', task: 'something else' });
    expect(clash.status).toBe(409);
    expect(clash.body.error).toMatch(/already used by a different task/);

    const controller = new AbortController();
    const ran: string[] = [];
    const summary = await dispatch(
      source,
      async (task) => {
        ran.push(task.id);
        if (ran.length === 2) controller.abort();
        return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 };
      },
      { signal: controller.signal },
    );
    expect(ran).toEqual(['same', byHash1.body.task.id]);
    expect(summary.total).toBe(2);
  });

  it('a task known to the ledger from an earlier dispatcher is answered from it (200, origin ledger), not queued', async () => {
    const ledger = createMemoryLedger();
    const earlier = withIdempotency(
      async () => ({ status: 'succeeded', merges: 1, tokens: 9, durationMs: 3, runId: 'run-old' }),
      { forBaseDir: () => ledger },
      'old-owner',
    );
    await earlier({ id: 'fix-1', task: 'Fix 1', baseDir: '/work/app' }, new AbortController().signal);
    const { url, source } = await start({
      lookup: (id) => {
        const e = ledger.get(id);
        return e
          ? {
              state: e.state,
              task: e.task,
              baseDir: e.baseDir,
              runId: e.runId,
              outcome: e.outcome,
              claimedAt: e.claimedAt,
              updatedAt: e.updatedAt,
            }
          : undefined;
      },
    });
    const answer = await post(url, { id: 'fix-1', task: 'Fix 1' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      created: false,
      task: { id: 'fix-1', state: 'succeeded', runId: 'run-old', origin: 'ledger', outcome: { merges: 1 } },
    });
    expect((await request(url, 'GET', '/tasks/fix-1')).body.task.runId).toBe('run-old');
    expect((await post(url, { id: 'fix-1', task: 'Not fix 1' })).status).toBe(409);
    // Nothing was queued: a dispatch aborted at once takes nothing.
    const c = new AbortController();
    c.abort();
    expect(
      (await dispatch(source, async () => ({ status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 }), { signal: c.signal })).total,
    ).toBe(0);
  });

  it('after stopAccepting, POST → 503 and GETs still answer', async () => {
    const { url, source } = await start();
    await post(url, { id: 'a', task: 'a' });
    source.stopAccepting();
    const refused = await post(url, { id: 'b', task: 'b' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect((await request(url, 'GET', '/tasks/a')).status).toBe(200);
  });
});

describe('HTTP intake: bytes, paths and content types', () => {
  it('a body that is not UTF-8 → 400, nothing queued', async () => {
    const { url, source } = await start();
    const bad = Buffer.concat([Buffer.from('{"task": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const answer = await request(url, 'POST', '/tasks', { body: bad });
    expect(answer).toMatchObject({ status: 400, body: { error: 'the body is not valid UTF-8' } });
    // A lone surrogate half in UTF-8 form (CESU) is not UTF-8 either.
    expect(
      (
        await request(url, 'POST', '/tasks', {
          body: Buffer.from([0x7b, 0x22, 0x74, 0x61, 0x73, 0x6b, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
        })
      ).status,
    ).toBe(400);
    expect(source.list()).toEqual([]);
    // Real UTF-8 is fine.
    expect((await post(url, { id: 'u', task: 'übersetze die Fehlermeldung ✓' })).status).toBe(202);
  });

  it('a malformed %-escape in the path → 400 (not 500); a good one is decoded', async () => {
    const { url } = await start();
    const answer = await request(url, 'GET', '/tasks/%ZZ');
    expect(answer).toMatchObject({ status: 400, body: { error: expect.stringContaining('malformed %-escape') } });
    expect((await request(url, 'GET', '/tasks/%E0%A4%A')).status).toBe(400);
    await post(url, { id: 'a.b', task: 'x' });
    expect((await request(url, 'GET', '/tasks/a%2Eb')).status).toBe(200);
    // Auth still comes first.
    expect((await request(url, 'GET', '/tasks/%ZZ', { token: null })).status).toBe(401);
  });

  it('a POST that is not application/json (UTF-8) → 415, nothing queued', async () => {
    const { url, source } = await start();
    const body = JSON.stringify({ task: 'x' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', '']) {
      const answer = await request(url, 'POST', '/tasks', { body, headers: { 'content-type': type } });
      expect(answer.status, type).toBe(415);
      expect(answer.body.error).toMatch(/^expected "content-type: application\/json" \(UTF-8\), got /);
    }
    expect(source.list()).toEqual([]);
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.task+json']) {
      const answer = await request(url, 'POST', '/tasks', {
        body: JSON.stringify({ task: `t ${type}` }),
        headers: { 'content-type': type },
      });
      expect(answer.status, type).toBe(202);
    }
  });
});

describe('HTTP intake: accepted tasks are kept in the store', () => {
  it('a task accepted (202) is in the intake queue until settled; a new intake on the same store queues what is left', async () => {
    const store = createMemoryLedger();
    const { url, source: first } = await start({ queue: store });
    for (const id of ['k1', 'k2', 'k3']) expect((await post(url, { id, task: `kept ${id}` })).status).toBe(202);
    expect(store.listIntake('http').map((e) => e.id)).toEqual(['k1', 'k2', 'k3']);
    // One runs, then the dispatcher stops (a shutdown, or a crash before the others ran).
    const controller = new AbortController();
    await dispatch(
      first,
      async () => {
        controller.abort();
        return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 };
      },
      { signal: controller.signal },
    );
    expect(store.listIntake('http').map((e) => e.id)).toEqual(['k2', 'k3']);
    await first.close();

    const { source: second } = await start({ queue: store });
    expect(second.list().map((r) => [r.id, r.state, r.origin])).toEqual([
      ['k2', 'queued', 'intake'],
      ['k3', 'queued', 'intake'],
    ]);
    const ran: string[] = [];
    const done = new AbortController();
    await dispatch(
      second,
      async (task) => {
        ran.push(`${task.id}@${task.baseDir}`);
        if (ran.length === 2) done.abort();
        return { status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 };
      },
      { signal: done.signal },
    );
    expect(ran).toEqual(['k2@/work/app', 'k3@/work/app']);
    expect(store.listIntake()).toEqual([]);
    store.close();
  });
});

describe('tokenMatches', () => {
  it('compares whole tokens', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN.slice(0, -1), TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
  });
});
