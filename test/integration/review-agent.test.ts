import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { inputText, startScriptedModelServer, type Script, type ScriptedModelServer } from '../../src/demo/scripted-model-server.js';
import { ModelApiError, RunFailedError } from '../../src/errors.js';
import { createReviewer, type ReviewerRetry } from '../../src/orchestrator/review/reviewer.js';
import type { ReviewInput } from '../../src/orchestrator/review/types.js';

/** The review agent on the real Agents SDK run loop, against a scripted Responses API server. */
describe('review agent (real SDK, scripted reviewer model)', () => {
  let server: ScriptedModelServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function configFor(s: ScriptedModelServer): Config {
    return loadConfig({
      env: {
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: s.url,
        ORCHESTRATOR_MODEL: 'scripted-reviewer',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
      },
      dotenvDir: null,
    });
  }

  const input: ReviewInput = {
    subtask: {
      id: 't1',
      title: 'Add capitalize',
      kind: 'feature',
      prompt: 'Add capitalize(text) in src/capitalize.js with a test.',
      files: ['src/capitalize.js', 'test/**'],
      dependsOn: [],
      acceptance: 'npm test',
    },
    diff: {
      files: [{ path: 'src/capitalize.js', status: 'A', additions: 3, deletions: 0 }],
      diff: 'diff --git a/src/capitalize.js b/src/capitalize.js\n+export function capitalize(t) { return t; }\n',
      truncated: false,
    },
    acceptanceLog: '# tests 1\n# pass 1\n',
    acceptancePassed: true,
    round: 1,
    workerSummary: 'Added capitalize.',
  };

  const verdict = (v: object) => ({ text: JSON.stringify(v), usage: { input_tokens: 500, output_tokens: 40 } });

  async function start(script: Script): Promise<ScriptedModelServer> {
    server = await startScriptedModelServer(script);
    return server;
  }

  it('approves: sends the subtask, diff and log with a strict JSON schema and no tools, and returns the verdict with tokens', async () => {
    const s = await start(() => verdict({ verdict: 'approve', comments: 'Looks right; test passes.', risk: 'low' }));
    const review = createReviewer(configFor(s));
    const out = await review(input);
    expect(out).toEqual({ verdict: 'approve', comments: 'Looks right; test passes.', risk: 'low', tokens: { input: 500, output: 40 } });
    expect(s.requests).toHaveLength(1);
    const body = s.requests[0]!.body;
    expect(body.tools ?? []).toEqual([]);
    expect(body.instructions).toContain('You are the Reviewer');
    expect(body.instructions).toContain('"verdict": "approve" | "rework"');
    const format = (body.text as { format?: { type?: string; strict?: boolean } } | undefined)?.format;
    expect(format?.type).toBe('json_schema');
    expect(format?.strict).toBe(true);
    const text = inputText(body);
    expect(text).toContain('Add capitalize(text) in src/capitalize.js');
    expect(text).toContain('A src/capitalize.js +3 -0');
    expect(text).toContain('Result: PASSED');
    expect(text).toContain('+export function capitalize');
  });

  it('retries once after an invalid answer, telling the model what was wrong, and counts both answers', async () => {
    const retries: ReviewerRetry[] = [];
    const s = await start(({ index }) =>
      index === 0
        ? verdict({ verdict: 'maybe', comments: 'hmm', risk: 'low' })
        : verdict({ verdict: 'rework', comments: 'Handle the empty string.', risk: 'medium' }),
    );
    const review = createReviewer(configFor(s), { onRetry: (r) => retries.push(r) });
    const out = await review({ ...input, round: 2 });
    expect(out.verdict).toBe('rework');
    expect(out.comments).toBe('Handle the empty string.');
    expect(out.tokens).toEqual({ input: 1000, output: 80 });
    expect(s.requests).toHaveLength(2);
    expect(inputText(s.requests[1]!.body)).toContain('Your previous answer to this review was rejected');
    expect(inputText(s.requests[1]!.body)).toContain('verdict');
    expect(retries).toEqual([{ kind: 'invalid-output', subtaskId: 't1', error: expect.stringContaining('Invalid output type') }]);
  });

  it('gives up after a second invalid answer with a RunFailedError naming the subtask', async () => {
    const s = await start(() => ({ text: 'I think it is fine.' }));
    const review = createReviewer(configFor(s));
    const error = await review(input).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).message).toMatch(/reviewer gave no valid verdict for subtask t1 \(round 1\) in 2 answers/);
    expect(s.requests).toHaveLength(2);
  });

  it('a 401 is a ModelApiError at once (no retry), a 500 is retried by the client', async () => {
    const s = await start(() => ({ status: 401, text: 'bad key' }));
    const error = await createReviewer(configFor(s))(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelApiError);
    expect((error as ModelApiError).message).toMatch(/refused the key \(HTTP 401/);
    expect(s.requests).toHaveLength(1);
    await s.close();

    const retries: ReviewerRetry[] = [];
    const s2 = await start(({ index }) => (index === 0 ? { status: 500 } : verdict({ verdict: 'approve', comments: 'ok', risk: 'low' })));
    const out = await createReviewer(configFor(s2), { onRetry: (r) => retries.push(r) })(input);
    expect(out.verdict).toBe('approve');
    expect(retries).toEqual([{ kind: 'http', status: 500, attempt: 1 }]);
  });

  it('uses the model it is given', async () => {
    const s = await start(() => verdict({ verdict: 'approve', comments: 'ok', risk: 'low' }));
    await createReviewer(configFor(s), { model: 'review-model' })(input);
    expect(s.requests[0]!.body.model).toBe('review-model');
  });

  it('concurrent reviews of one reviewer keep their token counts apart', async () => {
    const s = await start(({ body }) => {
      const big = inputText(body).includes('- id: big');
      return {
        text: JSON.stringify({ verdict: 'approve', comments: 'ok', risk: 'low' }),
        usage: { input_tokens: big ? 9000 : 100, output_tokens: big ? 90 : 10 },
        delayMs: 50,
      };
    });
    const review = createReviewer(configFor(s));
    const [a, b] = await Promise.all([
      review({ ...input, subtask: { ...input.subtask, id: 'big' } }),
      review({ ...input, subtask: { ...input.subtask, id: 'small' } }),
    ]);
    expect(a.tokens).toEqual({ input: 9000, output: 90 });
    expect(b.tokens).toEqual({ input: 100, output: 10 });
  });
});
