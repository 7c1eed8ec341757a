import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfiles, parseSeedCodexArgs } from '../../src/workers/codex/index.js';

describe("the seed's codex exec lines", () => {
  it('reads --full-auto, model, sandbox, cd and the prompt', () => {
    expect(parseSeedCodexArgs(['exec', '--full-auto', 'do X'])).toMatchObject({ fullAuto: true, prompt: 'do X', resume: null });
    expect(parseSeedCodexArgs(['exec', '-m', 'gpt-5.1', '--sandbox=read-only', '-C', 'sub', '--', '-x starts with a dash'])).toMatchObject({
      model: 'gpt-5.1',
      sandbox: 'read-only',
      cd: 'sub',
      prompt: '-x starts with a dash',
    });
    expect(parseSeedCodexArgs(['exec', '--json', '--skip-git-repo-check', '--model=m', 'p'])).toMatchObject({ model: 'm', prompt: 'p' });
  });

  it('reads resume <id> <prompt>', () => {
    expect(parseSeedCodexArgs(['exec', 'resume', 'abc-123', 'continue please'])).toMatchObject({
      resume: 'abc-123',
      prompt: 'continue please',
    });
    expect(() => parseSeedCodexArgs(['exec', 'resume', '--last', 'x'])).toThrow();
  });

  it('refuses other subcommands, unknown flags and empty prompts', () => {
    expect(() => parseSeedCodexArgs(['login'])).toThrow(/only `codex exec/);
    expect(() => parseSeedCodexArgs(['exec', '--frob', 'x'])).toThrow(/--frob/);
    expect(() => parseSeedCodexArgs(['exec', '--full-auto'])).toThrow(/needs a prompt/);
    expect(() => parseSeedCodexArgs(['exec', '-s', 'everything', 'x'])).toThrow(/--sandbox/);
  });

  it('maps --yolo to danger-full-access (refused later unless allowed)', () => {
    expect(parseSeedCodexArgs(['exec', '--yolo', 'x']).sandbox).toBe('danger-full-access');
  });
});

describe('codex profiles', () => {
  it('has built-in fast/deep/review', () => {
    const p = loadProfiles({ codexProfilesFile: undefined });
    expect(p.source).toBe('built-in');
    expect(p.profiles.fast.reasoningEffort).toBe('low');
    expect(p.profiles.deep.reasoningEffort).toBe('high');
    expect(p.profiles.review.sandbox).toBe('read-only');
    expect(p.maxAttempts).toBe(2);
  });

  it('merges a JSON or YAML file over the defaults and names bad fields', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiles-'));
    try {
      const yml = path.join(dir, 'p.yaml');
      fs.writeFileSync(yml, 'profiles:\n  deep:\n    model: gpt-5.1-codex-max\nmaxAttempts: 3\n');
      const p = loadProfiles({ codexProfilesFile: yml });
      expect(p.profiles.deep).toMatchObject({ model: 'gpt-5.1-codex-max', reasoningEffort: 'high' });
      expect(p.maxAttempts).toBe(3);
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify({ profiles: { fast: { sandbox: 'everything' } } }));
      expect(() => loadProfiles({ codexProfilesFile: bad })).toThrow(/profiles\.fast\.sandbox/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
