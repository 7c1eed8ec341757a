import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { serveMcpHttp, type McpHttpServer } from '../../src/mcp/http.js';
import { makeTempBase, type TempBase } from '../helpers/git-repo.js';

/** `codex-orch mcp --http`: streamable HTTP on loopback, every request with the bearer token. */
const TOKEN = 'test-token-0123456789abcdef';
let server: McpHttpServer | undefined;
let base: TempBase | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  base?.cleanup();
  base = undefined;
});

describe('codex-orch mcp --http', { timeout: 60_000 }, () => {
  it('answers the SDK client that sends the token; 401 without it or with another; loopback only', async () => {
    base = makeTempBase();
    const config = loadConfig({ env: {}, dotenvDir: null, overrides: { ORCHESTRATOR_BASE_DIR: base.baseDir } });
    server = await serveMcpHttp({ config, port: 0, token: TOKEN, cli: { command: process.execPath, args: [] } });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);

    const client = new Client({ name: 'http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('check_command');
    const r = (await client.callTool({ name: 'check_command', arguments: { worktree: 'main', command: 'git push origin main' } })) as {
      structuredContent?: { allowed: boolean };
    };
    expect(r.structuredContent?.allowed).toBe(false);
    await client.close();

    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    expect((await fetch(server.url, { method: 'POST', headers, body })).status).toBe(401);
    expect(
      (await fetch(server.url, { method: 'POST', headers: { ...headers, authorization: 'Bearer wrong-token-0123456789' }, body })).status,
    ).toBe(401);

    await expect(serveMcpHttp({ config, port: 0, token: TOKEN, host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
    await expect(serveMcpHttp({ config, port: 0, token: 'short' })).rejects.toThrow(/at least 16 characters/);
  });
});
