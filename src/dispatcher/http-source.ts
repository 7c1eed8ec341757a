/**
 * The HTTP intake (`codex-orch dispatch --http <port>`): a JSON API on the
 * loopback interface only, the building block for chat-bot and tracker
 * integrations.
 *
 *   POST /tasks      {task, id?, baseDir?}  → 202 {created: true, task}   (queued)
 *                                            → 200 {created: false, task} (the id is known: the existing record, no second run)
 *                                            → 409 same id, different task text or base dir
 *   GET  /tasks/:id  → 200 {task} | 404
 *   GET  /tasks      → 200 {tasks: [...]} (newest first)
 *
 * Every request needs `Authorization: Bearer <ORCHESTRATOR_DISPATCH_TOKEN>`
 * (compared in constant time) → 401. A POST body must be `application/json`
 * (UTF-8) → 415; bodies over `maxBodyBytes` → 413, bytes that are not UTF-8,
 * bad JSON or schema → 400 with the problem, a malformed %-escape in the path
 * → 400, unknown route → 404, wrong method → 405.
 * An accepted task is written to the intake queue (`queue`: the state dir's
 * store) before it is answered 202 and removed once a dispatcher has settled
 * it, so a restarted intake offers the tasks it had accepted but not finished
 * again; earlier runs are recognised through the idempotency ledger (`lookup`).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { HttpError, readBody } from '../http/read-body.js';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { parseTaskObject } from './env-source.js';
import { RETRYABLE_FAILURES, type IntakeEntry, type TaskFailure, type TaskLedger, type TaskOutcome } from '../store/task-ledger.js';
import type { DispatchTask, SourcedTask, TaskSource } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const DISPATCH_TOKEN_VAR = 'ORCHESTRATOR_DISPATCH_TOKEN';

export type IntakeState = 'queued' | 'running' | 'succeeded' | 'failed' | 'rejected' | 'interrupted';

/** What GET /tasks/:id returns (inside `{task: …}`). */
export interface IntakeRecord {
  id: string;
  task: string;
  /** The base dir it runs in: its own, else the dispatcher's default, else null (it will be rejected). */
  baseDir: string | null;
  state: IntakeState;
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  runId: string | null;
  outcome: TaskOutcome | null;
  error: string | null;
  /** Where the record comes from: this intake (or its queue, kept across a restart), or the ledger of an earlier dispatcher. */
  origin: 'intake' | 'ledger';
}

/** An earlier run of a task id, found in the idempotency ledger. */
export interface KnownTask {
  state: 'running' | 'succeeded' | 'failed' | 'interrupted';
  task: string;
  baseDir: string;
  runId?: string;
  outcome?: TaskOutcome;
  /** Why it failed (see TaskFailure); absent for old entries and successes. */
  failure?: TaskFailure;
  claimedAt: string;
  updatedAt: string;
}

export interface HttpSourceOptions {
  /** The bearer token; empty or missing is a ConfigError (the intake never runs open). */
  token: string | undefined;
  /** 0 = a free port. */
  port: number;
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost; anything else is a ConfigError. */
  host?: string;
  maxBodyBytes?: number;
  /** Base dir of tasks that give none (for ids and the ledger lookup). */
  defaultBaseDir?: string;
  /** Finds an earlier run of a task id (the dispatcher ledger), so a duplicate across restarts is answered, not run. */
  lookup?: (id: string, baseDir: string) => KnownTask | undefined;
  /**
   * Where accepted tasks are kept until settled (a state dir's store); when
   * given, the tasks it holds for this source are queued again at creation.
   */
  queue?: Pick<TaskLedger, 'addIntake' | 'removeIntake' | 'listIntake'>;
  name?: string;
}

export interface HttpTaskSource extends TaskSource {
  /** Binds the server; resolves with its URL (`http://127.0.0.1:<port>`). */
  start(): Promise<string>;
  readonly url: string | undefined;
  /** A copy of one record. */
  get(id: string): IntakeRecord | undefined;
  list(): IntakeRecord[];
  /** Stops accepting (POST → 503) but keeps answering GETs; `close` stops the server. */
  stopAccepting(): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Constant-time comparison of the presented token with the configured one (hashing first evens out the lengths). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && presented.length === expected.length;
}

/** `application/json` or `application/<x>+json`, with no charset or a UTF-8 one. */
function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const [type = '', ...params] = value.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) return false;
  const charset = params.find((p) => p.startsWith('charset='));
  return charset === undefined || /^charset="?utf-?8"?$/.test(charset);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function httpTaskSource(options: HttpSourceOptions): HttpTaskSource {
  const token = options.token?.trim();
  if (!token) {
    throw new ConfigError(`${DISPATCH_TOKEN_VAR}: not set; the HTTP intake needs a bearer token`, {
      variable: DISPATCH_TOKEN_VAR,
      hint: `set ${DISPATCH_TOKEN_VAR} to a long random secret (e.g. openssl rand -hex 32) and send it as "Authorization: Bearer <token>"`,
    });
  }
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new ConfigError(
      `dispatch --http: refusing to listen on ${host}; the intake binds to the loopback interface only (127.0.0.1, ::1)`,
      {
        hint: 'put a reverse proxy with TLS in front of it to reach it from elsewhere',
      },
    );
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new ConfigError(`dispatch --http: expected a port from 0 to 65535, got ${options.port}`);
  }
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const name = options.name ?? 'http';
  const defaultBaseDir = options.defaultBaseDir === undefined ? undefined : path.resolve(options.defaultBaseDir);

  const records = new Map<string, IntakeRecord>();
  const queue: SourcedTask[] = [];
  let wake: (() => void) | undefined;
  let accepting = true;
  let url: string | undefined;
  const server = http.createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const copy = (r: IntakeRecord): IntakeRecord => JSON.parse(JSON.stringify(r)) as IntakeRecord;
  const now = (): string => new Date().toISOString();

  const fromLedger = (id: string, known: KnownTask): IntakeRecord => ({
    id,
    task: known.task,
    baseDir: known.baseDir,
    state: known.state,
    submittedAt: known.claimedAt,
    startedAt: known.claimedAt,
    finishedAt: known.state === 'running' ? null : known.updatedAt,
    runId: known.runId ?? null,
    outcome: known.outcome ?? null,
    error: known.outcome?.error ?? null,
    origin: 'ledger',
  });

  const enqueue = (task: DispatchTask, record: IntakeRecord): void => {
    const finish = (state: IntakeState, outcome: TaskOutcome | null, error: string | null): void => {
      record.state = state;
      record.finishedAt = now();
      record.outcome = outcome;
      record.runId = outcome?.runId ?? record.runId;
      record.error = error;
      // Settled: a dispatcher has recorded it (the ledger, an inbox result); the intake need not keep it.
      options.queue?.removeIntake(record.id);
    };
    const sourced: SourcedTask = {
      ...task,
      source: name,
      onStart: () => {
        record.state = 'running';
        record.startedAt = now();
      },
      ack: async (outcome) => finish(outcome.status, outcome, outcome.error ?? null),
      fail: async (reason) => finish('rejected', null, reason instanceof Error ? reason.message : reason),
      release: async () => {
        // Interrupted (or not started) by a shutdown: it stays in the intake queue, so the next
        // intake on this state dir offers it again (and an interrupted run resumes).
        record.state = record.startedAt ? 'interrupted' : 'queued';
        if (record.startedAt) record.finishedAt = now();
      },
    };
    queue.push(sourced);
    const w = wake;
    wake = undefined;
    w?.();
  };

  function restore(kept: IntakeEntry): void {
    if (records.has(kept.id)) return;
    const record: IntakeRecord = {
      id: kept.id,
      task: kept.task,
      baseDir: kept.baseDir,
      state: 'queued',
      submittedAt: kept.submittedAt,
      startedAt: null,
      finishedAt: null,
      runId: null,
      outcome: null,
      error: null,
      origin: 'intake',
    };
    records.set(kept.id, record);
    enqueue(kept.baseDir !== null ? { id: kept.id, task: kept.task, baseDir: kept.baseDir } : { id: kept.id, task: kept.task }, record);
  }

  const submit = (body: unknown): { status: number; body: unknown } => {
    const parsed = parseTaskObject(body);
    if (!parsed.ok) throw new HttpError(400, `invalid task: ${parsed.error}`);
    const task = parsed.task;
    const baseDir = task.baseDir ?? defaultBaseDir ?? null;
    const existing = records.get(task.id);
    if (existing) {
      if (existing.task !== task.task || existing.baseDir !== baseDir) {
        return { status: 409, body: { error: `task id "${task.id}" is already used by a different task`, task: copy(existing) } };
      }
      return { status: 200, body: { created: false, task: copy(existing) } };
    }
    const known = baseDir !== null ? options.lookup?.(task.id, baseDir) : undefined;
    // Known and final (succeeded, or failed on its own): answered from the ledger; otherwise it runs (again).
    const final =
      known !== undefined &&
      (known.state === 'succeeded' || (known.state === 'failed' && !RETRYABLE_FAILURES.includes(known.failure ?? 'run')));
    if (known && (final || known.state === 'running')) {
      if (known.task !== task.task || path.resolve(known.baseDir) !== baseDir) {
        return {
          status: 409,
          body: { error: `task id "${task.id}" is already used by a different task`, task: fromLedger(task.id, known) },
        };
      }
      const record = fromLedger(task.id, known);
      records.set(task.id, record);
      return { status: 200, body: { created: false, task: copy(record) } };
    }
    const record: IntakeRecord = {
      id: task.id,
      task: task.task,
      baseDir,
      state: 'queued',
      submittedAt: now(),
      startedAt: null,
      finishedAt: null,
      runId: known?.runId ?? null,
      outcome: null,
      error: null,
      origin: 'intake',
    };
    // Kept before it is acknowledged: a 202 survives a restart.
    options.queue?.addIntake({ id: task.id, task: task.task, baseDir, source: name, submittedAt: record.submittedAt });
    records.set(task.id, record);
    enqueue(baseDir !== null ? { ...task, baseDir } : task, record);
    return { status: 202, body: { created: true, task: copy(record) } };
  };

  // Tasks accepted by an earlier intake on this store and not settled: queued again, in their order.
  for (const kept of options.queue?.listIntake(name) ?? []) restore(kept);

  const handle = async (req: http.IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    } catch {
      throw new HttpError(400, 'the request URL is malformed');
    }
    const item = /^\/tasks\/([^/]+)$/.exec(pathname);
    const allowed = pathname === '/tasks' ? ['GET', 'POST'] : item ? ['GET'] : undefined;
    if (!allowed) throw new HttpError(404, `no route ${pathname}; use POST /tasks, GET /tasks or GET /tasks/:id`);
    if (!allowed.includes(req.method ?? ''))
      throw new HttpError(405, `${req.method} is not allowed on ${pathname}`, { allow: allowed.join(', ') });
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m || !tokenMatches(m[1] as string, token)) {
      throw new HttpError(401, m ? 'bad token' : 'missing "Authorization: Bearer <token>"', {
        'www-authenticate': 'Bearer realm="codex-orchestrator"',
      });
    }
    if (req.method === 'GET') {
      if (item) {
        let id: string;
        try {
          id = decodeURIComponent(item[1] as string);
        } catch {
          throw new HttpError(400, `the task id in ${JSON.stringify(pathname)} has a malformed %-escape`);
        }
        const record = records.get(id);
        if (!record) throw new HttpError(404, `no task with id "${id}"`);
        return { status: 200, body: { task: copy(record) } };
      }
      const all = [...records.values()]
        .sort((a, b) => (a.submittedAt < b.submittedAt ? 1 : a.submittedAt > b.submittedAt ? -1 : 0))
        .map(copy);
      return { status: 200, body: { tasks: all } };
    }
    if (!accepting) throw new HttpError(503, 'the dispatcher is shutting down; submit again later', { 'retry-after': '5' });
    // Read (bounded) first, so an oversized body is a 413 whatever it claims to be.
    const raw = await readBody(req, maxBody);
    const contentType = req.headers['content-type'];
    if (!isJsonContentType(contentType)) {
      throw new HttpError(
        415,
        `expected "content-type: application/json" (UTF-8), got ${contentType === undefined ? 'none' : JSON.stringify(contentType)}`,
        {
          accept: 'application/json',
        },
      );
    }
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      throw new HttpError(400, 'the body is not valid UTF-8');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, `the body is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    return submit(body);
  };

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(text);
    };
    handle(req).then(
      (r) => send(r.status, r.body, r.headers),
      (e: unknown) => {
        if (e instanceof HttpError) {
          // After a refused body, do not keep reading it: close the connection once answered.
          const close: Record<string, string> = e.status === 413 ? { connection: 'close' } : {};
          send(e.status, { error: e.message }, { ...e.headers, ...close });
          if (e.status === 413) req.resume();
        } else {
          send(500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
        }
      },
    );
  });

  return {
    name,
    get url() {
      return url;
    },
    start: () =>
      new Promise<string>((resolve, reject) => {
        const onError = (e: NodeJS.ErrnoException): void => {
          reject(new ConfigError(`dispatch --http: cannot listen on ${host}:${options.port} (${e.code ?? e.message})`, { cause: e }));
        };
        server.once('error', onError);
        server.listen(options.port, host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${shown}:${address.port}`;
          resolve(url);
        });
      }),
    get: (id) => {
      const r = records.get(id);
      return r ? copy(r) : undefined;
    },
    list: () => [...records.values()].map(copy),
    stopAccepting: () => {
      accepting = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        accepting = false;
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
    async *tasks(signal: AbortSignal): AsyncGenerator<SourcedTask> {
      const aborted = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      for (;;) {
        if (signal.aborted) {
          accepting = false;
          return;
        }
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
      }
    },
  };
}
