import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, requireBaseDir } from '../../src/config/config.js';
import { ENV_VARS } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { renderEnvExample } from '../../scripts/gen-env-example.js';

const load = (env: Record<string, string>) => loadConfig({ env, dotenvDir: null });

describe('config', () => {
  it('applies defaults and derives the state dir and command log from the base dir', () => {
    const c = load({ ORCHESTRATOR_BASE_DIR: '/tmp/some/base' });
    expect(c.baseDir).toBe('/tmp/some/base');
    expect(c.stateDir).toBe('/tmp/some/base/.codex-orchestrator');
    expect(c.commandLog).toBe('/tmp/some/base/.codex-orchestrator/run_repo_command.log');
    expect(c.maxTurns).toBeGreaterThan(10);
    expect(c.dryRun).toBe(false);
    expect(c.policyFile.endsWith(path.join('policies', 'default.json'))).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses flags, numbers and JSON arrays', () => {
    const c = load({
      ORCHESTRATOR_DRY_RUN: 'yes',
      ORCHESTRATOR_TRACE: '1',
      ORCHESTRATOR_MAX_TURNS: '42',
      ORCHESTRATOR_CODEX_ARGS: '["-m","gpt-5.3-codex"]',
      OPENAI_AGENTS_DISABLE_TRACING: 'true',
    });
    expect(c.dryRun).toBe(true);
    expect(c.trace).toBe(true);
    expect(c.maxTurns).toBe(42);
    expect(c.codexArgs).toEqual(['-m', 'gpt-5.3-codex']);
    expect(c.disableTracing).toBe(true);
  });

  it.each([
    ['ORCHESTRATOR_BASE_DIR', 'relative/dir', /ORCHESTRATOR_BASE_DIR: expected an absolute path/],
    ['ORCHESTRATOR_MAX_TURNS', 'ten', /ORCHESTRATOR_MAX_TURNS: expected a whole number of turns/],
    ['ORCHESTRATOR_MAX_TURNS', '0', /ORCHESTRATOR_MAX_TURNS: expected a positive number/],
    ['ORCHESTRATOR_DRY_RUN', 'maybe', /ORCHESTRATOR_DRY_RUN: expected 1\/0/],
    ['ORCHESTRATOR_CODEX_ARGS', '-m x', /ORCHESTRATOR_CODEX_ARGS: expected a JSON array of strings/],
    ['ORCHESTRATOR_CODEX_ARGS', '[1,2]', /ORCHESTRATOR_CODEX_ARGS: expected a JSON array of strings/],
    ['OPENAI_BASE_URL', 'not a url', /OPENAI_BASE_URL: expected a URL/],
    ['ORCHESTRATOR_LOG_LEVEL', 'loud', /ORCHESTRATOR_LOG_LEVEL/],
  ])('rejects a bad %s with one line naming it', (name, value, message) => {
    let error: unknown;
    try {
      load({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain('\n');
  });

  it('treats empty values as unset', () => {
    expect(load({ ORCHESTRATOR_MODEL: '', ORCHESTRATOR_MAX_TURNS: ' ' }).model).toBeTruthy();
  });

  it('lets overrides (flags) win over env, and env win over .env', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-cfg-'));
    fs.writeFileSync(path.join(dir, '.env'), 'ORCHESTRATOR_MODEL=from-dotenv\nORCHESTRATOR_MAX_TURNS=7\n');
    const c = loadConfig({ env: { ORCHESTRATOR_MAX_TURNS: '9' }, dotenvDir: dir, overrides: { ORCHESTRATOR_MAX_TURNS: '11' } });
    expect(c.model).toBe('from-dotenv');
    expect(c.maxTurns).toBe(11);
    expect(loadConfig({ env: { ORCHESTRATOR_MAX_TURNS: '9' }, dotenvDir: dir }).maxTurns).toBe(9);
    fs.rmSync(dir, { recursive: true });
  });

  it('requireBaseDir says how to give one, and refuses a missing directory', () => {
    expect(() => requireBaseDir(load({}))).toThrow(/ORCHESTRATOR_BASE_DIR: not set/);
    expect(() => requireBaseDir(load({ ORCHESTRATOR_BASE_DIR: '/definitely/not/here' }))).toThrow(/is not a directory/);
  });

  it('.env.example lists every variable and is in step with the schema', () => {
    const example = fs.readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
    for (const v of ENV_VARS) expect(example).toContain(`${v.name}=`);
    expect(example).toBe(renderEnvExample());
  });
});

describe('withBaseDir', () => {
  it('moves a derived state dir and log with the base dir, keeps explicit ones', async () => {
    const { withBaseDir } = await import('../../src/config/config.js');
    const derived = withBaseDir(load({ ORCHESTRATOR_BASE_DIR: '/a' }), '/b');
    expect(derived.stateDir).toBe('/b/.codex-orchestrator');
    expect(derived.commandLog).toBe('/b/.codex-orchestrator/run_repo_command.log');
    const explicit = withBaseDir(
      load({ ORCHESTRATOR_BASE_DIR: '/a', ORCHESTRATOR_STATE_DIR: '/s', ORCHESTRATOR_COMMAND_LOG: '/l.log' }),
      '/b',
    );
    expect(explicit.baseDir).toBe('/b');
    expect(explicit.stateDir).toBe('/s');
    expect(explicit.commandLog).toBe('/l.log');
  });
});

describe('README', () => {
  it('documents every environment variable', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    for (const v of ENV_VARS) expect(readme).toContain(`\`${v.name}\``);
  });
});
