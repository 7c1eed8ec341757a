import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { launchChromium, type Browser } from '../helpers/browser.js';
import { spawnTs, waitFor } from '../helpers/cli-child.js';
import { startServe, type ServeChild } from '../helpers/dashboard-rig.js';
import { git, type TempBase } from '../helpers/git-repo.js';
import { retryRig, type RetryRig } from '../helpers/retry-plan.js';

declare const document: any;
declare const window: any;

/**
 * Retry from the dashboard, in Chromium: a `run --plan` run (the CLI, the plan
 * fake codex, real git) whose subtask `bad` failed and whose `dep` is blocked;
 * after main/ got what `bad` needs, the Retry button of the "Needs you" list
 * records the retry and resumes the run in the background (`codex-orch runs
 * resume`, started by the serve process); the page follows the run over SSE
 * until `bad` and `dep` are merged, with no reload.
 */
describe('retrying a failed subtask in the browser', () => {
  const bases: TempBase[] = [];
  let r: RetryRig;
  let runId: string;
  let store: Store;
  let serve: ServeChild;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    r = retryRig(bases);
    const first = await spawnTs(['run', '--plan', r.file, '--no-review', '--json', '--max-parallel', '2'], r.env).done;
    expect(first.code, first.stderr).toBe(1);
    runId = (JSON.parse(first.stdout) as { runId: string }).runId;
    store = openSqliteStore(r.t.stateDir);
    r.addFlag();
    // The serve process starts the resume with its own environment: the fake codex's.
    serve = await startServe(['--base-dir', r.t.baseDir, '--port', '0'], r.env);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await serve?.kill();
    store?.close();
    for (const b of bases) b.cleanup();
  });

  const statusOf = (task: string) => document.querySelector(`.node[data-task="${task}"]`)?.getAttribute('data-status');
  const statusIs = (task: string, want: string) =>
    page.waitForFunction(
      ([t, w]) => document.querySelector(`.node[data-task="${t}"]`)?.getAttribute('data-status') === w,
      [task, want] as const,
      { timeout: 120_000 },
    );
  const post = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' });

  it('the API refuses what cannot be retried: merged 409, unknown 404, cross-site 403', async () => {
    const api = `${serve.url}api/runs/${runId}/tasks`;
    const merged = await post(`${api}/ok/retry`);
    expect(merged.status).toBe(409);
    expect(((await merged.json()) as { error: string }).error).toMatch(/^subtask ok of run .* is merged already/);
    const blocked = await post(`${api}/dep/retry`);
    expect(blocked.status).toBe(409);
    expect(((await blocked.json()) as { error: string }).error).toMatch(/is blocked .*\(retry bad\)$/);
    expect((await post(`${api}/nope/retry`)).status).toBe(404);
    expect((await post(`${serve.url}api/runs/no-such-run/tasks/bad/retry`)).status).toBe(404);
    const evil = await post(`${api}/bad/retry`, { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
    expect(evil.status).toBe(403);
    const extra = await fetch(`${api}/bad/retry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"x":1}' });
    expect(extra.status).toBe(400);
    // Nothing was recorded by the refusals.
    expect(store.getSubtask(runId, 'bad')?.status).toBe('error');
    expect(store.listEvents(runId).some((e) => e.type === 'retry.request')).toBe(false);
  });

  it('Retry on the failed subtask: it runs again from main and merges, then its dependent; no reload, no console errors', async () => {
    await page.goto(`${serve.url}runs/${runId}`);
    expect(await page.evaluate(statusOf, 'bad')).toBe('error');
    expect(await page.evaluate(statusOf, 'dep')).toBe('blocked');
    // The subtask panel offers Retry too; merged and blocked subtasks offer none.
    await page.getByRole('button', { name: 'subtask bad: error' }).click();
    await page.locator('#panel-body').getByRole('button', { name: 'Retry bad' }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'subtask ok: merged' }).click();
    await page.waitForFunction(() => document.querySelector('#panel-body .task-panel')?.getAttribute('data-task') === 'ok');
    expect(
      await page
        .locator('#panel-body')
        .getByRole('button', { name: /^Retry/ })
        .count(),
    ).toBe(0);
    expect(
      await page
        .locator('#attention')
        .getByRole('button', { name: /^Retry/ })
        .count(),
    ).toBe(1);

    await page.evaluate(() => (window.__notReloaded = true));
    await page.locator('#attention').getByRole('button', { name: 'Retry bad' }).click();
    await statusIs('bad', 'merged');
    await statusIs('dep', 'merged');
    expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
    await waitFor(() => store.requireRun(runId).status === 'succeeded', 'the resumed run to succeed', 120_000);
    // The resume the button started is an ordinary `runs resume` with its log in the run dir.
    const runDir = path.join(r.t.stateDir, 'runs', runId);
    const logs = fs.readdirSync(runDir).filter((f) => f.startsWith('resume-'));
    expect(logs).toHaveLength(1);
    expect(git(r.t.main, 'branch', '--list', 'task-bad-attempt-*')).toBe('task-bad-attempt-1');
    for (const f of ['bad.txt', 'dep.txt']) expect(fs.existsSync(path.join(r.t.main, f)), f).toBe(true);
    await page.waitForSelector('#attention-empty', { timeout: 30_000 });
    expect(errors).toEqual([]);
  }, 300_000);
});
