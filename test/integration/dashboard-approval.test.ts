import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from '../helpers/browser.js';
import { waitFor } from '../helpers/cli-child.js';
import { startPlanRun, startServe, type DashboardRun, type ServeChild } from '../helpers/dashboard-rig.js';
import { fakePrompt, makePlanRig, plan, type PlanRig } from '../helpers/plan-env.js';

declare const document: any;

/**
 * Approval before merge from the dashboard, in Chromium: a plan run with the
 * merge gate on stops before each merge; the "Needs you" list offers Approve
 * and Reject (with a note); rejecting sends the subtask back to its worker,
 * approving merges it — all through the orchestrator's approval functions.
 */
describe('approving a waiting merge in the browser', () => {
  let rig: PlanRig;
  let run: DashboardRun;
  let serve: ServeChild;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    rig = makePlanRig();
    run = startPlanRun(
      rig,
      plan(
        [
          {
            id: 'gated',
            title: 'A gated change',
            prompt: fakePrompt('Write gated.txt.', {
              write: { 'gated.txt': 'first\n' },
              onResume: { 'gated.txt': 'second, after the note\n' },
            }),
            files: ['gated.txt'],
          },
        ],
        'one gated subtask',
      ),
      { extra: { approve: true, approvalPollMs: 50 } },
    );
    serve = await startServe(['--base-dir', rig.base.baseDir, '--port', '0'], { ORCHESTRATOR_STATE_DIR: rig.base.stateDir });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await serve?.kill();
    await run?.done.catch(() => undefined);
    run?.store.close();
    rig?.base.cleanup();
  });

  const statusIs = (s: string) =>
    page.waitForFunction((want) => document.querySelector('.node[data-task="gated"]')?.getAttribute('data-status') === want, s, {
      timeout: 90_000,
    });

  it('reject with a note sends it back to its worker; approve merges it; no reload, no console errors', async () => {
    await page.goto(`${serve.url}runs/${run.runId}`);
    await statusIs('awaiting_approval');
    const reject = page.getByRole('button', { name: 'Reject merge gated' });
    await reject.waitFor({ timeout: 30_000 });
    // without a note the page asks for one and posts nothing
    await reject.click();
    await page.waitForFunction(() => /write a note/.test(document.getElementById('conn')?.textContent ?? ''));
    await page.getByRole('textbox', { name: 'Note for gated' }).fill('say second, please');
    await page.getByRole('button', { name: 'Reject merge gated' }).click();
    // back to its worker with the note, on its thread; then it asks again
    const calls = path.join(rig.fakeState, 'calls.jsonl');
    await waitFor(
      () => fs.existsSync(calls) && fs.readFileSync(calls, 'utf8').includes('say second, please'),
      'the worker to get the note',
      60_000,
    );
    await waitFor(
      () =>
        run.store.getSubtask(run.runId, 'gated')?.status === 'awaiting_approval' &&
        fs.readFileSync(path.join(rig.base.baseDir, 'task-gated', 'gated.txt'), 'utf8').startsWith('second'),
      'the second request',
      60_000,
    );
    await statusIs('awaiting_approval');
    await page.getByRole('button', { name: 'Approve merge gated' }).click();
    await statusIs('merged');
    const result = await run.done;
    expect(result.allMerged).toBe(true);
    expect(fs.readFileSync(path.join(rig.base.main, 'gated.txt'), 'utf8')).toBe('second, after the note\n');
    await page.waitForSelector('#queue li.m-merged', { timeout: 30_000 });
    expect(errors).toEqual([]);
  }, 240_000);
});
