import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';

function allCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...allCommands(c, [...prefix, c.name()])]);
}

describe('codex-orch CLI', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  const commands = allCommands(buildProgram()).filter((c) => c[c.length - 1] !== 'help');

  it('has the commands the README documents', () => {
    const names = commands.map((c) => c.join(' '));
    for (const n of ['run', 'demo', 'dispatch', 'exec', 'policy check', 'policy show', 'worker', 'doctor']) expect(names).toContain(n);
  });

  it.each(commands.map((c) => [c.join(' '), c]))('%s --help prints usage and exits 0', async (_name, words) => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const code = await main(['node', 'codex-orch', ...(words as string[]), '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: codex-orch /m);
  });

  it('an unknown option is a usage error (exit 2)', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['node', 'codex-orch', 'run', '--no-such-flag'])).toBe(2);
  });

  it('a missing task is a usage error with a hint (exit 2)', async () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    expect(await main(['node', 'codex-orch', 'run'])).toBe(2);
    expect(err).toMatch(/no task given/);
  });
});
