import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { spawnTs, type ChildRun } from './cli-child.js';
import { git } from './git-repo.js';
import { PLAN_FAKE_CODEX } from './plan-env.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails with a clear message when the test Redis is down (these tests need the real Redis 7). */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw new Error(`these tests need Redis at ${url} (start redis-server): ${(e as Error).message}`);
  } finally {
    r.disconnect();
  }
}

/** A unique key prefix per test, and its cleanup (every key under it deleted). */
export function uniquePrefix(): string {
  return `co-test-${crypto.randomBytes(5).toString('hex')}`;
}

export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** An agent machine's clone: cloned from the bare origin, with a local identity. */
export function agentClone(root: string, origin: string, name: string): { clone: string; workDir: string } {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const clone = path.join(dir, 'clone');
  git(dir, 'clone', '-q', origin, clone);
  git(clone, 'config', 'user.name', 'Agent User');
  git(clone, 'config', 'user.email', 'agent@example.invalid');
  git(clone, 'config', 'commit.gpgsign', 'false');
  return { clone, workDir: path.join(dir, 'work') };
}

export interface AgentProcess extends ChildRun {
  /** What the agent printed on stdout so far (its --json events). */
  out: () => string;
  clone: string;
  workDir: string;
}

/**
 * A `codex-orch agent` process (the real CLI, the plan fake codex) with its own
 * clone of `origin` under `root/<name>`, serving `repoId`; its stdout is collected.
 */
export function spawnAgent(o: {
  root: string;
  origin: string;
  name: string;
  prefix: string;
  artifacts: string;
  token: string;
  fakeState: string;
  url?: string;
  repoId?: string;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}): AgentProcess {
  const repo = agentClone(o.root, o.origin, o.name);
  const run = spawnTs(
    [
      'agent',
      '--queue',
      o.url ?? REDIS_URL,
      '--prefix',
      o.prefix,
      '--repo',
      `${o.repoId ?? 'sample'}=${repo.clone}`,
      '--artifacts',
      o.artifacts,
      '--work-dir',
      repo.workDir,
      '--concurrency',
      String(o.concurrency ?? 1),
      '--json',
    ],
    {
      ORCHESTRATOR_ARTIFACTS_TOKEN: o.token,
      CODEX_BIN: PLAN_FAKE_CODEX,
      PLAN_FAKE_STATE: o.fakeState,
      ORCHESTRATOR_QUEUE_LOCK_MS: '10000',
      ORCHESTRATOR_QUEUE_STALLED_MS: '5000',
      ...o.env,
    },
  );
  let out = '';
  run.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return { ...run, out: () => out, ...repo };
}
