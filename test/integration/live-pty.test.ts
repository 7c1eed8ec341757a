import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/cli-child.js';

/**
 * The demo under a real pseudo-terminal (util-linux `script`), once with a
 * 0×0 terminal and once with 80×24: it must finish, merge, and write a
 * bounded amount of output. A 0×0 pty once made the spinner loop forever.
 */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'live-pty-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function demoUnderPty(cols: number, rows: number): Promise<{ code: number | null; out: string; baseDir: string }> {
  const baseDir = path.join(tmp, `demo-${cols}x${rows}`);
  const typescript = path.join(tmp, `pty-${cols}x${rows}.out`);
  const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
  const inner = `stty cols ${cols} rows ${rows}; exec ${tsx} ${CLI} demo -b ${baseDir} > ${path.join(tmp, `report-${cols}.md`)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_AGENTS_DISABLE_TRACING: '1', TERM: 'xterm-256color' };
  for (const k of ['CI', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', inner, typescript], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'ignore'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out: fs.existsSync(typescript) ? fs.readFileSync(typescript, 'utf8') : '', baseDir });
    });
  });
}

describe('live view under a real pty', () => {
  it('0×0: plain lines, the run finishes and merges, the output stays small', async () => {
    const r = await demoUnderPty(0, 0);
    expect(r.code).toBe(0);
    expect(r.out.length).toBeLessThan(64 * 1024);
    expect(r.out).not.toContain('\u001b[1A');
    expect(r.out).toMatch(/git merge --no-ff task-truncate/);
    const runs = fs.readdirSync(path.join(r.baseDir, '.codex-orchestrator', 'runs'));
    expect(fs.existsSync(path.join(r.baseDir, '.codex-orchestrator', 'runs', runs[0]!, 'report.md'))).toBe(true);
  }, 300_000);

  it('80×24: worker lines redrawn in place, within 80 columns, bounded output', async () => {
    const r = await demoUnderPty(80, 24);
    expect(r.code).toBe(0);
    expect(r.out.length).toBeLessThan(512 * 1024);
    expect(r.out).toContain('task-capitalize');
    expect(r.out).toMatch(/merged/);
    expect(r.out).toContain('\u001b[2K'); // lines erased and redrawn
    // eslint-disable-next-line no-control-regex
    const visible = r.out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n/);
    const frameLines = visible.filter((l) => /^[▶✔✖◆⧗·■] task-/.test(l));
    expect(frameLines.length).toBeGreaterThan(0);
    for (const l of frameLines) expect(l.length).toBeLessThanOrEqual(79);
    // One token count: runs list (and show) say what the report says.
    const runsDir = path.join(r.baseDir, '.codex-orchestrator', 'runs');
    const report = JSON.parse(fs.readFileSync(path.join(runsDir, fs.readdirSync(runsDir)[0]!, 'report.json'), 'utf8'));
    const list = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [CLI, 'runs', 'list', '--json', '-b', r.baseDir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(list.status, list.stderr).toBe(0);
    const row = JSON.parse(list.stdout).runs[0];
    expect(report.tokens.total).toBe(report.usage.total.tokens);
    expect(row.tokens.total).toBe(report.tokens.total);
    expect(row.tokens.total).toBe(report.usage.orchestrator.tokens + report.usage.review.tokens + report.usage.workers.tokens);
    expect(report.usage.workers.tokens).toBeGreaterThan(0);
  }, 300_000);
});
