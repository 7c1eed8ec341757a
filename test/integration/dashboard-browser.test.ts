import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from '../helpers/browser.js';
import { startPlanRun, startServe, type DashboardRun, type ServeChild } from '../helpers/dashboard-rig.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';

// Page functions run in the browser; the test program has no DOM types.
declare const document: any;
declare const window: any;

/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core)
 * during a scripted plan run: the graph changes live, the diff opens, the page
 * survives a killed server, a task submitted from the form shows up. The serve
 * process is the real CLI in its own process, reading the store the run writes.
 * With DASHBOARD_SCREENSHOTS=<dir> it also saves light and dark screenshots.
 */
/** With DASHBOARD_SCREENSHOTS=<dir>: the page at 1280×800, light and dark (docs/dashboard.png, docs/dashboard-dark.png). */
async function saveScreenshots(page: Page): Promise<void> {
  const dir = process.env.DASHBOARD_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.waitForTimeout(500);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(dir, 'dashboard.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(dir, 'dashboard-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('the dashboard in Chromium', () => {
  let rig: PlanRig;
  let run: DashboardRun;
  let model: ModelServer;
  let serve: ServeChild;
  let browser: Browser;
  let page: Page;
  const consoleErrors: { text: string; phase: string }[] = [];
  let phase = 'start';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    rig = makePlanRig({ files: { 'lib/.keep': '' } });
    model = await startModelServer(() => ({ text: 'Nothing needed doing.' }));
    env = {
      ORCHESTRATOR_STATE_DIR: rig.base.stateDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: model.url,
      ORCHESTRATOR_MODEL: 'scripted',
    };
    run = startPlanRun(
      rig,
      plan(
        [
          {
            id: 'alpha',
            title: 'Write alpha',
            prompt: fakePrompt('Write lib/alpha.txt.', { write: { 'lib/alpha.txt': 'alpha one\n' }, barrier: { name: 'alpha', count: 2 } }),
            files: ['lib/alpha.txt'],
          },
          {
            id: 'beta',
            title: 'Write beta',
            prompt: fakePrompt('Write lib/beta.txt.', { write: { 'lib/beta.txt': 'beta\n' }, barrier: { name: 'beta', count: 2 } }),
            files: ['lib/**'],
            dependsOn: ['alpha'],
          },
          {
            id: 'gamma',
            title: 'Docs',
            prompt: fakePrompt('Write docs/g.md.', { write: { 'docs/g.md': '# g\n' }, barrier: { name: 'gamma', count: 2 } }),
            files: ['docs/**', 'lib/alpha.txt'],
          },
        ],
        'three subtasks for the dashboard',
      ),
      { maxParallel: 2 },
    );
    serve = await startServe(['--base-dir', rig.base.baseDir, '--port', '0'], env);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push({ text: m.text(), phase });
    });
    page.on('pageerror', (e) => consoleErrors.push({ text: `pageerror: ${e.message}`, phase }));
  }, 120_000);

  afterAll(async () => {
    for (const b of ['alpha', 'beta', 'gamma']) run?.release(b);
    await run?.done.catch(() => undefined);
    await browser?.close();
    await serve?.kill();
    await model?.close();
    run?.store.close();
    rig?.base.cleanup();
  });

  const node = (id: string) => page.locator(`.node[data-task="${id}"]`);
  const statusOf = (id: string) => node(id).getAttribute('data-status');

  it('prints its URL as the first line and serves the run page', () => {
    expect(serve.firstLine).toMatch(/^codex-orch dashboard: http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('a subtask goes from running to merged without a reload; its diff opens', async () => {
    await page.goto(`${serve.url}runs/${run.runId}`);
    await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
    await page.waitForFunction(
      () => document.querySelector('.node[data-task="alpha"]')?.getAttribute('data-status') === 'running',
      undefined,
      { timeout: 60_000 },
    );
    expect(await statusOf('beta')).toBe('pending');
    run.release('alpha');
    await page.waitForFunction(
      () => document.querySelector('.node[data-task="alpha"]')?.getAttribute('data-status') === 'merged',
      undefined,
      { timeout: 60_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42); // the same document: no reload
    // the merge queue shows it, the dependency edge is drawn
    await page.waitForSelector('#queue li.m-merged', { timeout: 30_000 });
    expect(await page.locator('path.edge.dep[data-from="alpha"][data-to="beta"]').count()).toBe(1);
    expect(await page.locator('path.edge.overlap').count()).toBeGreaterThan(0); // gamma shares lib/alpha.txt with alpha

    await node('alpha').click();
    await page.waitForSelector('.task-panel[data-task="alpha"]', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Show diff of alpha' }).click();
    await page.waitForSelector('#diff .d2h-file-wrapper', { timeout: 30_000 });
    expect(await page.locator('#diff').innerText()).toContain('alpha one');
    // the event lines of the selected subtask
    expect(await page.locator('#event-lines li').count()).toBeGreaterThan(0);
    expect(await page.locator('#event-lines').innerText()).toMatch(/alpha → merged/);
    await saveScreenshots(page);
  });

  it('after the server is killed and restarted on the same port the page catches up, nothing missed', async () => {
    // beta and gamma share lib/ files: one of them runs now, the other waits for it
    await page.waitForFunction(() => document.querySelectorAll('.node[data-status="running"]').length === 1, undefined, {
      timeout: 60_000,
    });
    phase = 'server down';
    const port = serve.port;
    await serve.kill('SIGKILL');
    await page.waitForFunction(() => !(window as unknown as { __dashboard: { connected: boolean } }).__dashboard.connected, undefined, {
      timeout: 30_000,
    });
    // the run goes on while nobody watches
    run.release('gamma');
    run.release('beta');
    const result = await run.done;
    expect(result.allMerged).toBe(true);
    serve = await startServe(['--base-dir', rig.base.baseDir, '--port', String(port)], env);
    await page.waitForFunction(() => (window as unknown as { __dashboard: { connected: boolean } }).__dashboard.connected, undefined, {
      timeout: 60_000,
    });
    phase = 'after restart';
    for (const id of ['alpha', 'beta', 'gamma']) {
      await page.waitForFunction((t) => document.querySelector(`.node[data-task="${t}"]`)?.getAttribute('data-status') === 'merged', id, {
        timeout: 60_000,
      });
    }
    const state = await page.evaluate(() => {
      const d = (window as unknown as { __dashboard: { lastSeq: number; gaps: unknown[]; duplicates: number } }).__dashboard;
      return { lastSeq: d.lastSeq, gaps: d.gaps, duplicates: d.duplicates };
    });
    await page.waitForFunction(
      (n) => (window as unknown as { __dashboard: { lastSeq: number } }).__dashboard.lastSeq === n,
      run.store.lastEventSeq(run.runId),
      { timeout: 30_000 },
    );
    expect(state.gaps).toEqual([]);
    expect(state.duplicates).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
  });

  it('buttons have accessible names; no console errors while the server was up', async () => {
    const unnamed = await page.$$eval(
      'button',
      (bs) => bs.filter((b) => !(b.getAttribute('aria-label') || b.textContent || '').trim()).length,
    );
    expect(unnamed).toBe(0);
    expect(consoleErrors.filter((e) => e.phase !== 'server down')).toEqual([]);
  });

  it('usable at phone width: the plan scrolls inside its box, the page does not', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${serve.url}runs/${run.runId}`);
    await phone.waitForSelector('.node[data-task="beta"][data-status="merged"]');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await phone.close();
  });

  it('a task submitted from the form appears in the runs list', async () => {
    await page.goto(serve.url);
    await page.getByLabel('Task').fill('say hello from the form');
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForFunction(() => /submitted as/.test(document.getElementById('submit-status')?.textContent ?? ''), undefined, {
      timeout: 30_000,
    });
    await page.waitForSelector('tr[data-run] >> text=say hello from the form', { timeout: 90_000 });
    expect(await page.locator('tr[data-run]').count()).toBe(2);
    expect(consoleErrors.filter((e) => e.phase !== 'server down')).toEqual([]);
  }, 120_000);
});
