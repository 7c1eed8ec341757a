import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { checkCommand } from '../../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy, parsePolicy, summarizePolicy } from '../../src/tools/run-repo-command/policy-file.js';

let dir: string;
const defaults = () => JSON.parse(fs.readFileSync(defaultPolicyPath(), 'utf8')) as Record<string, unknown>;
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-file-'));
  fs.mkdirSync(path.join(dir, 'main'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loadPolicy', () => {
  it('loads the default policy', () => {
    const p = loadPolicy(defaultPolicyPath());
    expect(p.programs).toContain('git');
    expect(p.allowGitClean).toBe(false);
    expect(p.allowDangerFullAccess).toBe(false);
  });
  it('loads YAML', async () => {
    const YAML = (await import('yaml')).default;
    const f = write('p.yaml', YAML.stringify(defaults()));
    expect(loadPolicy(f).git.allowedSubcommands).toContain('status');
  });
  it('missing file → ConfigError naming the file', () => {
    const f = path.join(dir, 'nope.json');
    expect(() => loadPolicy(f)).toThrow(ConfigError);
    expect(() => loadPolicy(f)).toThrow(f);
  });
  it('invalid JSON → ConfigError', () => {
    const f = write('bad.json', '{ nope');
    expect(() => loadPolicy(f)).toThrow(/not valid JSON/);
  });
  it('invalid YAML → ConfigError', () => {
    const f = write('bad.yaml', 'a: [1, 2');
    expect(() => loadPolicy(f)).toThrow(/not valid YAML/);
  });
  it.each([
    ['programs', { programs: 'git' }],
    ['programs', { programs: [] }],
    ['git.allowedSubcommands', { git: { allowedSubcommands: [1] } }],
    ['allowGitClean', { allowGitClean: 'yes' }],
    ['bogus', { bogus: 1 }],
  ])('bad field %s → ConfigError naming it', (field, patch) => {
    const f = write(`bad-${field}.json`, JSON.stringify({ ...defaults(), ...patch }));
    expect(() => loadPolicy(f)).toThrow(ConfigError);
    expect(() => loadPolicy(f)).toThrow(new RegExp(`${f}.*${field.replace('.', '\\.')}`));
  });
  it('caches by path and mtime, reloads on change', () => {
    const f = write('cache.json', JSON.stringify(defaults()));
    const a = loadPolicy(f);
    expect(loadPolicy(f)).toBe(a);
    fs.writeFileSync(f, JSON.stringify({ ...defaults(), allowGitClean: true }));
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(f, t, t);
    expect(loadPolicy(f).allowGitClean).toBe(true);
  });
});

describe('hard blocks stay whatever the file says', () => {
  it.each(['push', 'remote', 'reset', 'rebase', 'filter-branch', 'clone', 'update-ref'])('git %s', (sc) => {
    const d = defaults();
    const git = d.git as { allowedSubcommands: string[]; deniedSubcommands: string[] };
    const p = parsePolicy({ ...d, git: { ...git, allowedSubcommands: [...git.allowedSubcommands, sc], deniedSubcommands: [] } });
    const r = checkCommand({ worktree: 'main', command: `git ${sc} origin main` }, { baseDir: dir, policy: p });
    expect(r.allowed).toBe(false);
    expect(r.rule).toBe('git-hard-block');
  });
  it('wrappers stay denied even if listed as programs', () => {
    const d = defaults();
    const p = parsePolicy({ ...d, programs: [...(d.programs as string[]), 'sh', 'env', 'xargs'] });
    for (const c of ['sh -c "git push"', 'env git push', 'xargs git push']) {
      expect(checkCommand({ worktree: 'main', command: c }, { baseDir: dir, policy: p }).rule).toBe('wrapper');
    }
  });
});

describe('summarizePolicy', () => {
  it('is a few lines naming the key rules', () => {
    const s = summarizePolicy(loadPolicy(defaultPolicyPath()));
    expect(s.split('\n').length).toBeLessThanOrEqual(8);
    expect(s).toContain('git');
    expect(s).toContain('push');
    expect(s).toContain('codex exec');
  });
});
