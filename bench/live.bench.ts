/**
 * `yarn bench live`: the live view under load. 16 fake workers each emit a
 * worker.activity event 50 times a second for a few seconds into a live view
 * drawing on a fake 160×40 terminal. Reports the latency from an event to the
 * first frame that shows it (or a later state of the same worker) as p50/p99,
 * and the CPU the display uses as a fraction of one core: the process's CPU
 * time with the view minus the same event load with a view that draws nothing,
 * over the wall time. Targets: p99 ≤ 50 ms, display CPU ≤ 5 %.
 */
import { Writable } from 'node:stream';
import { createLiveView } from '../src/cli/live/index.js';
import { loadPrices } from '../src/cost/index.js';
import type { RunEvent } from '../src/orchestrator/events.js';
import { percentile, writeResult } from './write-result.js';

const WORKERS = 16;
const RATE = 50;
const SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 6);

interface Pending {
  seq: number;
  at: number;
}

async function load(
  draw: boolean,
): Promise<{ cpuMs: number; wallMs: number; events: number; latencies: number[]; bytes: number; frames: number }> {
  const pending: Pending[][] = Array.from({ length: WORKERS }, () => []);
  const latencies: number[] = [];
  let bytes = 0;
  let frames = 0;
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const now = performance.now();
      const text = String(chunk);
      bytes += text.length;
      frames++;
      const seen = new Map<number, number>();
      for (const m of text.matchAll(/#(\d\d):(\d{6})/g)) {
        const w = Number(m[1]);
        seen.set(w, Math.max(seen.get(w) ?? -1, Number(m[2])));
      }
      for (const [w, s] of seen) {
        const list = pending[w]!;
        while (list.length && list[0]!.seq <= s) latencies.push(now - list.shift()!.at);
      }
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 160, rows: 40 });
  const view = createLiveView({ stream, env: {}, prices: loadPrices(), workerModel: 'gpt-5.1-codex' });
  const onEvent = draw ? (e: RunEvent) => view.onEvent(e) : () => {};
  const ts = new Date().toISOString();
  onEvent({ type: 'plan.started', ts, runId: 'bench', task: 'bench', tasks: WORKERS, maxParallel: WORKERS });
  for (let w = 0; w < WORKERS; w++)
    onEvent({ type: 'plan.worker', ts, taskId: `t${w}`, workerId: `t${w}-1`, purpose: 'initial', phase: 'started' });
  let events = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const seqs = new Array<number>(WORKERS).fill(0);
  await new Promise<void>((resolve) => {
    // One timer per worker at its own rate; the ticks drift under load, so the count is measured, not assumed.
    const timers = Array.from({ length: WORKERS }, (_, w) =>
      setInterval(() => {
        const seq = ++seqs[w]!;
        const id = String(w).padStart(2, '0');
        if (draw) pending[w]!.push({ seq, at: performance.now() });
        events++;
        const activity =
          seq % 10 === 0
            ? ({ kind: 'usage', usage: { input: 1200, cachedInput: 800, output: 90 } } as const)
            : ({
                kind: 'command',
                text: `#${id}:${String(seq).padStart(6, '0')} npm test -- --run src/file-${seq % 7}.test.ts`,
                phase: 'started',
                exitCode: null,
              } as const);
        if (activity.kind === 'usage') pending[w]!.pop(); // usage changes tokens, not the marker
        onEvent({ type: 'worker.activity', ts, worktree: `task-worker-${id}`, taskId: `t${w}`, workerId: `t${w}-1`, activity });
      }, 1000 / RATE),
    );
    setTimeout(() => {
      for (const t of timers) clearInterval(t);
      resolve();
    }, SECONDS * 1000);
  });
  // Let the last frame land.
  await new Promise((r) => setTimeout(r, 200));
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  view.stop();
  return { cpuMs: (c.user + c.system) / 1000, wallMs, events, latencies, bytes, frames };
}

export async function run(): Promise<void> {
  await load(true); // warm-up (JIT, module loading)
  const base = await load(false);
  const live = await load(true);
  const lat = [...live.latencies].sort((a, b) => a - b);
  const displayCpu = Math.max(0, live.cpuMs / live.wallMs - base.cpuMs / base.wallMs);
  const result = {
    workers: WORKERS,
    eventsPerSecondPerWorker: RATE,
    seconds: SECONDS,
    eventsEmitted: live.events,
    eventsPerSecondMeasured: Math.round(live.events / (live.wallMs / 1000)),
    latencyMs: {
      p50: Number(percentile(lat, 50).toFixed(2)),
      p99: Number(percentile(lat, 99).toFixed(2)),
      max: Number((lat.at(-1) ?? NaN).toFixed(2)),
      samples: lat.length,
    },
    frames: live.frames,
    framesPerSecond: Number((live.frames / (live.wallMs / 1000)).toFixed(1)),
    bytesPerSecond: Math.round(live.bytes / (live.wallMs / 1000)),
    cpu: {
      withViewMs: Math.round(live.cpuMs),
      withoutViewMs: Math.round(base.cpuMs),
      wallMs: Math.round(live.wallMs),
      displayFractionOfOneCore: Number(displayCpu.toFixed(4)),
    },
    targets: { p99Ms: 50, displayCpu: 0.05 },
    met: { p99: percentile(lat, 99) <= 50, cpu: displayCpu <= 0.05 },
  };
  const file = writeResult('live', result);
  console.log(
    `live view: ${result.eventsPerSecondMeasured} events/s from ${WORKERS} workers; event → line p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms; ` +
      `${result.framesPerSecond} frames/s; display CPU ${(displayCpu * 100).toFixed(1)} % of one core → ${file}`,
  );
}
