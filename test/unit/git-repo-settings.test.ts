import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadRepoSettings, REPO_SETTINGS_FILE } from '../../src/git/index.js';

const dirs: string[] = [];
function repoWith(content?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-settings-'));
  dirs.push(dir);
  if (content !== undefined) fs.writeFileSync(path.join(dir, REPO_SETTINGS_FILE), content);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function configError(dir: string): ConfigError {
  try {
    loadRepoSettings(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadRepoSettings', () => {
  it('means no settings when the file is missing', () => {
    const dir = repoWith();
    expect(loadRepoSettings(dir)).toEqual({ file: path.join(dir, REPO_SETTINGS_FILE), found: false, setup: [] });
  });

  it('reads every field and turns a single setup command into a list', () => {
    const dir = repoWith(
      JSON.stringify({ setup: 'cp ../main/.env .env', smoke: 'npm test', acceptance: 'npm run check', archive: 'tar czf x.tgz dist' }),
    );
    expect(loadRepoSettings(dir)).toEqual({
      file: path.join(dir, REPO_SETTINGS_FILE),
      found: true,
      setup: ['cp ../main/.env .env'],
      smoke: 'npm test',
      acceptance: 'npm run check',
      archive: 'tar czf x.tgz dist',
    });
    const list = repoWith(JSON.stringify({ setup: ['npm ci', 'npm run build'] }));
    expect(loadRepoSettings(list)).toMatchObject({ setup: ['npm ci', 'npm run build'] });
    expect(loadRepoSettings(list).smoke).toBeUndefined();
  });

  it('names the file and the field of a bad value', () => {
    const e = configError(repoWith(JSON.stringify({ setup: ['npm ci', ''] })));
    expect(e.message).toContain(REPO_SETTINGS_FILE);
    expect(e.message).toMatch(/setup\[1\]: expected a command/);
    expect(e.variable).toBe(`${REPO_SETTINGS_FILE}:setup[1]`);
    expect(configError(repoWith(JSON.stringify({ smoke: 42 }))).message).toMatch(/: smoke: /);
  });

  it('rejects unknown keys so a typo does not drop a smoke test', () => {
    const e = configError(repoWith(JSON.stringify({ smoek: 'npm test' })));
    expect(e.message).toMatch(/unknown key\(s\) smoek/);
    expect(e.hint).toMatch(/allowed keys/);
  });

  it('reports invalid JSON and non-object files', () => {
    expect(configError(repoWith('{ "smoke": ')).message).toMatch(/is not valid JSON/);
    expect(configError(repoWith('["npm test"]')).message).toMatch(/must contain a JSON object/);
  });
});
