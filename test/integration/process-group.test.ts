import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { escapedGroups, killProcessGroup } from '../../src/process/process-group.js';
import { bashArgv, runProcess } from '../../src/sandbox/exec.js';
import { processesIn } from '../helpers/processes.js';

let dir: string | undefined;
afterEach(() => {
  if (!dir) return;
  for (const p of processesIn(dir)) process.kill(Number(p.split(' ')[0]), 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('process groups', () => {
  it('a timed-out shell command is stopped with its group and with the children that left it (setsid)', async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'co-pg-')));
    const r = await runProcess(bashArgv('setsid sleep 300 & sleep 300'), {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 500,
      outputCapBytes: 4096,
    });
    expect(r.timedOut).toBe(true);
    expect(processesIn(dir)).toEqual([]);
  });

  it('killProcessGroup finds the escaped groups of a live leader and stops them all', async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'co-pg-')));
    const { spawn } = await import('node:child_process');
    const child = spawn('bash', ['-c', 'setsid sleep 300 & setsid sleep 300 & sleep 300'], { cwd: dir, detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const pid = child.pid as number;
    // A forked child is in the directory before it has called setsid(): wait for both groups, not only for the processes.
    const ready = () => processesIn(dir as string).length >= 4 && escapedGroups(pid).length >= 2;
    for (let i = 0; i < 300 && !ready(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(escapedGroups(pid)).toHaveLength(2);
    await killProcessGroup(pid, 1000);
    await exited;
    expect(processesIn(dir)).toEqual([]);
  });
});
