/**
 * `yarn bench dashboard`:
 * 1. Latency: an event written to the store (by this process) → visible in the
 *    DOM of a dashboard page in Chromium (the serve CLI in its own process
 *    reading the store). The page stamps Date.now() when it has applied an event;
 *    the event carries the time it was written. 400 events at 40/s.
 * 2. Throughput: 50,000 stored events streamed over SSE to a Node client by the
 *    dashboard (from the store, from seq 0), against a bare node:http SSE server
 *    sending the same messages from memory, in the same run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDashboard } from '../src/dashboard/server.js';
import { sseMessage } from '../src/dashboard/sse.js';
import { openStore } from '../src/store/index.js';
import { launchChromium } from '../test/helpers/browser.js';
import { startServe } from '../test/helpers/dashboard-rig.js';
import { makeTempBase } from '../test/helpers/git-repo.js';
import { percentile, writeResult } from './write-result.js';

const LATENCY_EVENTS = 400;
const LATENCY_RATE = 40;
const THROUGHPUT_EVENTS = 50_000;

declare const window: any;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: +percentile(s, 50).toFixed(1),
    p90: +percentile(s, 90).toFixed(1),
    p99: +percentile(s, 99).toFixed(1),
    max: +(s.at(-1) ?? NaN).toFixed(1),
  };
};

/** Reads an SSE stream until `count` messages; returns the elapsed ms. */
function drain(url: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let seen = 0;
    let tail = '';
    const req = http.get(url, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        const text = tail + c;
        let i = 0;
        for (;;) {
          const j = text.indexOf('\n\nid: ', i);
          if (j < 0) break;
          seen++;
          i = j + 2;
        }
        tail = text.slice(Math.max(i, text.length - 8));
        // the first message has no "\n\n" before its "id: ": count it with the header comment
        if (seen + 1 >= count + 1 && text.endsWith('\n\n')) {
          req.destroy();
          resolve(performance.now() - started);
        }
      });
    });
    req.on('error', (e) => (seen + 1 >= count ? undefined : reject(e)));
  });
}

async function bareSseServer(messages: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
    res.write('retry: 1000\n: bare\n\n');
    let i = 0;
    const pump = () => {
      while (i < messages.length) {
        let chunk = '';
        const end = Math.min(messages.length, i + 500);
        for (; i < end; i++) chunk += messages[i];
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function run(): Promise<void> {
  const t = makeTempBase({ 'README.md': '# bench\n' });
  try {
    // ── 1. write → DOM latency ──
    const store = openStore({ stateDir: t.stateDir });
    const runId = store.createRun({ task: 'latency bench', baseDir: t.baseDir, status: 'running' }).id;
    const serve = await startServe(['--base-dir', t.baseDir, '--port', '0'], { ORCHESTRATOR_STATE_DIR: t.stateDir });
    const browser = await launchChromium();
    const latencies: number[] = [];
    try {
      const page = await browser.context.newPage();
      await page.goto(`${serve.url}runs/${runId}`);
      await page.waitForFunction(() => window.__dashboard.connected, undefined, { timeout: 60_000 });
      const written = new Map<number, number>();
      for (let i = 0; i < LATENCY_EVENTS; i++) {
        const at = Date.now();
        const e = store.appendEvent(runId, { type: 'bench.tick', data: { i, t: at } });
        written.set(e.seq, at);
        await new Promise((r) => setTimeout(r, 1000 / LATENCY_RATE));
      }
      const last = store.lastEventSeq(runId);
      await page.waitForFunction((n) => window.__dashboard.lastSeq === n, last, { timeout: 60_000 });
      const applied = (await page.evaluate(() => [...window.__dashboard.applied.entries()])) as [number, number][];
      for (const [seq, at] of applied) {
        const w = written.get(seq);
        if (w !== undefined) latencies.push(at - w);
      }
    } finally {
      await browser.close();
      await serve.kill('SIGTERM');
    }

    // ── 2. SSE throughput: dashboard (from the store) vs bare node:http (from memory) ──
    const tpRun = store.createRun({ task: 'throughput bench', baseDir: t.baseDir, status: 'running' }).id;
    store.transaction(() => {
      for (let i = 0; i < THROUGHPUT_EVENTS; i++) store.appendEvent(tpRun, { type: 'bench.tick', data: { i, payload: 'x'.repeat(80) } });
    });
    const messages = store.listEvents(tpRun).map(sseMessage);
    const dash = await startDashboard({ sources: [{ baseDir: t.baseDir, stateDir: t.stateDir }], port: 0 });
    const bare = await bareSseServer(messages);
    const dashMs: number[] = [];
    const bareMs: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        dashMs.push(await drain(`${dash.url}api/events?run=${tpRun}`, THROUGHPUT_EVENTS));
        bareMs.push(await drain(bare.url, THROUGHPUT_EVENTS));
      }
    } finally {
      await dash.close();
      await bare.close();
      store.close();
    }
    const best = (xs: number[]) => Math.min(...xs);
    const dashRate = Math.round(THROUGHPUT_EVENTS / (best(dashMs) / 1000));
    const bareRate = Math.round(THROUGHPUT_EVENTS / (best(bareMs) / 1000));
    const lat = stats(latencies);
    const result = {
      latency: {
        what: 'event appended to the store → applied in the page DOM (ms)',
        events: LATENCY_EVENTS,
        ratePerSecond: LATENCY_RATE,
        ...lat,
        targetP99: 150,
        met: lat.p99 <= 150,
      },
      throughput: {
        what: `${THROUGHPUT_EVENTS} stored events streamed over SSE to one Node client (events/s, best of 3)`,
        dashboard: dashRate,
        bareNodeHttp: bareRate,
        ratio: +(dashRate / bareRate).toFixed(2),
        dashboardMs: dashMs.map((x) => +x.toFixed(0)),
        bareMs: bareMs.map((x) => +x.toFixed(0)),
      },
    };
    const file = writeResult('dashboard', result);
    console.log(`write → DOM: p50 ${lat.p50} ms, p99 ${lat.p99} ms (target ≤ 150), n=${lat.n}`);
    console.log(`SSE throughput: dashboard ${dashRate}/s vs bare node:http ${bareRate}/s (ratio ${result.throughput.ratio})`);
    console.log(`→ ${file}`);
  } finally {
    t.cleanup();
  }
}
