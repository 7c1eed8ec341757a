/**
 * The artifact store: where git bundles go between machines. Bundles never
 * travel inline through Redis; a job carries only an `ArtifactRef` (name,
 * sha256, size). Two backends behind one interface: a directory every machine
 * mounts, or the HTTP endpoint the orchestrator serves (`artifact-server.ts`).
 * Every read is checked against the sha256 the writer recorded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { QueueError } from '../errors.js';
import { definedProps } from '../defined-props.js';

export interface ArtifactRef {
  /** A safe file name: letters, digits, `._-`. */
  name: string;
  sha256: string;
  size: number;
}

export interface ArtifactLimits {
  /** Above this a put succeeds with a warning (default 25 MiB). */
  warnBytes: number;
  /** Above this a put is refused (default 100 MiB). */
  maxBytes: number;
}

export const DEFAULT_ARTIFACT_LIMITS: ArtifactLimits = { warnBytes: 25 * 1024 * 1024, maxBytes: 100 * 1024 * 1024 };

export interface ArtifactStore {
  /** Where it is, for messages: a directory or a URL. */
  readonly location: string;
  /** Stores `file` under `name`; returns its reference (and a warning when it is large). */
  put(file: string, name: string): Promise<ArtifactRef & { warning?: string }>;
  /** Writes the artifact to `dest`, verifying its size and sha256. */
  get(ref: ArtifactRef, dest: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

export function checkArtifactName(name: string): string {
  if (!NAME.test(name) || name.includes('..')) {
    throw new QueueError(`artifact name ${JSON.stringify(name)} is not allowed`, { hint: 'use letters, digits, dot, dash and underscore' });
  }
  return name;
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** The size check both backends apply before storing anything. */
export function checkArtifactSize(size: number, limits: ArtifactLimits, what: string): string | undefined {
  if (size > limits.maxBytes) {
    throw new QueueError(`${what} is ${mib(size)}, over the artifact limit of ${mib(limits.maxBytes)}`, {
      hint: 'raise ORCHESTRATOR_ARTIFACT_MAX_MB, or keep generated files out of the branch',
    });
  }
  return size > limits.warnBytes ? `${what} is ${mib(size)} (over ${mib(limits.warnBytes)})` : undefined;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A directory shared by all machines (NFS, a bind mount); artifacts are stored as `<sha256>-<name>`. */
export class DirArtifactStore implements ArtifactStore {
  readonly location: string;
  constructor(
    dir: string,
    private readonly limits: ArtifactLimits = DEFAULT_ARTIFACT_LIMITS,
  ) {
    this.location = path.resolve(dir);
  }

  async put(file: string, name: string): Promise<ArtifactRef & { warning?: string }> {
    checkArtifactName(name);
    const { sha256, size } = await sha256File(file);
    const warning = checkArtifactSize(size, this.limits, `artifact ${name}`);
    fs.mkdirSync(this.location, { recursive: true });
    const target = path.join(this.location, `${sha256}-${name}`);
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    await fs.promises.copyFile(file, tmp);
    await fs.promises.rename(tmp, target);
    return { name, sha256, size, warning };
  }

  async get(ref: ArtifactRef, dest: string): Promise<void> {
    checkArtifactName(ref.name);
    const source = path.join(this.location, `${ref.sha256}-${ref.name}`);
    if (!fs.existsSync(source)) throw new QueueError(`artifact ${ref.name} (${ref.sha256.slice(0, 12)}) is not in ${this.location}`);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    await fs.promises.copyFile(source, dest);
    await verifyArtifact(dest, ref);
  }
}

/** The client of the orchestrator's artifact endpoint (`PUT`/`GET /artifacts/<name>`, bearer token). */
export class HttpArtifactStore implements ArtifactStore {
  readonly location: string;
  constructor(
    url: string,
    private readonly token: string,
    private readonly limits: ArtifactLimits = DEFAULT_ARTIFACT_LIMITS,
  ) {
    this.location = url.replace(/\/+$/, '');
  }

  async put(file: string, name: string): Promise<ArtifactRef & { warning?: string }> {
    checkArtifactName(name);
    const { sha256, size } = await sha256File(file);
    const warning = checkArtifactSize(size, this.limits, `artifact ${name}`);
    const res = await this.request(`${this.location}/artifacts/${encodeURIComponent(name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-sha256': sha256 },
      body: Readable.toWeb(fs.createReadStream(file)),
      duplex: 'half',
    });
    if (!res.ok) throw new QueueError(`artifact store ${this.location} refused ${name}: HTTP ${res.status} ${await res.text()}`);
    const ref = (await res.json()) as ArtifactRef;
    if (ref.sha256 !== sha256 || ref.size !== size)
      throw new QueueError(`artifact store ${this.location} stored ${name} with another checksum`);
    return { ...ref, ...definedProps({ warning }) };
  }

  async get(ref: ArtifactRef, dest: string): Promise<void> {
    checkArtifactName(ref.name);
    const res = await this.request(`${this.location}/artifacts/${ref.sha256}/${encodeURIComponent(ref.name)}`, { method: 'GET' });
    if (!res.ok || !res.body) throw new QueueError(`artifact ${ref.name} from ${this.location}: HTTP ${res.status}`);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    await pipeline(Readable.fromWeb(res.body), fs.createWriteStream(dest));
    await verifyArtifact(dest, ref);
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.token}` } });
    } catch (cause) {
      throw new QueueError(`cannot reach the artifact store at ${this.location}: ${(cause as Error).message}`, {
        hint: 'is the orchestrator running, and is ORCHESTRATOR_ARTIFACTS the URL it printed?',
        cause,
      });
    }
  }
}

export async function verifyArtifact(file: string, ref: ArtifactRef): Promise<void> {
  const got = await sha256File(file);
  if (got.sha256 !== ref.sha256 || got.size !== ref.size) {
    fs.rmSync(file, { force: true });
    throw new QueueError(
      `artifact ${ref.name} is damaged: sha256 ${got.sha256.slice(0, 12)} (${got.size} B), expected ${ref.sha256.slice(0, 12)} (${ref.size} B)`,
    );
  }
}

/** `--artifacts`: an http(s) URL (with a token) or a directory. */
export function openArtifactStore(location: string, options: { token?: string; limits?: ArtifactLimits } = {}): ArtifactStore {
  const limits = options.limits ?? DEFAULT_ARTIFACT_LIMITS;
  if (/^https?:\/\//.test(location)) {
    if (!options.token) {
      throw new QueueError(`the artifact store ${location} needs a token`, {
        hint: 'set ORCHESTRATOR_ARTIFACTS_TOKEN to the token the orchestrator uses',
      });
    }
    return new HttpArtifactStore(location, options.token, limits);
  }
  return new DirArtifactStore(location, limits);
}
