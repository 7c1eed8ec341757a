/**
 * The orchestrator's artifact endpoint: agents upload branch bundles and
 * download base bundles here. A bearer token on every request, a sha256 the
 * uploader declares and the server checks, size limits (warn, refuse), names
 * restricted to a safe alphabet, files written atomically under one directory.
 *
 *   PUT /artifacts/<name>            body = the file, header x-sha256 → 201 {name, sha256, size}
 *   GET /artifacts/<sha256>/<name>   → the file
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DEFAULT_ARTIFACT_LIMITS, DirArtifactStore, type ArtifactLimits, type ArtifactRef, type ArtifactStore } from './artifacts.js';

export interface ArtifactServer {
  url: string;
  dir: string;
  /**
   * This process's own way to what it serves: the same files, read and written
   * in place (a DirArtifactStore over `dir`, same names and checks), so the
   * orchestrator pays no HTTP round trip for its own bundles.
   */
  store: ArtifactStore;
  close(): Promise<void>;
}

export interface ArtifactServerOptions {
  dir: string;
  token: string;
  host?: string;
  port?: number;
  limits?: ArtifactLimits;
  onWarning?: (message: string) => void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const SHA256 = /^[0-9a-f]{64}$/;

function sameToken(given: string | undefined, token: string): boolean {
  if (!given?.startsWith('Bearer ')) return false;
  const a = Buffer.from(given.slice('Bearer '.length));
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startArtifactServer(options: ArtifactServerOptions): Promise<ArtifactServer> {
  const dir = path.resolve(options.dir);
  fs.mkdirSync(dir, { recursive: true });
  const limits = options.limits ?? DEFAULT_ARTIFACT_LIMITS;

  const server = http.createServer((req, res) => {
    if (!sameToken(req.headers.authorization, options.token)) {
      req.resume();
      send(res, 401, { error: 'missing or wrong bearer token' });
      return;
    }
    const parts = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean);
    let names: string[];
    try {
      names = parts.map((p) => decodeURIComponent(p));
    } catch {
      req.resume();
      send(res, 400, { error: 'malformed URL' });
      return;
    }
    if (req.method === 'PUT' && names.length === 2 && names[0] === 'artifacts') {
      receive(req, res, names[1]!);
      return;
    }
    if (req.method === 'GET' && names.length === 3 && names[0] === 'artifacts') {
      const [, sha, name] = names as [string, string, string];
      if (!SHA256.test(sha) || !NAME.test(name)) {
        send(res, 400, { error: 'bad artifact reference' });
        return;
      }
      const file = path.join(dir, `${sha}-${name}`);
      fs.stat(file, (err, st) => {
        if (err) {
          send(res, 404, { error: `no artifact ${name} with sha256 ${sha.slice(0, 12)}` });
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
        fs.createReadStream(file).pipe(res);
      });
      return;
    }
    req.resume();
    send(res, req.method === 'PUT' || req.method === 'GET' ? 404 : 405, { error: `${req.method} ${req.url} is not an artifact route` });
  });

  const receive = (req: http.IncomingMessage, res: http.ServerResponse, name: string) => {
    const declared = String(req.headers['x-sha256'] ?? '');
    if (!NAME.test(name) || name.includes('..')) {
      req.resume();
      send(res, 400, { error: `artifact name ${JSON.stringify(name)} is not allowed` });
      return;
    }
    if (!SHA256.test(declared)) {
      req.resume();
      send(res, 400, { error: 'x-sha256 header with the hex sha256 of the body is required' });
      return;
    }
    const length = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(length) && length > limits.maxBytes) {
      req.resume();
      send(res, 413, { error: `artifact is ${length} bytes, over the limit of ${limits.maxBytes}` });
      return;
    }
    const tmp = path.join(dir, `.upload-${crypto.randomBytes(6).toString('hex')}`);
    const out = fs.createWriteStream(tmp);
    const hash = crypto.createHash('sha256');
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes && !refused) {
        refused = true;
        out.destroy();
        fs.rmSync(tmp, { force: true });
        send(res, 413, { error: `artifact is over the limit of ${limits.maxBytes} bytes` });
        req.resume();
        return;
      }
      if (!refused) {
        hash.update(chunk);
        out.write(chunk);
      }
    });
    req.on('end', () => {
      if (refused) return;
      out.end(() => {
        const sha256 = hash.digest('hex');
        if (sha256 !== declared) {
          fs.rmSync(tmp, { force: true });
          send(res, 422, { error: `body sha256 ${sha256.slice(0, 12)} does not match x-sha256 ${declared.slice(0, 12)}` });
          return;
        }
        fs.renameSync(tmp, path.join(dir, `${sha256}-${name}`));
        if (size > limits.warnBytes) options.onWarning?.(`artifact ${name} is ${(size / 1024 / 1024).toFixed(1)} MiB`);
        const ref: ArtifactRef = { name, sha256, size };
        send(res, 201, ref);
      });
    });
    req.on('error', () => {
      out.destroy();
      fs.rmSync(tmp, { force: true });
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    dir,
    store: new DirArtifactStore(dir, limits),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
