import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A scripted OpenAI-compatible Responses API server on 127.0.0.1: it answers
 * `POST /v1/responses` from a script instead of a model, both as JSON (the
 * Agents SDK's default) and as SSE (`stream: true`, what codex uses). It drives
 * the offline demo and the tests: everything but the model is real.
 */

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
  callId?: string;
}

export interface ScriptedTurn {
  toolCalls?: ScriptedToolCall[];
  text?: string;
  /** Answer with this HTTP status and an error body instead. */
  status?: number;
  /** Wait before answering (to let concurrent work overlap, or to test stalls). */
  delayMs?: number;
  usage?: { input_tokens: number; output_tokens: number };
}

export interface ScriptedRequest {
  index: number;
  path: string;
  body: ResponsesBody;
  receivedAt: number;
}

export interface ResponsesBody {
  model?: string;
  stream?: boolean;
  instructions?: string;
  input?: unknown;
  tools?: { name?: string; type?: string }[];
  [key: string]: unknown;
}

export type Script = (request: ScriptedRequest) => ScriptedTurn | Promise<ScriptedTurn>;

export interface ScriptedModelServer {
  url: string;
  port: number;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

/** Items of the request input (the conversation so far). */
export function inputItems(body: ResponsesBody): Record<string, unknown>[] {
  if (Array.isArray(body.input)) return body.input as Record<string, unknown>[];
  if (typeof body.input === 'string') return [{ type: 'message', role: 'user', content: body.input }];
  return [];
}

/** Outputs of the tool calls so far, by call id. */
export function toolOutputs(body: ResponsesBody): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of inputItems(body)) {
    if (item.type === 'function_call_output' && typeof item.call_id === 'string') {
      const o = item.output;
      out.set(item.call_id, typeof o === 'string' ? o : JSON.stringify(o));
    }
  }
  return out;
}

/** All text of the request's input, flattened (to find markers a script looks for). */
export function inputText(body: ResponsesBody): string {
  return JSON.stringify(body.input ?? '');
}

function outputItems(turn: ScriptedTurn, n: number): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  (turn.toolCalls ?? []).forEach((call, i) => {
    items.push({
      type: 'function_call',
      id: `fc_${n}_${i}`,
      call_id: call.callId ?? `call_${n}_${i}`,
      name: call.name,
      arguments: JSON.stringify(call.arguments),
      status: 'completed',
    });
  });
  if (turn.text !== undefined || items.length === 0) {
    items.push({
      type: 'message',
      id: `msg_${n}`,
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: turn.text ?? '', annotations: [] }],
    });
  }
  return items;
}

export async function startScriptedModelServer(script: Script, options: { port?: number } = {}): Promise<ScriptedModelServer> {
  const requests: ScriptedRequest[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        if (req.method !== 'POST' || !path.endsWith('/responses')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'not_found' } }));
          return;
        }
        let body: ResponsesBody;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ResponsesBody;
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'invalid JSON body', type: 'invalid_request_error' } }));
          return;
        }
        const request: ScriptedRequest = { index: n++, path, body, receivedAt: Date.now() };
        requests.push(request);
        let turn: ScriptedTurn;
        try {
          turn = await script(request);
        } catch (error) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: { message: `script error: ${error instanceof Error ? error.message : String(error)}`, type: 'server_error' },
            }),
          );
          return;
        }
        if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
        if (turn.status && turn.status >= 400) {
          res.writeHead(turn.status, { 'content-type': 'application/json', 'retry-after-ms': '10' });
          res.end(
            JSON.stringify({
              error: { message: turn.text ?? `scripted HTTP ${turn.status}`, type: 'scripted_error', code: String(turn.status) },
            }),
          );
          return;
        }
        const id = `resp_${request.index}`;
        const output = outputItems(turn, request.index);
        const usage = turn.usage ?? { input_tokens: 100, output_tokens: 20 };
        const response = {
          id,
          object: 'response',
          created_at: Math.floor(Date.now() / 1000),
          status: 'completed',
          model: body.model ?? 'scripted',
          output,
          usage: {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            total_tokens: usage.input_tokens + usage.output_tokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens_details: { reasoning_tokens: 0 },
          },
        };
        if (!body.stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(response));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let seq = 0;
        const send = (type: string, data: Record<string, unknown>) =>
          res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
        send('response.created', { response: { ...response, status: 'in_progress', output: [] } });
        output.forEach((item, i) => send('response.output_item.done', { output_index: i, item }));
        send('response.completed', { response });
        res.end();
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The `-c` arguments that point the real codex at a loopback Responses server (WebSockets off). */
export function codexProviderArgs(url: string, model = 'gpt-5.3-codex'): string[] {
  return [
    '-m',
    model,
    '-c',
    'model_provider="local"',
    '-c',
    `model_providers.local={name="local", base_url="${url}", wire_api="responses", env_key="OPENAI_API_KEY", supports_websockets=false}`,
  ];
}
