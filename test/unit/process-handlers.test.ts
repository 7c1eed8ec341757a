import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskFullError, StoreError, asDiskFull, isDiskFull } from '../../src/errors.js';
import { fatalLine } from '../../src/cli/process-handlers.js';
import { REPO_ROOT, spawnTs } from '../helpers/cli-child.js';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/stray-rejection.ts');

describe('process handlers', { timeout: 60_000 }, () => {
  it('a stray rejection ends the process with one line and a non-zero exit', async () => {
    const r = await spawnTs(['it broke'], {}, FIXTURE).done;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      'codex-orch: unexpected error: it broke',
      '  (this is a bug; the log file in the state directory has the details)',
    ]);
  });

  it('a stray ENOSPC is the disk-full line, exit 7', async () => {
    const r = await spawnTs(['ENOSPC: no space left on device, write', 'ENOSPC'], {}, FIXTURE).done;
    expect(r.code).toBe(7);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^codex-orch: the disk holding .* is full; nothing more could be written there \(free some space, then continue the run with codex-orch runs resume <run id>/,
    );
    expect(lines[0]).not.toMatch(/bug/);
  });

  it('the CLI entry points install the handlers', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'src/cli/main.ts'), 'utf8')).toMatch(/installProcessHandlers\(\);/);
    expect(fs.readFileSync(path.join(REPO_ROOT, 'bin/codex-orch.js'), 'utf8')).toMatch(/installProcessHandlers\(\);/);
  });

  it('maps SQLITE_FULL and ENOSPC (also as a cause) to DiskFullError; other store errors stay', () => {
    const sqlite = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(isDiskFull(sqlite)).toBe(true);
    expect(isDiskFull(new StoreError('wrapped', { cause: sqlite }))).toBe(true);
    const mapped = asDiskFull(sqlite, '/s/state.db');
    expect(mapped).toBeInstanceOf(DiskFullError);
    expect((mapped as DiskFullError).path).toBe('/s/state.db');
    expect(fatalLine(mapped)).toEqual({ lines: [`codex-orch: ${(mapped as DiskFullError).toLine()}`], code: 7 });
    const other = new StoreError('no run "x"');
    expect(asDiskFull(other, '/s')).toBe(other);
  });
});
