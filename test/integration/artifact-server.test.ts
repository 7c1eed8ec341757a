import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startArtifactServer, type ArtifactServer } from '../../src/queue/artifact-server.js';
import { DirArtifactStore, HttpArtifactStore, sha256File } from '../../src/queue/artifacts.js';

const TOKEN = 'artifact-test-token-0123456789';
let dir: string;
let server: ArtifactServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(limits = { warnBytes: 1024, maxBytes: 4096 }) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-artifacts-'));
  const warnings: string[] = [];
  server = await startArtifactServer({ dir: path.join(dir, 'served'), token: TOKEN, limits, onWarning: (m) => warnings.push(m) });
  const file = (name: string, bytes: number) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, Buffer.alloc(bytes, 7));
    return f;
  };
  return { server, warnings, file, http: new HttpArtifactStore(server.url, TOKEN, limits) };
}

describe('the artifact endpoint and its own store', () => {
  it('what the orchestrator stores in place, an agent downloads over HTTP, and the other way round; both checked by sha256', async () => {
    const { server, http, file } = await start();
    const a = await server.store.put(file('a.bundle', 100), 'a.bundle');
    expect(a).toMatchObject({ name: 'a.bundle', size: 100, sha256: (await sha256File(file('a.bundle', 100))).sha256 });
    await http.get(a, path.join(dir, 'got-a'));
    expect(fs.readFileSync(path.join(dir, 'got-a'))).toEqual(Buffer.alloc(100, 7));

    const b = await http.put(file('b.bundle', 200), 'b.bundle');
    await server.store.get(b, path.join(dir, 'got-b'));
    expect(fs.statSync(path.join(dir, 'got-b')).size).toBe(200);
    expect(fs.readdirSync(server.dir).sort()).toEqual([`${a.sha256}-a.bundle`, `${b.sha256}-b.bundle`].sort());

    // Damaged on disk after the upload: both readers notice and leave nothing behind.
    fs.writeFileSync(path.join(server.dir, `${b.sha256}-b.bundle`), Buffer.alloc(200, 8));
    await expect(http.get(b, path.join(dir, 'bad-1'))).rejects.toThrow(/damaged/);
    await expect(server.store.get(b, path.join(dir, 'bad-2'))).rejects.toThrow(/damaged/);
    expect(fs.existsSync(path.join(dir, 'bad-1')) || fs.existsSync(path.join(dir, 'bad-2'))).toBe(false);
  });

  it('refuses requests without the token, a body that does not match its sha256, unsafe names and oversized uploads; warns on large ones', async () => {
    const { server, http, file, warnings } = await start();
    const f = file('x.bundle', 10);
    const { sha256 } = await sha256File(f);
    const put = (name: string, headers: Record<string, string>, body: Buffer = fs.readFileSync(f)) =>
      fetch(`${server.url}/artifacts/${encodeURIComponent(name)}`, { method: 'PUT', headers, body });

    expect((await put('x.bundle', { 'x-sha256': sha256 })).status).toBe(401);
    expect((await put('x.bundle', { 'x-sha256': sha256, authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await fetch(`${server.url}/artifacts/${sha256}/x.bundle`)).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await put('x.bundle', { ...auth, 'x-sha256': 'f'.repeat(64) })).status).toBe(422);
    expect((await put('x.bundle', { ...auth })).status).toBe(400);
    expect((await put('..x', { ...auth, 'x-sha256': sha256 })).status).toBe(400);
    expect((await fetch(`${server.url}/artifacts/${sha256}/x.bundle`, { headers: auth })).status).toBe(404);
    expect(fs.readdirSync(server.dir)).toEqual([]);

    // Over the limit: the client refuses before sending, the server refuses what a client sends anyway.
    const big = file('big.bundle', 5000);
    await expect(http.put(big, 'big.bundle')).rejects.toThrow(/over the artifact limit/);
    await expect(server.store.put(big, 'big.bundle')).rejects.toThrow(/over the artifact limit/);
    const bigSha = (await sha256File(big)).sha256;
    expect((await put('big.bundle', { ...auth, 'x-sha256': bigSha }, fs.readFileSync(big))).status).toBe(413);
    expect(fs.readdirSync(server.dir)).toEqual([]);

    // Above the warning size: stored, with a warning on both sides.
    const large = await http.put(file('large.bundle', 2000), 'large.bundle');
    expect(large.warning).toMatch(/large\.bundle is/);
    expect(warnings.some((w) => w.includes('large.bundle'))).toBe(true);
    expect(
      (await new DirArtifactStore(server.dir, { warnBytes: 1024, maxBytes: 4096 }).put(file('l2', 2000), 'l2.bundle')).warning,
    ).toMatch(/over/);
  });
});
