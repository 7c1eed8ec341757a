import { z } from 'zod';

/** What every worker run asks codex for, via `--output-schema`: a structured answer the program can route on. */
export const workerResultSchema = z
  .object({
    goal_met: z.boolean(),
    summary: z.string(),
    followup_prompt: z.string(),
    notes: z.string(),
  })
  .strict();
export type WorkerResult = z.infer<typeof workerResultSchema>;

/** The same shape as JSON Schema, written to `<runDir>/output_schema.json` for codex. */
export const WORKER_RESULT_JSON_SCHEMA = {
  type: 'object',
  properties: {
    goal_met: { type: 'boolean', description: 'true when the task is fully done and verified' },
    summary: { type: 'string', description: 'what was done, in a few sentences' },
    followup_prompt: { type: 'string', description: 'what a follow-up worker should do next; empty when nothing' },
    notes: { type: 'string', description: 'caveats, risks, anything the reviewer should know; may be empty' },
  },
  required: ['goal_met', 'summary', 'followup_prompt', 'notes'],
  additionalProperties: false,
} as const;

export type ResultCheck = { ok: true; result: WorkerResult } | { ok: false; error: string };

/** Validates codex's final message. Tolerates a ```json fence around the object. */
export function parseWorkerResult(text: string | null | undefined): ResultCheck {
  if (text === null || text === undefined || text.trim() === '') return { ok: false, error: 'no final message' };
  let body = text.trim();
  const fence = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(body);
  if (fence?.[1] !== undefined) body = fence[1];
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return { ok: false, error: `final message is not JSON: ${(e as Error).message}` };
  }
  const parsed = workerResultSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: `final message does not match the result schema: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
    };
  }
  return { ok: true, result: parsed.data };
}

/** The prompt of the one repair attempt (resumed on the same thread). */
export function repairPrompt(error: string): string {
  return [
    'Your last message was not a valid final result.',
    `Problem: ${error}.`,
    'Do not redo the work. Reply with only one JSON object, no prose, no code fence:',
    '{"goal_met": <true|false>, "summary": "<what was done>", "followup_prompt": "<next step or empty>", "notes": "<caveats or empty>"}',
  ].join('\n');
}

/** Appended to every worker prompt, so builds without --output-schema still answer in shape. */
export const RESULT_INSTRUCTIONS = [
  '',
  '---',
  'When you are done, reply with only one JSON object: {"goal_met": boolean, "summary": string, "followup_prompt": string, "notes": string}.',
  'goal_met is true only when the task is complete; followup_prompt says what remains (empty when nothing).',
].join('\n');
