/**
 * `yarn bench worker`: the cost of the worker layer. N trivial workers (real
 * codex, scripted model server, one turn) through runCodexWorker vs the very
 * same codex argv run directly with execa, interleaved in the same run.
 * Reports the overhead ratio (target ≤ 1.05×) and the orchestrator's RSS per
 * concurrent worker. BENCH_WORKERS=n changes N (default 20).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../src/config/config.js';
import { resolveCodexBinary, runCodexWorker } from '../src/workers/codex/index.js';
import { codexProviderArgs, makeCodexHome, resultText, startModelServer } from '../test/helpers/model-server.js';
import { percentile, writeResult } from './write-result.js';

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export async function run(): Promise<void> {
  const n = Number(process.env.BENCH_WORKERS ?? 20);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-worker-')));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  await execa('git', ['init', '-q'], { cwd: repo });
  const server = await startModelServer(() => ({ text: resultText({ goal_met: true, summary: 'nothing to do' }) }));
  const home = makeCodexHome();
  const env = { CODEX_HOME: home.dir, OPENAI_API_KEY: 'bench' };
  const config = loadConfig({
    env: {},
    dotenvDir: null,
    overrides: { ORCHESTRATOR_STATE_DIR: path.join(root, 'state'), ORCHESTRATOR_CODEX_ARGS: JSON.stringify(codexProviderArgs(server.url)) },
  });
  const bin = resolveCodexBinary(config).path;
  const layer: number[] = [];
  const direct: number[] = [];
  try {
    // warm-up: capability detection, codex's own first-run files
    const warm = await runCodexWorker({ prompt: 'warm up', cwd: repo, config, env });
    if (warm.status !== 'complete') throw new Error(`warm-up worker ${warm.status}: ${warm.reason}`);
    const argvOf = (runDir: string): string[] => JSON.parse(fs.readFileSync(path.join(runDir, 'meta.json'), 'utf8')).attempts[0].argv;
    const argv = argvOf(warm.runDir);
    const viaLayer = async (i: number) => {
      const t0 = performance.now();
      const w = await runCodexWorker({ prompt: `trivial task ${i}`, cwd: repo, config, env });
      layer.push(performance.now() - t0);
      if (w.status !== 'complete') throw new Error(`worker ${i} ${w.status}: ${w.reason}`);
    };
    const viaExeca = async () => {
      // the same codex argv the layer builds (same flags, schema, provider), run directly
      const t1 = performance.now();
      const r = await execa(bin, argv, { cwd: repo, env: { ...process.env, ...env }, stdin: 'ignore', reject: false });
      direct.push(performance.now() - t1);
      if (r.exitCode !== 0) throw new Error(`direct codex exited ${r.exitCode}: ${r.stderr.slice(-500)}`);
    };
    // interleaved, alternating which goes first, so drift and caching hit both sides alike
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        await viaLayer(i);
        await viaExeca();
      } else {
        await viaExeca();
        await viaLayer(i);
      }
    }

    // RSS: n workers at once through the layer
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const runs = await Promise.all(
      Array.from({ length: n }, (_, i) => runCodexWorker({ prompt: `concurrent ${i}`, cwd: repo, config, env })),
    );
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const okConcurrent = runs.filter((r) => r.status === 'complete').length;

    const ratioMedian = median(layer) / median(direct);
    const ratioTotal = sum(layer) / sum(direct);
    const rssPerWorkerKiB = Math.round((peak - rssBefore) / n / 1024);
    const result = {
      workers: n,
      codex: bin,
      layerMs: {
        median: Math.round(median(layer)),
        p90: Math.round(
          percentile(
            [...layer].sort((a, b) => a - b),
            90,
          ),
        ),
        total: Math.round(sum(layer)),
      },
      directMs: {
        median: Math.round(median(direct)),
        p90: Math.round(
          percentile(
            [...direct].sort((a, b) => a - b),
            90,
          ),
        ),
        total: Math.round(sum(direct)),
      },
      overheadRatioMedian: Number(ratioMedian.toFixed(3)),
      overheadRatioTotal: Number(ratioTotal.toFixed(3)),
      target: 1.05,
      meetsTarget: ratioTotal <= 1.05,
      concurrent: {
        workers: n,
        complete: okConcurrent,
        rssBeforeMiB: Math.round(rssBefore / 2 ** 20),
        rssPeakMiB: Math.round(peak / 2 ** 20),
        rssPerWorkerKiB,
      },
    };
    if (process.env.BENCH_VERBOSE) console.log({ layer: layer.map(Math.round), direct: direct.map(Math.round) });
    const file = writeResult('worker', result);
    console.log(`workers: ${n} sequential, layer median ${result.layerMs.median} ms vs direct ${result.directMs.median} ms`);
    console.log(
      `overhead: ${result.overheadRatioTotal}× total, ${result.overheadRatioMedian}× median (target ≤ 1.05×) ${result.meetsTarget ? 'OK' : 'OVER'}`,
    );
    console.log(
      `rss: ${result.concurrent.rssBeforeMiB} → ${result.concurrent.rssPeakMiB} MiB with ${n} concurrent workers (${rssPerWorkerKiB} KiB/worker), ${okConcurrent}/${n} complete`,
    );
    console.log(`wrote ${file}`);
  } finally {
    await server.close();
    home.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
