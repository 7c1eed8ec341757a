import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import {
  capabilitiesFromHelp,
  detectCapabilities,
  filterExtraArgs,
  mapIntents,
  parseHelpFlags,
  resolveCodexBinary,
  type CodexCapabilities,
} from '../../src/workers/codex/index.js';
import { FAKE_CODEX } from '../helpers/codex-worker-env.js';

const bundled = resolveCodexBinary(loadConfig({ env: {}, dotenvDir: null }), '');
const help = (bin: string, ...args: string[]) => execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('codex binary resolution', () => {
  it('finds the bundled @openai/codex and resolves its launcher to the native binary', () => {
    expect(bundled.source).toBe('bundled');
    expect(bundled.foundAt).toMatch(/@openai[\\/]codex[\\/]bin[\\/]codex\.js$/);
    expect(bundled.native).toBe(true);
    expect(bundled.path).toMatch(/vendor[\\/].+[\\/]bin[\\/]codex$/);
  });

  it('prefers CODEX_BIN', () => {
    const b = resolveCodexBinary({ codexBin: FAKE_CODEX });
    expect(b).toMatchObject({ source: 'CODEX_BIN', path: FAKE_CODEX });
  });
});

describe('flag mapping against the real codex help', () => {
  const real = capabilitiesFromHelp(
    'codex',
    '0.171.0',
    help(bundled.path, 'exec', '--help'),
    help(bundled.path, 'exec', 'resume', '--help'),
  );

  it('reads the flags, the sandbox modes and the resume subcommand', () => {
    expect(real.execFlags).toEqual(
      expect.arrayContaining([
        '--json',
        '--sandbox',
        '-s',
        '--output-schema',
        '-o',
        '--output-last-message',
        '-C',
        '--cd',
        '-c',
        '--config',
        '-m',
        '--model',
        '--skip-git-repo-check',
      ]),
    );
    expect(real.execFlags).not.toContain('--full-auto');
    expect(real.sandboxModes).toEqual(['read-only', 'workspace-write', 'danger-full-access']);
    expect(real.hasResume).toBe(true);
    expect(real.resumeFlags).toEqual(expect.arrayContaining(['--json', '--output-schema', '-c', '-m']));
    expect(real.resumeFlags).not.toContain('--sandbox');
  });

  it('maps --full-auto to --sandbox workspace-write', () => {
    const { args } = mapIntents(real, { mode: 'exec', json: true, fullAuto: true });
    expect(args).toEqual(['--json', '--sandbox', 'workspace-write']);
  });

  it('maps the sandbox on resume (no --sandbox there) to -c sandbox_mode', () => {
    const { args } = mapIntents(real, { mode: 'resume', json: true, fullAuto: true, cd: '/x' });
    expect(args).toEqual(['--json', '-c', 'sandbox_mode="workspace-write"']);
    expect(args).not.toContain('--cd');
  });

  it('refuses danger-full-access unless allowed', () => {
    expect(() => mapIntents(real, { mode: 'exec', json: true, sandbox: 'danger-full-access' })).toThrow(/not allowed/);
    expect(mapIntents(real, { mode: 'exec', json: true, sandbox: 'danger-full-access', allowDangerFullAccess: true }).args).toContain(
      'danger-full-access',
    );
  });

  it('drops extra args the worker already sets and flags the build does not list', () => {
    const r = filterExtraArgs(
      real,
      'exec',
      ['-m', 'a', '-c', 'x=1', '--full-auto', '--model=b', '-s', 'read-only'],
      ['--model', '--sandbox'],
    );
    expect(r.args).toEqual(['-c', 'x=1']);
    expect(r.unlisted).toEqual(['--full-auto']);
  });

  it('detectCapabilities reads the real binary (cached by path + version)', async () => {
    const a = await detectCapabilities(bundled.path);
    const b = await detectCapabilities(bundled.path);
    expect(a.version).toBe('0.171.0');
    expect(b).toBe(a);
    expect(a.execFlags).toEqual(real.execFlags);
  });
});

describe('flag mapping against an older-style help (lists --full-auto)', () => {
  let old: CodexCapabilities;
  it('keeps --full-auto where the build lists it', async () => {
    old = await detectCapabilities(FAKE_CODEX);
    expect(old.version).toBe('0.20.0-fake');
    expect(old.execFlags).toContain('--full-auto');
    expect(old.execFlags).not.toContain('--output-schema');
    const { args, missing } = mapIntents(old, {
      mode: 'exec',
      json: true,
      fullAuto: true,
      outputSchemaFile: '/s.json',
      outputLastMessageFile: '/o',
    });
    expect(args).toEqual(['--json', '--full-auto', '--output-last-message', '/o']);
    expect(missing.join(' ')).toMatch(/--output-schema/);
  });

  it('says clearly when a needed capability is missing', () => {
    const noJson = capabilitiesFromHelp('codex', '0.1.0', 'Options:\n  -m, --model <M>  model\n', null);
    expect(() => mapIntents(noJson, { mode: 'exec', json: true })).toThrow(/does not list --json/);
    expect(() => mapIntents(noJson, { mode: 'resume', json: true })).toThrow(/no `exec resume`/);
  });
});

describe('parseHelpFlags', () => {
  it('reads short and long forms and ignores description lines', () => {
    const text = [
      'Options:',
      '  -c, --config <key=value>',
      '          Examples: - `-c model="o3"`',
      '      --json',
      '  -h, --help  Print help',
    ].join('\n');
    expect(parseHelpFlags(text)).toEqual(['--config', '--help', '--json', '-c', '-h']);
  });
});
