import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';
import { FAKE_CODEX } from '../helpers/codex-worker-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
let base: TempBase;
beforeAll(() => {
  base = makeTempBase();
});
afterAll(() => base?.cleanup());

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(tsx, [path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: base.main,
    encoding: 'utf8',
    env: { ...process.env, ORCHESTRATOR_STATE_DIR: base.stateDir, CODEX_BIN: FAKE_CODEX, ORCHESTRATOR_CODEX_ARGS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('codex-orch worker', () => {
  it('--json prints exactly the documented object and exits 0 when complete', () => {
    const r = cli(['worker', '--cwd', base.main, '--json', 'do it'], { FAKE_CODEX_MODE: 'ok' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(Object.keys(o).sort()).toEqual(['durationMs', 'exitCode', 'result', 'runDir', 'status', 'threadId', 'usage']);
    expect(o).toMatchObject({
      status: 'complete',
      result: { goal_met: true },
      exitCode: 0,
      usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5 },
    });
    expect(o.runDir.startsWith(path.join(base.stateDir, 'runs'))).toBe(true);
  });

  it('exits 5 (worker) when codex crashes', () => {
    const r = cli(['worker', '--cwd', base.main, '--json', 'do it'], { FAKE_CODEX_MODE: 'crash' });
    expect(r.status).toBe(5);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'error', result: null, exitCode: 3 });
  });

  it('rejects an unknown profile as a usage error', () => {
    const r = cli(['worker', '--profile', 'turbo', 'x'], {});
    expect(r.status).toBe(2);
  });

  it('doctor --json reports the binary and its flags', () => {
    const r = cli(['doctor', '--json', '--timeout', '300'], {});
    const o = JSON.parse(r.stdout) as {
      ok: boolean;
      codex: { binary: { source: string }; version: string; mapping: { fullAuto: string } };
    };
    // doctor --json is sectioned: the worker layer's own report is `codex`, beside the run's preflight checks.
    expect(Object.keys(o).sort()).toEqual(['codex', 'login', 'models', 'ok', 'policy', 'queue', 'repository', 'sandbox']);
    expect(o.codex.binary.source).toBe('CODEX_BIN');
    expect(o.codex.version).toBe('0.20.0-fake');
    expect(o.codex.mapping.fullAuto).toBe('--full-auto');
    expect(o.ok).toBe(r.status === 0);
    expect([0, 1, 5]).toContain(r.status);
  });
});
