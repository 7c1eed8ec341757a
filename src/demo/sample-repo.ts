import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The bundled sample project: a tiny Node library with `node --test` tests. */
export const SAMPLE_FILES: Record<string, string> = {
  'package.json': `${JSON.stringify({ name: 'sample-strings', version: '1.0.0', private: true, type: 'module', scripts: { test: 'node --test' } }, null, 2)}\n`,
  'README.md': '# sample-strings\n\nSmall string helpers. Run `npm test`.\n',
  'src/slugify.js':
    'export function slugify(text) {\n  return text.toLowerCase().trim().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");\n}\n',
  'test/slugify.test.js':
    'import test from "node:test";\nimport assert from "node:assert/strict";\nimport { slugify } from "../src/slugify.js";\n\ntest("slugify", () => {\n  assert.equal(slugify(" Hello, World! "), "hello-world");\n});\n',
};

export const DEMO_TASK =
  'Add two string helpers to this library, each in its own module with a test: capitalize(text) upper-cases the first letter; truncate(text, max) shortens text longer than max characters and ends it with "...". Keep the existing tests passing.';

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates `<baseDir>/main` as a git repository with the sample project committed on branch main. */
export function createSampleRepo(baseDir: string): string {
  const main = path.join(baseDir, 'main');
  fs.mkdirSync(main, { recursive: true });
  for (const [name, content] of Object.entries(SAMPLE_FILES)) {
    fs.mkdirSync(path.dirname(path.join(main, name)), { recursive: true });
    fs.writeFileSync(path.join(main, name), content);
  }
  git(main, 'init', '-q', '-b', 'main');
  // A local identity: the demo must work on a machine with no global git config.
  git(main, 'config', 'user.name', 'codex-orchestrator demo');
  git(main, 'config', 'user.email', 'demo@codex-orchestrator.invalid');
  git(main, 'config', 'commit.gpgsign', 'false');
  git(main, 'add', '-A');
  git(main, 'commit', '-q', '-m', 'Sample project: slugify with a test');
  return main;
}
