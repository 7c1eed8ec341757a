import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { html as diffHtml } from 'diff2html';
import { z } from 'zod';
import { isValidTaskId, taskContentId } from '../dispatcher/env-source.js';
import { ConfigError, RetryError, describeError, isOrchestratorError } from '../errors.js';
import { isRetryable } from '../orchestrator/retry.js';
import { runIsLive } from '../orchestrator/session/run-record.js';
import { runListRow, runView } from '../orchestrator/run-view.js';
import { storedRunUsage } from '../orchestrator/run-usage.js';
import type { Logger } from '../logging/logger.js';
import { loadAssets } from './assets.js';
import { attentionItems } from './attention.js';
import { defaultCliCommand, resumeRunDetached, retrySubtaskDetached, stopRun, submitTaskDetached, type CliCommand } from './actions.js';
import { subtaskDiff } from './diff.js';
import { workerLines } from './worker-log.js';
import { EventFeed } from './event-feed.js';
import { HttpError, readJson, sendHtml, sendJson, sendRaw } from './http-kit.js';
import { DASHBOARD_TOKEN_VAR, isLoopbackHost, presentedToken, sameOrigin, tokenCookie, tokenOk } from './security.js';
import { DashboardSources, type FoundRun, type SourceSpec } from './sources.js';
import { resumeSeq, streamRunEvents } from './sse.js';
import { errorPage, runFragments, runPage, runsPage, runsTable, taskPanel, type RunsRow } from './views.js';

export interface DashboardOptions {
  sources: readonly SourceSpec[];
  /** Default 127.0.0.1. Anything but loopback needs a token. */
  host?: string;
  /** 0 = a free port. Default 7420. */
  port?: number;
  /** Host names besides loopback ones that requests may address (a reverse proxy, an /etc/hosts alias). */
  allowedHosts?: readonly string[];
  /** Required for a non-loopback host; optional on loopback. */
  token?: string;
  /** How to start `codex-orch` for resume, retry and submit (default: as this process was started). */
  cli?: CliCommand;
  /** The environment of those processes; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Event polling period (ms); default 25. */
  pollMs?: number;
  heartbeatMs?: number;
  logger?: Logger;
  /** Approval hooks (merges that wait for a person); absent when the build has none. */
  approval?: DashboardApproval;
}

/** The approve/reject functions of the orchestrator, passed in so the dashboard adds no logic of its own. */
export interface DashboardApproval {
  waiting(found: FoundRun): string[];
  approve(found: FoundRun, taskId: string): unknown;
  reject(found: FoundRun, taskId: string, note: string | undefined): unknown;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  readonly sources: DashboardSources;
  readonly feed: EventFeed;
  close(): Promise<void>;
}

/** The runs list shows the newest this many (each row reads its run's records). */
const MAX_LISTED_RUNS = 200;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const submitBody = z
  .object({
    task: z.string().trim().min(1, { message: 'task: must not be empty' }).max(20_000, { message: 'task: at most 20 000 characters' }),
    baseDir: z.string().min(1).optional(),
    id: z.string().optional(),
  })
  .strict();
const rejectBody = z.object({ note: z.string().trim().min(1, { message: 'say what the worker should change' }).max(4000) }).strict();
const emptyBody = z.object({}).strict();

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new HttpError(400, `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  }
  return r.data;
}

export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token?.trim() || undefined;
  const loopback = isLoopbackHost(host);
  const allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  if (!loopback && !token) {
    throw new ConfigError(`--host ${host} is not a loopback address; the dashboard then needs a token`, {
      variable: DASHBOARD_TOKEN_VAR,
      hint: `pass --token <secret> or set ${DASHBOARD_TOKEN_VAR} (e.g. openssl rand -hex 32)`,
    });
  }
  if (options.sources.length === 0)
    throw new ConfigError('no base dir to show', { variable: 'ORCHESTRATOR_BASE_DIR', hint: 'pass --base-dir <dir> (repeatable)' });
  const sources = new DashboardSources(options.sources);
  const feed = new EventFeed({
    pollMs: options.pollMs,
    onError: (err) => options.logger?.warn({ err }, 'dashboard: reading events failed; retrying'),
  });
  const assets = loadAssets();
  const cli = options.cli ?? defaultCliCommand();
  const env = options.env ?? process.env;

  const requireRun = (id: string): FoundRun => {
    if (!RUN_ID.test(id)) throw new HttpError(404, `no run ${id}`);
    const found = sources.find(id);
    if (!found) throw new HttpError(404, `no run ${id} in ${sources.list.map((s) => s.baseDir).join(', ')}`);
    return found;
  };
  const requireTask = (found: FoundRun, taskId: string) => {
    const t = TASK_ID.test(taskId) ? found.source.store.getSubtask(found.run.id, taskId) : undefined;
    if (!t) throw new HttpError(404, `run ${found.run.id} has no subtask ${taskId}`);
    return t;
  };
  const waiting = (found: FoundRun) => {
    try {
      return options.approval?.waiting(found) ?? [];
    } catch {
      return [];
    }
  };
  const recentEvents = (found: FoundRun) => {
    const last = found.source.store.lastEventSeq(found.run.id);
    return found.source.store.listEvents(found.run.id, { since: Math.max(0, last - 200) });
  };
  // Only the buttons this build can act on.
  const available = new Set<string>(['resume', 'retry', ...(options.approval ? ['approve', 'reject'] : [])]);
  const attentionOf = (
    found: FoundRun,
    subtasks = found.source.store.listSubtasks(found.run.id),
    merges = found.source.store.listMerges(found.run.id),
  ) =>
    attentionItems(found.run, subtasks, merges, recentEvents(found), waiting(found), runIsLive(found.source.store, found.run.id)).map(
      (i) => ({
        ...i,
        actions: i.actions.filter((a) => available.has(a)),
      }),
    );
  const runsRows = (): RunsRow[] =>
    sources
      .runs()
      .slice(0, MAX_LISTED_RUNS)
      .map((f) => ({ ...runListRow(f.source.store, f.source.stateDir, f.run), attention: attentionOf(f).length }));
  const detailOf = (found: FoundRun) => {
    const commands = found.source.store.listCommands({ runId: found.run.id });
    const d = runView(found.source.store, found.source.stateDir, found.run);
    return { d, commands };
  };
  const fragmentsOf = (found: FoundRun) => {
    const { d, commands } = detailOf(found);
    return { d, f: runFragments(d, commands.slice(-200), attentionOf(found, d.subtasks, d.merges)) };
  };

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const parts = url.pathname
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
    const get = method === 'GET' || method === 'HEAD';
    const post = method === 'POST';

    // ── pages ──
    if (get && parts.length === 0)
      return sendHtml(
        res,
        200,
        runsPage(
          runsRows(),
          sources.list.map((s) => s.baseDir),
        ),
      );
    if (get && parts.length === 2 && parts[0] === 'fragments' && parts[1] === 'runs')
      return sendJson(res, 200, { runs: runsTable(runsRows()).html });
    if (parts[0] === 'assets' && parts.length === 2 && get) {
      const a = assets.get(parts[1]!);
      if (!a) throw new HttpError(404, `no asset ${parts[1]}`);
      if (req.headers['if-none-match'] === a.etag) {
        res.writeHead(304, { ETag: a.etag });
        res.end();
        return;
      }
      return sendRaw(res, 200, a.body, a.type, { ETag: a.etag, 'Cache-Control': 'no-cache' });
    }
    if (parts[0] === 'runs' && parts.length === 2 && get) {
      const found = requireRun(parts[1]!);
      const { d, f } = fragmentsOf(found);
      return sendHtml(res, 200, runPage(d, f, found.source.store.lastEventSeq(found.run.id)));
    }
    if (parts[0] === 'runs' && parts.length === 3 && parts[2] === 'fragments' && get) {
      const { f } = fragmentsOf(requireRun(parts[1]!));
      return sendJson(res, 200, f);
    }
    if (parts[0] === 'runs' && parts.length === 5 && parts[2] === 'tasks' && get && (parts[4] === 'panel' || parts[4] === 'diff')) {
      const found = requireRun(parts[1]!);
      const t = requireTask(found, parts[3]!);
      if (parts[4] === 'panel') {
        const store = found.source.store;
        const decisions = store
          .listEvents(found.run.id)
          .filter((e) => e.type === 'plan.decision' && (e.data as { taskId?: string } | null)?.taskId === t.id);
        const workers = store.listWorkers(found.run.id).filter((w) => w.subtaskId === t.id);
        const branchKnown = t.status !== 'pending' && t.status !== 'blocked';
        const workerOutput = new Map(workers.map((w) => [w.workerId, w.runDir ? workerLines(w.runDir) : []] as const));
        const { usage } = storedRunUsage(store, found.source.stateDir, found.run);
        return sendHtml(
          res,
          200,
          taskPanel({
            subtask: t,
            workers,
            decisions,
            diffAvailable: branchKnown,
            workerOutput,
            usage: usage.perSubtask.find((u) => u.taskId === t.id),
            retryable: isRetryable(t) && !runIsLive(store, found.run.id),
            workerUsage: usage.perWorker.filter((u) => u.taskId === t.id),
          }).html,
        );
      }
      const diff = await subtaskDiff(found.source.store, found.run.baseDir, t);
      if (!diff) throw new HttpError(404, `subtask ${t.id} has no branch or merge yet`);
      const body =
        diff.diff.trim() === ''
          ? '<p class="empty">No changes.</p>'
          : diffHtml(diff.diff, { drawFileList: true, matching: 'lines', outputFormat: 'line-by-line' });
      return sendHtml(
        res,
        200,
        `<p class="dim">${diff.source === 'merged' ? 'merged into main as' : 'branch, not merged yet:'} <span class="mono">${diff.head.slice(0, 12)}</span>${diff.truncated ? ' (truncated)' : ''}</p>${body}`,
      );
    }

    // ── JSON API ──
    if (parts[0] !== 'api') throw new HttpError(404, `no page ${url.pathname}`);
    const api = parts.slice(1);
    if (api[0] === 'runs' && api.length === 1 && get) return sendJson(res, 200, { runs: runsRows() });
    if (api[0] === 'events' && api.length === 1 && get) {
      const runId = url.searchParams.get('run');
      if (!runId) throw new HttpError(400, 'run: give ?run=<id>');
      const found = requireRun(runId);
      return streamRunEvents(
        req,
        res,
        feed,
        found.source.store,
        found.run.id,
        resumeSeq(req, url),
        options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {},
      );
    }
    if (api[0] === 'tasks' && api.length === 1 && post) {
      const body = parse(submitBody, await readJson(req));
      const source = body.baseDir ? sources.forBaseDir(body.baseDir) : sources.list[0];
      if (!source)
        throw new HttpError(
          400,
          `baseDir: ${body.baseDir} is not served by this dashboard (${sources.list.map((s) => s.baseDir).join(', ')})`,
        );
      const id = body.id?.trim() ? body.id.trim() : taskContentId(body.task, source.baseDir);
      if (!isValidTaskId(id))
        throw new HttpError(400, `id: ${id} is not a task id (letters, digits, . _ -, at most 64, starting with a letter or digit)`);
      const started = submitTaskDetached(source, { id, task: body.task, baseDir: source.baseDir }, cli, env);
      return sendJson(res, 202, { submitted: { id, task: body.task, baseDir: source.baseDir }, pid: started.pid, log: started.log });
    }
    if (api[0] === 'runs' && api.length >= 2) {
      const found = requireRun(api[1]!);
      const store = found.source.store;
      if (api.length === 2 && get) {
        const { d } = detailOf(found);
        return sendJson(res, 200, {
          ...d,
          attention: attentionOf(found, d.subtasks, d.merges),
          lastEventSeq: store.lastEventSeq(found.run.id),
        });
      }
      if (api.length === 3 && api[2] === 'commands' && get) {
        const since = Number(url.searchParams.get('since') ?? 0);
        const limit = Number(url.searchParams.get('limit') ?? 1000);
        if (!Number.isInteger(since) || since < 0) throw new HttpError(400, 'since: expected a command id (a non-negative integer)');
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, 'limit: expected 1 to 10000');
        return sendJson(res, 200, { commands: store.listCommands({ runId: found.run.id, sinceId: since, limit }) });
      }
      if (api.length === 3 && post && (api[2] === 'stop' || api[2] === 'resume')) {
        parse(emptyBody, await readJson(req));
        if (api[2] === 'stop') return sendJson(res, 202, { stopping: found.run.id, ...stopRun(found.source, found.run) });
        const started = resumeRunDetached(found.source, found.run, cli, env);
        return sendJson(res, 202, { resuming: found.run.id, pid: started.pid, log: started.log });
      }
      if (api.length === 5 && api[2] === 'tasks') {
        const t = requireTask(found, api[3]!);
        if (api[4] === 'diff' && get) {
          const diff = await subtaskDiff(store, found.run.baseDir, t);
          if (!diff) throw new HttpError(404, `subtask ${t.id} has no branch or merge yet`);
          return sendJson(res, 200, diff);
        }
        if (post && api[4] === 'retry') {
          parse(emptyBody, await readJson(req));
          const result = await retrySubtaskDetached(found.source, found.run, t.id, cli, env);
          return sendJson(res, 202, { retried: t.id, result });
        }
        if (post && (api[4] === 'approve' || api[4] === 'reject')) {
          const action = api[4];
          const body =
            action === 'reject' ? parse(rejectBody, await readJson(req)) : (parse(emptyBody, await readJson(req)) as { note?: string });
          const a = options.approval;
          if (!a) throw new HttpError(501, `${action} is not available in this build`);
          const result = await (action === 'approve' ? a.approve(found, t.id) : a.reject(found, t.id, body.note));
          return sendJson(res, 200, { [action === 'approve' ? 'approved' : 'rejected']: t.id, result: result ?? null });
        }
      }
    }
    if (!get && !post) throw new HttpError(405, `${method} is not allowed here`, { Allow: 'GET, POST' });
    throw new HttpError(404, `no API route ${method} ${url.pathname}`);
  }

  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return sendJson(res, 400, { error: 'bad request URL' });
    }
    const isApi = url.pathname.startsWith('/api/');
    const fail = (status: number, message: string, headers: Record<string, string> = {}) =>
      isApi || req.headers.accept?.includes('application/json') || url.pathname.includes('/fragments')
        ? sendJson(res, status, { error: message }, headers)
        : sendHtml(res, status, errorPage(status, message), headers);
    // DNS rebinding: on loopback, only loopback names may address the server.
    const hostHeader = req.headers.host ?? '';
    const hostName = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (loopback && !isLoopbackHost(hostName) && !allowedHosts.has(hostName.toLowerCase()))
      return fail(421, `Host ${hostHeader} is not this loopback dashboard`);
    const presented = presentedToken(req, url);
    if (token && !tokenOk(presented.token, token))
      return fail(
        401,
        `a token is needed: open the URL printed by codex-orch serve (?token=…), or send Authorization: Bearer <${DASHBOARD_TOKEN_VAR}>`,
      );
    if (token && presented.from === 'query' && (req.method === 'GET' || req.method === 'HEAD')) {
      // The token from the link goes into an HttpOnly cookie and out of the address bar.
      url.searchParams.delete('token');
      res.writeHead(303, { Location: `${url.pathname}${url.search}`, 'Set-Cookie': tokenCookie(token), 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const so = sameOrigin(req);
      if (!so.ok) return fail(403, `cross-site request refused: ${so.reason}`);
    }
    route(req, res, url).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) return fail(e.status, e.message, e.headers);
      // A refusal of the layers below (not waiting for approval, a run lock held…) is the state's answer, not a crash;
      // a retry of something that is not there is a 404.
      const status = e instanceof RetryError && e.reason === 'not-found' ? 404 : isOrchestratorError(e) ? 409 : 500;
      if (status === 500) options.logger?.warn({ err: e }, 'dashboard request failed');
      fail(status, describeError(e));
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new ConfigError(`port ${options.port ?? 7420} on ${host} is in use`, { hint: 'pass --port <n>, or --port 0 for a free one' })
          : e,
      ),
    );
    server.listen(options.port ?? 7420, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  return {
    url,
    port,
    sources,
    feed,
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sources.close();
    },
  };
}
