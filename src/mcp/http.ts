/**
 * The MCP server over streamable HTTP on loopback only, each request carrying
 * `Authorization: Bearer <token>` (compared in constant time). The SDK's
 * fetch-shaped handler does the protocol; this adapts node's http to it.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { UsageError } from '../errors.js';
import { mcpServerFactory, type McpServerOptions } from './server.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface McpHttpServer {
  url: string;
  close(): Promise<void>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = crypto.createHash('sha256').update(m[1]!.trim()).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

export async function serveMcpHttp(options: McpServerOptions & { host?: string; port: number; token: string }): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host))
    throw new UsageError(`mcp --http listens on loopback only, not ${host}`, {
      hint: 'use 127.0.0.1; put a proxy in front to reach it from elsewhere',
    });
  if (options.token.trim().length < 16)
    throw new UsageError('mcp --http needs a bearer token of at least 16 characters', {
      hint: 'set CODEX_ORCH_MCP_TOKEN, e.g. to $(openssl rand -hex 24)',
    });
  const handler = createMcpHandler(mcpServerFactory(options));
  const server = http.createServer((req, res) => {
    void (async () => {
      if (!tokenMatches(req.headers.authorization, options.token)) {
        res
          .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
          .end(JSON.stringify({ error: 'missing or wrong bearer token' }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY_BYTES) {
          res.writeHead(413).end();
          return;
        }
        chunks.push(c as Buffer);
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const method = req.method ?? 'GET';
      const request = new Request(`http://${host}${req.url ?? '/'}`, {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks),
      });
      const response = await handler.fetch(request);
      res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
      if (response.body) Readable.fromWeb(response.body).pipe(res);
      else res.end();
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/mcp`,
    close: async () => {
      await handler.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
