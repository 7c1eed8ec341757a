/**
 * A scripted OpenAI-compatible Responses API server on 127.0.0.1 (random port).
 * It answers `POST /v1/responses` as SSE when the body has `stream: true` (codex)
 * and as one JSON response otherwise (the Agents SDK's default), and `GET /v1/models`.
 * Every request is recorded for assertions. The script decides each turn:
 * tool calls, text, an HTTP error status, a delay, usage.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface ToolCall {
  name: string;
  arguments: object;
  callId?: string;
}

export interface Turn {
  toolCalls?: ToolCall[];
  text?: string;
  /** Fail the request with this HTTP status (and an OpenAI-style error body). */
  status?: number;
  /** Error message for `status`. */
  error?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  usage?: { input_tokens?: number; output_tokens?: number; cached_tokens?: number; reasoning_tokens?: number };
}

export interface ScriptRequest {
  body: any;
  /** 0-based index of this POST /responses request. */
  index: number;
  path: string;
}

export type Script = ((req: ScriptRequest) => Turn | Promise<Turn>) | Turn[];

export interface RecordedRequest {
  index: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  timestamp: number;
}

export interface ModelServer {
  /** Base URL including /v1, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  /** Every request received (including GET /v1/models). */
  requests: RecordedRequest[];
  /** Replace the script (the request index keeps counting). */
  setScript(script: Script): void;
  close(): Promise<void>;
}

let seq = 0;
const id = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(seq++).toString(36)}`;

function outputItems(turn: Turn, n: number): any[] {
  const items: any[] = [];
  if (turn.text !== undefined) {
    items.push({
      type: 'message',
      id: id('msg'),
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: turn.text, annotations: [] }],
    });
  }
  for (const [i, call] of (turn.toolCalls ?? []).entries()) {
    items.push({
      type: 'function_call',
      id: id('fc'),
      status: 'completed',
      call_id: call.callId ?? `call_${n}_${i}`,
      name: call.name,
      arguments: JSON.stringify(call.arguments),
    });
  }
  return items;
}

function usageOf(turn: Turn) {
  const input = turn.usage?.input_tokens ?? 100;
  const output = turn.usage?.output_tokens ?? 20;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: turn.usage?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: turn.usage?.reasoning_tokens ?? 0 },
    total_tokens: input + output,
  };
}

function responseObject(body: any, turn: Turn, n: number, status: 'in_progress' | 'completed', output: any[]) {
  const text = output
    .filter((o) => o.type === 'message')
    .flatMap((o) => o.content.map((c: any) => c.text))
    .join('');
  return {
    id: `resp_${n}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status,
    model: body?.model ?? 'scripted',
    output: status === 'completed' ? output : [],
    output_text: status === 'completed' ? text : '',
    parallel_tool_calls: true,
    tool_choice: body?.tool_choice ?? 'auto',
    tools: body?.tools ?? [],
    usage: status === 'completed' ? usageOf(turn) : null,
    error: null,
    incomplete_details: null,
  };
}

export async function startModelServer(script: Script): Promise<ModelServer> {
  let current: Script = script;
  let index = 0;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: any = null;
        if (raw) {
          try {
            body = JSON.parse(raw);
          } catch {
            body = raw;
          }
        }
        const url = (req.url ?? '/').split('?')[0] as string;
        const rec: RecordedRequest = {
          index: -1,
          method: req.method ?? 'GET',
          path: url,
          headers: req.headers,
          body,
          timestamp: Date.now(),
        };
        requests.push(rec);
        if (req.method === 'GET' && url.endsWith('/models')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ object: 'list', data: [{ id: 'scripted', object: 'model', created: 0, owned_by: 'test' }] }));
          return;
        }
        if (req.method !== 'POST' || !url.endsWith('/responses')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `no route ${req.method} ${url}`, type: 'not_found' } }));
          return;
        }
        const n = index++;
        rec.index = n;
        let turn: Turn;
        try {
          turn = Array.isArray(current)
            ? (current[n] ?? current[current.length - 1] ?? { text: '' })
            : await current({ body, index: n, path: url });
        } catch (error) {
          turn = { status: 500, error: `script threw: ${(error as Error).message}` };
        }
        if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
        if (res.destroyed) return;
        if (turn.status && turn.status >= 400) {
          res.writeHead(turn.status, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: { message: turn.error ?? `scripted HTTP ${turn.status}`, type: 'scripted_error', code: null, param: null },
            }),
          );
          return;
        }
        const output = outputItems(turn, n);
        if (body?.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
          let seqNo = 0;
          const send = (type: string, data: object) =>
            res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seqNo++, ...data })}\n\n`);
          send('response.created', { response: responseObject(body, turn, n, 'in_progress', output) });
          output.forEach((item, i) => {
            send('response.output_item.added', { output_index: i, item: { ...item, status: 'in_progress' } });
            if (item.type === 'message') {
              const text = item.content[0].text as string;
              send('response.output_text.delta', { item_id: item.id, output_index: i, content_index: 0, delta: text });
              send('response.output_text.done', { item_id: item.id, output_index: i, content_index: 0, text });
            }
            send('response.output_item.done', { output_index: i, item });
          });
          send('response.completed', { response: responseObject(body, turn, n, 'completed', output) });
          res.end();
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(responseObject(body, turn, n, 'completed', output)));
        }
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    setScript(s: Script) {
      current = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The `-m … -c …` arguments that point codex at `url` with WebSockets off. */
export function codexProviderArgs(url: string, options: { model?: string; provider?: string } = {}): string[] {
  const p = options.provider ?? 'local';
  return [
    '-m',
    options.model ?? 'gpt-5.3-codex',
    '-c',
    `model_provider="${p}"`,
    '-c',
    `model_providers.${p}={name="${p}", base_url="${url}", wire_api="responses", env_key="OPENAI_API_KEY", supports_websockets=false}`,
  ];
}

/** A fresh temporary CODEX_HOME (the user's ~/.codex is never touched). */
export function makeCodexHome(): { dir: string; cleanup: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'codex-home-')));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// ---- helpers for writing scripts ----

/** Input items of a Responses request body. */
export function inputItems(body: any): any[] {
  return Array.isArray(body?.input) ? body.input : [];
}

/** The `function_call_output` items so far (one per tool call already answered). */
export function toolOutputs(body: any): any[] {
  return inputItems(body).filter((i) => i?.type === 'function_call_output');
}

/** Text of all user messages, joined. */
export function userText(body: any): string {
  return inputItems(body)
    .filter((i) => i?.role === 'user')
    .map((i) => (typeof i.content === 'string' ? i.content : (i.content ?? []).map((c: any) => c.text ?? '').join('')))
    .join('\n');
}

/** Text of the last user message. */
export function lastUserText(body: any): string {
  const users = inputItems(body).filter((i) => i?.role === 'user');
  const last = users.at(-1);
  if (!last) return '';
  return typeof last.content === 'string' ? last.content : (last.content ?? []).map((c: any) => c.text ?? '').join('');
}

/** How many turns the conversation has had (assistant messages in the input). */
export function assistantMessages(body: any): number {
  return inputItems(body).filter((i) => i?.type === 'message' && i?.role === 'assistant').length;
}

/** A schema-valid worker result as the final message text. */
export function resultText(r: { goal_met: boolean; summary: string; followup_prompt?: string; notes?: string }): string {
  return JSON.stringify({ goal_met: r.goal_met, summary: r.summary, followup_prompt: r.followup_prompt ?? '', notes: r.notes ?? '' });
}
