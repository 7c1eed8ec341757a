import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real git and codex processes; two cores on CI.
    maxWorkers: 2,
    env: { OPENAI_AGENTS_DISABLE_TRACING: '1', NO_COLOR: '1' },
    // On CI also a JSON summary, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
