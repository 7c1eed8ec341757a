/**
 * `yarn bench dispatch`: throughput and latency of the Task Dispatcher itself,
 * on no-op tasks (an in-process RunTask that resolves at once), so the figures
 * are the dispatcher's own overhead, not an orchestrator's.
 *
 * - list source (DISPATCH_TASKS-like) → dispatch, concurrency 8 over 64 base
 *   dirs, against a bare `Promise.all` over the same no-op calls (and a plain
 *   sequential loop), measured in the same run; with and without the SQLite
 *   idempotency ledger.
 * - file inbox (one-shot) on N files.
 * - HTTP intake: N POSTs from 16 concurrent keep-alive clients → dispatch,
 *   against a bare node:http server answering the same POSTs with the same
 *   no-op; latency from submit (before the POST) to start (the runner called).
 * Figures are ratios against the baselines; rounds alternate, best round kept.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  dispatch,
  httpTaskSource,
  inboxTaskSource,
  ledgerSet,
  listTaskSource,
  withIdempotency,
  type DispatchTask,
  type RunTask,
  type SourcedTask,
  type TaskSource,
} from '../src/dispatcher/index.js';
import { percentile, writeResult } from './write-result.js';

const N = 5000;
const HTTP_N = 2000;
const INBOX_N = 500;
const ROUNDS = 3;
const CONCURRENCY = 8;
const BASE_DIRS = 64;
const CLIENTS = 16;
const TOKEN = 'bench-token-0123456789abcdef';

const noop: RunTask = async () => ({ status: 'succeeded', merges: 0, tokens: 0, durationMs: 0 });

const tasksOf = (n: number, prefix: string): DispatchTask[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, task: `no-op ${i}`, baseDir: `/bench/repo-${i % BASE_DIRS}` }));

const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000);
const round2 = (x: number): number => Math.round(x * 100) / 100;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Stamps the moment each task leaves the source, to measure source → start latency. */
function stamped(source: TaskSource, yieldedAt: Map<string, number>): TaskSource {
  return {
    name: source.name,
    async *tasks(signal) {
      for await (const t of source.tasks(signal)) {
        yieldedAt.set(t.id, performance.now());
        yield t as SourcedTask;
      }
    },
  };
}

async function listRound(withLedger: boolean, stateRoot: string): Promise<{ ms: number; latencies: number[] }> {
  const tasks = tasksOf(N, withLedger ? `l${Math.random().toString(36).slice(2, 8)}-` : 't');
  const yieldedAt = new Map<string, number>();
  const latencies: number[] = [];
  const ledgers = withLedger ? ledgerSet(() => stateRoot) : undefined;
  const inner: RunTask = async (task, signal) => {
    latencies.push(performance.now() - (yieldedAt.get(task.id) ?? performance.now()));
    return noop(task, signal);
  };
  const runTask = ledgers ? withIdempotency(inner, ledgers, 'bench') : inner;
  const t0 = performance.now();
  const summary = await dispatch(stamped(listTaskSource('bench', tasks), yieldedAt), runTask, { concurrency: CONCURRENCY });
  const ms = performance.now() - t0;
  ledgers?.close();
  if (summary.succeeded !== N) throw new Error(`list round: ${summary.succeeded}/${N} succeeded`);
  return { ms, latencies };
}

async function promiseAllRound(): Promise<number> {
  const tasks = tasksOf(N, 'p');
  const signal = new AbortController().signal;
  const t0 = performance.now();
  await Promise.all(tasks.map((t) => noop({ ...t, baseDir: t.baseDir as string }, signal)));
  return performance.now() - t0;
}

async function sequentialRound(): Promise<number> {
  const tasks = tasksOf(N, 's');
  const signal = new AbortController().signal;
  const t0 = performance.now();
  for (const t of tasks) await noop({ ...t, baseDir: t.baseDir as string }, signal);
  return performance.now() - t0;
}

async function inboxRound(root: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(root, 'inbox-'));
  for (let i = 0; i < INBOX_N; i++)
    fs.writeFileSync(
      path.join(dir, `t${String(i).padStart(5, '0')}.json`),
      JSON.stringify({ id: `i${i}`, task: `no-op ${i}`, baseDir: `/bench/repo-${i % BASE_DIRS}` }),
    );
  const t0 = performance.now();
  const summary = await dispatch(inboxTaskSource({ dir }), noop, { concurrency: CONCURRENCY });
  const ms = performance.now() - t0;
  if (summary.succeeded !== INBOX_N) throw new Error(`inbox round: ${summary.succeeded}/${INBOX_N}`);
  return ms;
}

/** Sends n POSTs from `clients` concurrent keep-alive clients; resolves with each task's submit time. */
async function postAll(url: string, n: number, prefix: string): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const submittedAt = new Map<string, number>();
  let next = 0;
  const post = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = `${prefix}${i}`;
      const body = JSON.stringify({ id, task: `no-op ${i}`, baseDir: `/bench/repo-${i % BASE_DIRS}` });
      submittedAt.set(id, performance.now());
      const req = http.request(
        `${url}/tasks`,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 202 || res.statusCode === 200 ? resolve() : reject(new Error(`POST → ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < n) await post(next++);
    }),
  );
  agent.destroy();
  return submittedAt;
}

async function httpRound(): Promise<{ ms: number; latencies: number[] }> {
  const source = httpTaskSource({ token: TOKEN, port: 0 });
  const url = await source.start();
  const controller = new AbortController();
  const startedAt = new Map<string, number>();
  let done = 0;
  const runTask: RunTask = async (task, signal) => {
    startedAt.set(task.id, performance.now());
    done += 1;
    if (done === HTTP_N) setImmediate(() => controller.abort());
    return noop(task, signal);
  };
  const prefix = `h${Math.random().toString(36).slice(2, 8)}-`;
  const t0 = performance.now();
  const running = dispatch(source, runTask, { concurrency: CONCURRENCY, signal: controller.signal });
  const submittedAt = await postAll(url, HTTP_N, prefix);
  const summary = await running;
  const ms = performance.now() - t0;
  await source.close();
  if (summary.succeeded !== HTTP_N) throw new Error(`http round: ${summary.succeeded}/${HTTP_N}`);
  const latencies = [...startedAt].map(([id, at]) => at - (submittedAt.get(id) as number));
  return { ms, latencies };
}

/** The HTTP baseline: a bare server that parses the JSON body and runs the no-op inline. */
async function bareHttpRound(): Promise<{ ms: number; latencies: number[] }> {
  const startedAt = new Map<string, number>();
  const signal = new AbortController().signal;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const task = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DispatchTask & { baseDir: string };
      startedAt.set(task.id, performance.now());
      void noop(task, signal).then(() => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  const t0 = performance.now();
  const submittedAt = await postAll(url, HTTP_N, 'b');
  const ms = performance.now() - t0;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  const latencies = [...startedAt].map(([id, at]) => at - (submittedAt.get(id) as number));
  return { ms, latencies };
}

const best = <T extends { ms: number }>(xs: T[]): T => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
const latencyOf = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50Ms: round3(percentile(sorted, 50)), p99Ms: round3(percentile(sorted, 99)) };
};

export async function run(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dispatch-'));
  try {
    // Warm-up (JIT, module init) so the first measured round is not penalised.
    await listRound(false, root);
    await promiseAllRound();

    const list: { ms: number; latencies: number[] }[] = [];
    const ledger: { ms: number; latencies: number[] }[] = [];
    const all: { ms: number }[] = [];
    const seq: { ms: number }[] = [];
    const inbox: { ms: number }[] = [];
    const httpR: { ms: number; latencies: number[] }[] = [];
    const bare: { ms: number; latencies: number[] }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      all.push({ ms: await promiseAllRound() });
      list.push(await listRound(false, root));
      seq.push({ ms: await sequentialRound() });
      ledger.push(await listRound(true, path.join(root, `state-${r}`)));
      inbox.push({ ms: await inboxRound(root) });
      bare.push(await bareHttpRound());
      httpR.push(await httpRound());
    }
    const L = best(list);
    const A = best(all);
    const S = best(seq);
    const G = best(ledger);
    const I = best(inbox);
    const H = best(httpR);
    const B = best(bare);
    const result = {
      tasks: { list: N, http: HTTP_N, inbox: INBOX_N },
      concurrency: CONCURRENCY,
      baseDirs: BASE_DIRS,
      rounds: ROUNDS,
      listSource: {
        tasksPerSecond: rate(N, L.ms),
        sourceToStart: latencyOf(L.latencies),
        baselinePromiseAllTasksPerSecond: rate(N, A.ms),
        baselineSequentialTasksPerSecond: rate(N, S.ms),
        ratioVsPromiseAll: round2(L.ms / A.ms),
        ratioVsSequential: round2(L.ms / S.ms),
      },
      listSourceWithSqliteLedger: {
        tasksPerSecond: rate(N, G.ms),
        sourceToStart: latencyOf(G.latencies),
        ratioVsNoLedger: round2(G.ms / L.ms),
      },
      inboxOneShot: { tasksPerSecond: rate(INBOX_N, I.ms) },
      httpIntake: {
        clients: CLIENTS,
        tasksPerSecond: rate(HTTP_N, H.ms),
        submitToStart: latencyOf(H.latencies),
        baselineBareServerTasksPerSecond: rate(HTTP_N, B.ms),
        baselineSubmitToStart: latencyOf(B.latencies),
        ratioVsBareServer: round2(H.ms / B.ms),
      },
    };
    const file = writeResult('dispatch', result);
    console.log(
      [
        `list source: ${result.listSource.tasksPerSecond} tasks/s (Promise.all ${result.listSource.baselinePromiseAllTasksPerSecond}/s, ${result.listSource.ratioVsPromiseAll}× its time; sequential loop ${result.listSource.baselineSequentialTasksPerSecond}/s, ${result.listSource.ratioVsSequential}×); source→start p50 ${result.listSource.sourceToStart.p50Ms} ms, p99 ${result.listSource.sourceToStart.p99Ms} ms`,
        `with the SQLite ledger: ${result.listSourceWithSqliteLedger.tasksPerSecond} tasks/s (${result.listSourceWithSqliteLedger.ratioVsNoLedger}× the time without)`,
        `inbox (one-shot, ${INBOX_N} files): ${result.inboxOneShot.tasksPerSecond} tasks/s`,
        `http intake: ${result.httpIntake.tasksPerSecond} tasks/s (bare server ${result.httpIntake.baselineBareServerTasksPerSecond}/s, ${result.httpIntake.ratioVsBareServer}× its time); submit→start p50 ${result.httpIntake.submitToStart.p50Ms} ms, p99 ${result.httpIntake.submitToStart.p99Ms} ms (bare: p50 ${result.httpIntake.baselineSubmitToStart.p50Ms}, p99 ${result.httpIntake.baselineSubmitToStart.p99Ms})`,
        `written to ${file}`,
      ].join('\n'),
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  // Issue 7 asks `yarn bench dispatch` for the crash-resume time too: it is its own
  // benchmark (bench/results/resume.json), run here as part of this one.
  console.log('crash-resume of a run with 10 finished subtasks (also: yarn bench resume):');
  const resume = (await import('./resume.bench.js')) as { run: () => Promise<void> };
  await resume.run();
}
