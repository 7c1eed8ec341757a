import fs from 'node:fs';
import path from 'node:path';

/** npm's placeholder for a package without tests. */
const NPM_PLACEHOLDER = /no test specified/;

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The repository's own test command, guessed from what is committed in main/
 * (package.json `test`, a Makefile `test` target, pytest configuration or a
 * tests/ folder of test_*.py), with where it was found; null when none is
 * found. Only a suggestion for the report: nothing is run because of it.
 */
export function detectTestCommand(mainDir: string): { command: string; from: string } | null {
  const pkg = read(path.join(mainDir, 'package.json'));
  if (pkg !== null) {
    try {
      const test = (JSON.parse(pkg) as { scripts?: Record<string, unknown> }).scripts?.test;
      if (typeof test === 'string' && test.trim() !== '' && !NPM_PLACEHOLDER.test(test)) {
        const runner = fs.existsSync(path.join(mainDir, 'yarn.lock'))
          ? 'yarn test'
          : fs.existsSync(path.join(mainDir, 'pnpm-lock.yaml'))
            ? 'pnpm test'
            : 'npm test';
        return { command: runner, from: 'package.json "test" script' };
      }
    } catch {
      // not JSON: no suggestion from it
    }
  }
  for (const name of ['Makefile', 'makefile', 'GNUmakefile']) {
    const text = read(path.join(mainDir, name));
    if (text !== null && /^test\s*:/m.test(text)) return { command: 'make test', from: `${name} "test" target` };
  }
  const pyproject = read(path.join(mainDir, 'pyproject.toml'));
  const setupCfg = read(path.join(mainDir, 'setup.cfg'));
  if (fs.existsSync(path.join(mainDir, 'pytest.ini')) || /\[tool\.pytest/.test(pyproject ?? '') || /\[tool:pytest\]/.test(setupCfg ?? '')) {
    return { command: 'pytest', from: 'pytest configuration' };
  }
  try {
    if (fs.readdirSync(path.join(mainDir, 'tests')).some((f) => /^test_.*\.py$/.test(f)))
      return { command: 'pytest', from: 'tests/test_*.py' };
  } catch {
    // no tests/ folder
  }
  return null;
}
