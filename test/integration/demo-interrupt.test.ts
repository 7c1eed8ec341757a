import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnTs } from '../helpers/cli-child.js';

/** Ctrl-C during the demo: the same `interrupted:` line as a run, report.md written, no `resume` suggested. */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-int-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('demo interrupted', () => {
  it('prints the interrupted summary, writes report.md and does not suggest resume', async () => {
    const baseDir = path.join(tmp, 'demo');
    const { child, done } = spawnTs(['demo', '-b', baseDir], { OPENAI_AGENTS_DISABLE_TRACING: '1' });
    let sent = false;
    child.stderr!.on('data', () => undefined);
    const timer = setInterval(() => {
      const log = path.join(baseDir, '.codex-orchestrator', 'run_repo_command.log');
      if (!sent && fs.existsSync(log) && /worktree add \.\.\/task-truncate/.test(fs.readFileSync(log, 'utf8'))) {
        sent = true;
        child.kill('SIGINT');
      }
    }, 50);
    const r = await done;
    clearInterval(timer);
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /interrupted: \d+ commands ran, \d merge\(s\) into main; running commands and workers were stopped; .*nothing was pushed\. Report: .*report\.md/,
    );
    expect(r.stderr).not.toMatch(/resume/);
    const runs = fs.readdirSync(path.join(baseDir, '.codex-orchestrator', 'runs'));
    expect(fs.readFileSync(path.join(baseDir, '.codex-orchestrator', 'runs', runs[0]!, 'report.md'), 'utf8')).toMatch(/ABORTED/);
  }, 240_000);
});
