import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxStatus } from '../../src/sandbox/index.js';

describe('sandboxStatus (doctor)', () => {
  const savedPath = process.env.PATH;
  const dirs: string[] = [];
  afterEach(() => {
    process.env.PATH = savedPath;
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('names the bundled bwrap, lists no gaps, and warns about a system bwrap too old for codex', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'old-bwrap-'));
    dirs.push(dir);
    // Debian 0.8.0's answers: a version, and a help text without the overlay options.
    fs.writeFileSync(
      path.join(dir, 'bwrap'),
      '#!/bin/sh\ncase "$1" in --version) echo "bubblewrap 0.8.0";; --help) echo "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]";; *) exit 1;; esac\n',
      { mode: 0o755 },
    );
    process.env.PATH = `${dir}${path.delimiter}${savedPath ?? ''}`;
    const s = sandboxStatus({ sandbox: 'auto', codexBin: undefined, sandboxEnv: ['NODE_ENV', 'NPM_TOKEN'] });
    expect(s.backend).toBe('bwrap');
    expect(s.description).toMatch(/bundled with @openai\/codex/);
    expect(s.gaps).toEqual([]);
    expect(s.confined).toBe(true);
    expect(s.warnings.join('\n')).toMatch(/bubblewrap 0\.8\.0\) is too old: codex picks it up/);
    expect(s.warnings.join('\n')).toMatch(/never passed into the sandbox: NPM_TOKEN/);
  });

  it('says loudly when the sandbox is off', () => {
    const s = sandboxStatus({ sandbox: 'off', codexBin: undefined, sandboxEnv: [] });
    expect(s.backend).toBe('off');
    expect(s.confined).toBe(false);
    expect(s.gaps.join(' ')).toMatch(/nothing is confined/);
    expect(s.warnings.join(' ')).toMatch(/unconfined/);
  });
});
