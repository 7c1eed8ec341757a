import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';

function all(cmd: Command, prefix: string[] = []): { words: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ words: [...prefix, c.name()], cmd: c }, ...all(c, [...prefix, c.name()])]);
}

async function help(words: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  await main(['node', 'codex-orch', ...words, '--help']);
  spy.mockRestore();
  return out;
}

async function stderrOf(words: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const code = await main(['node', 'codex-orch', ...words]);
  spy.mockRestore();
  return { code, err };
}

describe('CLI help and flags, as a new user meets them', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });
  const commands = all(buildProgram()).filter((c) => c.cmd.name() !== 'help');

  it.each(commands.map((c) => [c.words.join(' '), c.words]))(
    '%s: a description, no internal jargon, each default shown once',
    async (_n, words) => {
      const out = await help(words as string[]);
      const usage = out.indexOf('Usage:');
      const body = out.slice(usage).split('\n').slice(1).join('\n').trim();
      // The line after Usage is the command's own description.
      expect(body.length).toBeGreaterThan(0);
      expect(body.startsWith('Options:') || body.startsWith('Arguments:')).toBe(false);
      expect(out).not.toMatch(/plan-road|seed's intents|the seed scenario/);
      for (const line of out.split('\n')) expect((line.match(/\(default:/g) ?? []).length).toBeLessThanOrEqual(1);
      expect(out).not.toMatch(/\(default: "\d+"\)/); // numbers, not quoted strings
    },
  );

  it('resume has a description and lists its exit codes and budget flags', async () => {
    const out = await help(['resume']);
    expect(out).toMatch(/Continue a run whose process died or was stopped/);
    expect(out).toMatch(/Exit codes: 0 succeeded;.* 7 run store/);
    expect(out).toMatch(/--max-cost <usd>/);
  });

  it('--concurrency 0 and --max-parallel 0 fail the same way (exit 2, one line)', async () => {
    const a = await stderrOf(['dispatch', '--concurrency', '0', '--tasks', '["x"]']);
    const b = await stderrOf(['run', '--plan', 'none.json', '--max-parallel', '0']);
    expect(a.code).toBe(2);
    expect(b.code).toBe(2);
    expect(a.err.trim()).toBe('codex-orch: --concurrency must be a whole number ≥ 1, got "0"');
    expect(b.err.trim()).toBe('codex-orch: --max-parallel must be a whole number ≥ 1, got "0"');
  });
});
