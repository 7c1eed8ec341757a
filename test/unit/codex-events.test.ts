import { describe, expect, it } from 'vitest';
import { parseEventLine, parseWorkerResult } from '../../src/workers/codex/index.js';

describe('codex event parsing', () => {
  it('parses the known event types into the discriminated union', () => {
    expect(parseEventLine('{"type":"thread.started","thread_id":"t1"}')).toEqual({ type: 'thread.started', thread_id: 't1' });
    const done = parseEventLine(
      '{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":1,"output_tokens":2,"reasoning_output_tokens":0}}',
    );
    expect(done?.type).toBe('turn.completed');
    if (done?.type === 'turn.completed') expect(done.usage?.input_tokens).toBe(5);
    const item = parseEventLine(
      '{"type":"item.completed","item":{"id":"i","type":"command_execution","command":"ls","aggregated_output":"","exit_code":0,"status":"completed"}}',
    );
    expect(item?.type === 'item.completed' && item.item.type).toBe('command_execution');
    expect(parseEventLine('{"type":"turn.failed","error":{"message":"boom"}}')).toMatchObject({
      type: 'turn.failed',
      error: { message: 'boom' },
    });
    expect(parseEventLine('{"type":"error","message":"Reconnecting..."}')).toMatchObject({ type: 'error' });
  });

  it('keeps unknown or ill-shaped events as unknown, and returns null for non-JSON', () => {
    expect(parseEventLine('{"type":"session.configured","x":1}')).toEqual({
      type: 'unknown',
      rawType: 'session.configured',
      raw: { type: 'session.configured', x: 1 },
    });
    expect(parseEventLine('{"type":"thread.started"}')).toMatchObject({ type: 'unknown', rawType: 'thread.started' });
    expect(parseEventLine('[1]')).toMatchObject({ type: 'unknown', rawType: null });
    expect(parseEventLine('not json')).toBeNull();
  });

  it('keeps unknown item kinds inside known events', () => {
    const e = parseEventLine('{"type":"item.started","item":{"id":"i","type":"hologram","beam":true}}');
    expect(e?.type).toBe('item.started');
  });
});

describe('structured result', () => {
  it('accepts the schema, a fenced object, and rejects the rest with a reason', () => {
    const ok = '{"goal_met":true,"summary":"s","followup_prompt":"","notes":""}';
    expect(parseWorkerResult(ok)).toEqual({ ok: true, result: { goal_met: true, summary: 's', followup_prompt: '', notes: '' } });
    expect(parseWorkerResult(`\`\`\`json\n${ok}\n\`\`\``).ok).toBe(true);
    expect(parseWorkerResult('done!')).toMatchObject({ ok: false, error: expect.stringMatching(/not JSON/) });
    expect(parseWorkerResult('{"goal_met":"yes","summary":"s","followup_prompt":"","notes":""}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/goal_met/),
    });
    expect(parseWorkerResult(null)).toMatchObject({ ok: false });
  });
});
