import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { launchChromium, type Browser } from '../helpers/browser.js';
import { REPO_ROOT, spawnTs } from '../helpers/cli-child.js';
import { startServe, type ServeChild } from '../helpers/dashboard-rig.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

declare const window: any;

/**
 * Load: 20 EventSource clients in Chromium (4 dashboard pages, each with its own
 * stream plus 4 more, on 4 host names so the browser's 6-connections-per-host
 * limit does not apply) while another process writes 1,000 events/s for 10 s.
 * Every client must see every seq exactly once and in order; the server's RSS
 * stays bounded (it buffers nothing per client).
 */
const WRITER = path.join(REPO_ROOT, 'test/helpers/event-writer.ts');
const HOSTS = ['c1.test', 'c2.test', 'c3.test', 'c4.test'];
const EXTRA_PER_PAGE = 4;
const RATE = 1000;
const SECONDS = 10;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

describe('dashboard under load', () => {
  let base: TempBase | undefined;
  let serve: ServeChild | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await serve?.kill();
    base?.cleanup();
  });

  it('20 browser clients, 1,000 events/s for 10 s: no event lost or repeated on any; server RSS bounded', async () => {
    base = makeTempBase();
    const store = openStore({ stateDir: base.stateDir });
    const runId = store.createRun({ task: 'a very chatty run', baseDir: base.baseDir, status: 'running' }).id;
    store.close();
    serve = await startServe(['--base-dir', base.baseDir, '--port', '0', ...HOSTS.flatMap((h) => ['--allow-host', h])], {
      ORCHESTRATOR_STATE_DIR: base.stateDir,
    });
    browser = await launchChromium({ mapTestHosts: true });
    const pages: Page[] = [];
    for (const host of HOSTS) {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://${host}:${serve.port}/runs/${runId}`);
      await page.evaluate(
        ({ runId: id, n }) => {
          const clients: { last: number; count: number; gaps: number; dups: number; open: boolean }[] = [];
          for (let i = 0; i < n; i++) {
            const c = { last: 0, count: 0, gaps: 0, dups: 0, open: false };
            const es = new window.EventSource(`/api/events?run=${encodeURIComponent(id)}`);
            es.addEventListener('open', () => (c.open = true));
            es.addEventListener('run-event', (m: { data: string }) => {
              const seq = JSON.parse(m.data).seq as number;
              if (seq <= c.last) c.dups++;
              else {
                if (seq !== c.last + 1) c.gaps++;
                c.last = seq;
                c.count++;
              }
            });
            clients.push(c);
          }
          window.__load = clients;
        },
        { runId, n: EXTRA_PER_PAGE },
      );
      await page.waitForFunction(() => window.__dashboard.connected && window.__load.every((c: { open: boolean }) => c.open), undefined, {
        timeout: 60_000,
      });
      expect(errors).toEqual([]);
      pages.push(page);
    }
    const rssBefore = rssMiB(serve.pid);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMiB(serve!.pid)), 250);
    const writer = spawnTs([base.stateDir, runId, String(RATE), String(SECONDS)], {}, WRITER);
    const w = await writer.done;
    expect(w.code, w.stderr).toBe(0);
    const total = JSON.parse(w.stdout.trim().split('\n').pop()!).written as number;
    expect(total).toBe(RATE * SECONDS);
    const states = [];
    for (const page of pages) {
      await page.waitForFunction(
        (n) => window.__dashboard.lastSeq === n && window.__load.every((c: { last: number }) => c.last === n),
        total,
        { timeout: 180_000, polling: 500 },
      );
      states.push(
        await page.evaluate(() => ({
          page: { last: window.__dashboard.lastSeq, gaps: window.__dashboard.gaps.length, dups: window.__dashboard.duplicates },
          clients: window.__load.map((c: { last: number; count: number; gaps: number; dups: number }) => ({
            last: c.last,
            count: c.count,
            gaps: c.gaps,
            dups: c.dups,
          })),
        })),
      );
    }
    clearInterval(sampler);
    const clients = states.flatMap((s) => [{ last: s.page.last, count: s.page.last, gaps: s.page.gaps, dups: s.page.dups }, ...s.clients]);
    expect(clients).toHaveLength(HOSTS.length * (1 + EXTRA_PER_PAGE));
    for (const c of clients) expect(c).toEqual({ last: total, count: total, gaps: 0, dups: 0 });
    const peak = Math.max(...samples);
    console.log(
      `dashboard load: ${clients.length} clients × ${total} events, server RSS ${rssBefore.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
    );
    expect(peak).toBeLessThan(rssBefore + 150);
  }, 400_000);
});
