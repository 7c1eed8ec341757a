/**
 * Everything a plan run needs to send its worker steps to agents, from the
 * config: the artifact store (a shared directory, a URL someone serves, or an
 * endpoint this process serves), the repository id, and the RemoteWorkers.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/types.js';
import { startArtifactServer, type ArtifactServer } from './artifact-server.js';
import { openArtifactStore } from './artifacts.js';
import { checkQueue } from './connection.js';
import { RemoteWorkers } from './remote-workers.js';

export interface OpenedRemote {
  remote: RemoteWorkers;
  repoId: string;
  /** What agents use for artifacts (printed for the user). */
  artifacts: string;
  close(): Promise<void>;
}

/** The repository id agents know the base dir by: `repo` in the settings file, else the base dir's name. */
export function repoIdFor(baseDir: string, settingsRepo: string | undefined): string {
  return settingsRepo ?? path.basename(path.resolve(baseDir));
}

export async function openRemoteWorkers(
  config: Config,
  options: { baseDir: string; mainDir: string; store: Store; repoId: string; logger?: Logger; onStatus?: (line: string) => void },
): Promise<OpenedRemote | undefined> {
  const q = config.queue;
  if (!q) return undefined;
  await checkQueue(q.url);
  const limits = { maxBytes: q.artifactMaxBytes, warnBytes: Math.floor(q.artifactMaxBytes / 4) };
  let server: ArtifactServer | undefined;
  let location = q.artifacts;
  let token = q.artifactsToken;
  if (!location) {
    if (!token) {
      throw new ConfigError('ORCHESTRATOR_ARTIFACTS_TOKEN: not set; agents need it to fetch and upload bundles from this machine', {
        variable: 'ORCHESTRATOR_ARTIFACTS_TOKEN',
        hint: 'set the same long random value on this machine and every agent (e.g. openssl rand -hex 32), or point ORCHESTRATOR_ARTIFACTS at a shared directory',
      });
    }
    const [host, port] = q.artifactsListen.split(/:(?=\d+$)/) as [string, string];
    server = await startArtifactServer({
      dir: path.join(config.stateDir ?? path.join(options.baseDir, '.codex-orchestrator'), 'artifacts'),
      token,
      host,
      port: Number(port),
      limits,
      onWarning: options.logger ? (m: string) => options.logger?.warn(m) : undefined,
    });
    location = server.url;
  }
  token ??= crypto.randomBytes(16).toString('hex');
  // Served here: this process reads and writes the served files in place; agents use the URL.
  const artifacts = server?.store ?? openArtifactStore(location, { token, limits });
  const remote = new RemoteWorkers({
    url: q.url,
    prefix: q.prefix,
    repoId: options.repoId,
    mainDir: options.mainDir,
    store: options.store,
    artifacts,
    artifactsLocation: location,
    logger: options.logger,
    onStatus: options.onStatus,
  });
  await remote.ready();
  return {
    remote,
    repoId: options.repoId,
    artifacts: location,
    close: async () => {
      await remote.close();
      await server?.close();
    },
  };
}
