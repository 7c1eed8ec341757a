import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { formatReviewInput, headByLines, tailByLines } from '../../src/orchestrator/review/review-input.js';
import { loadReviewerPrompt, REVIEW_OUTPUT_FORMAT, reviewVerdictSchema } from '../../src/orchestrator/review/reviewer.js';
import type { ReviewInput } from '../../src/orchestrator/review/types.js';

const base: ReviewInput = {
  subtask: {
    id: 'p1',
    title: 'Parser',
    kind: 'feature',
    prompt: 'Write the parser.',
    files: ['src/parser/**'],
    dependsOn: ['t0'],
    acceptance: 'npm test',
  },
  diff: { files: [{ path: 'src/parser/a.ts', status: 'M', additions: 2, deletions: 1 }], diff: '+a\n-b\n', truncated: false },
  acceptanceLog: 'ok\n',
  acceptancePassed: false,
  round: 3,
  workerSummary: 'Did it.',
};

describe('review input', () => {
  it('lists the subtask, summary, acceptance result, files and diff', () => {
    const text = formatReviewInput(base);
    expect(text).toContain('# Review round 3');
    expect(text).toContain('- id: p1');
    expect(text).toContain('- depends on: t0');
    expect(text).toContain('- acceptance command: `npm test`');
    expect(text).toContain('Result: FAILED');
    expect(text).toContain('- M src/parser/a.ts +2 -1');
    expect(text).toContain('```diff\n+a\n-b\n```');
  });

  it('bounds the diff from the head and the log from the tail, at line boundaries, and says so', () => {
    const diff = Array.from({ length: 1000 }, (_, i) => `+line ${i}`).join('\n');
    const log = Array.from({ length: 1000 }, (_, i) => `log ${i}`).join('\n');
    const text = formatReviewInput(
      { ...base, diff: { ...base.diff, diff }, acceptanceLog: log },
      { maxDiffChars: 200, maxLogChars: 100, maxFiles: 300 },
    );
    expect(text).toContain('+line 0\n');
    expect(text).not.toContain('+line 999');
    expect(text).toContain('the diff is cut short');
    expect(text).toContain('log 999');
    expect(text).not.toContain('log 0\n');
    expect(text).toMatch(/log cut: only its last \d+ of \d+ characters/);
  });

  it('counts files beyond the limit and handles an empty branch and no acceptance', () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, status: 'A' }));
    const many = formatReviewInput(
      { ...base, diff: { files, diff: '', truncated: false } },
      { maxDiffChars: 100, maxLogChars: 100, maxFiles: 2 },
    );
    expect(many).toContain('- … and 3 more files');
    const { acceptance: _a, ...noAcceptance } = base.subtask;
    const empty = formatReviewInput({
      ...base,
      subtask: noAcceptance,
      acceptancePassed: null,
      acceptanceLog: '',
      diff: { files: [], diff: '', truncated: false },
    });
    expect(empty).toContain('This subtask has no acceptance command.');
    expect(empty).toContain('(none: the branch has no committed changes against main)');
  });

  it('fences content that itself contains backticks with a longer fence', () => {
    const text = formatReviewInput({ ...base, workerSummary: 'ran ```npm test```' });
    expect(text).toContain('````\nran ```npm test```\n````');
  });

  it('head/tail helpers keep whole lines', () => {
    expect(headByLines('aa\nbb\ncc\n', 7)).toEqual({ text: 'aa\nbb\n', cut: true });
    expect(tailByLines('aa\nbb\ncc\n', 5)).toEqual({ text: 'cc\n', cut: true });
    expect(headByLines('short', 10)).toEqual({ text: 'short', cut: false });
  });
});

describe('reviewer prompt and schema', () => {
  it('fills the output format from the schema', () => {
    const prompt = loadReviewerPrompt();
    expect(prompt).toContain(REVIEW_OUTPUT_FORMAT);
    expect(prompt).not.toMatch(/\{\{/);
  });

  it('a prompt file without the placeholder is a ConfigError', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-prompt-'));
    try {
      fs.writeFileSync(path.join(dir, 'reviewer.md'), 'Review things.\n');
      expect(() => loadReviewerPrompt(dir)).toThrow(ConfigError);
      expect(() => loadReviewerPrompt(dir)).toThrow(/outputFormat/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the verdict schema is closed and enumerated', () => {
    expect(reviewVerdictSchema.safeParse({ verdict: 'approve', comments: '', risk: 'low' }).success).toBe(true);
    expect(reviewVerdictSchema.safeParse({ verdict: 'ok', comments: '', risk: 'low' }).success).toBe(false);
    expect(reviewVerdictSchema.safeParse({ verdict: 'approve', comments: '', risk: 'low', extra: 1 }).success).toBe(false);
  });
});
