import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerRunsRetry } from '../../src/cli/commands/runs/retry.js';
import { RetryError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/store/index.js';

/** `runs retry` as a commander subcommand (the lead wires registerRunsRetry into `runs`): options, and the orchestrator's refusals. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function program() {
  const root = new Command().exitOverride();
  const runs = root.command('runs').exitOverride();
  registerRunsRetry(runs);
  return root;
}

describe('codex-orch runs retry', () => {
  it('has --no-resume and the store options; a merged subtask and an unknown one are refused with a RetryError', async () => {
    const retry = program().commands[0]!.commands.find((c) => c.name() === 'retry')!;
    expect(retry.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--no-resume', '--state-dir', '--base-dir', '--json']));
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-retry-cli-'));
    dirs.push(stateDir);
    const store = openSqliteStore(stateDir);
    const run = store.createRun({ task: 't', baseDir: stateDir, status: 'failed' });
    store.upsertSubtask({ runId: run.id, id: 'done', status: 'merged' });
    store.close();
    const argv = (task: string) => ['node', 'codex-orch', 'runs', 'retry', run.id, task, '--state-dir', stateDir, '--no-resume'];
    const merged = await program()
      .parseAsync(argv('done'))
      .catch((e: unknown) => e);
    expect(merged).toBeInstanceOf(RetryError);
    expect((merged as RetryError).message).toBe(`subtask done of run ${run.id} is merged already; there is nothing to retry`);
    const unknown = await program()
      .parseAsync(argv('nope'))
      .catch((e: unknown) => e);
    expect((unknown as RetryError).reason).toBe('not-found');
  });
});
