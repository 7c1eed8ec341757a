import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type ConfigOverrides } from '../../config/config.js';
import { ConfigError, UsageError } from '../../errors.js';
import { createLogger } from '../../logging/logger.js';
import { startAgent } from '../../queue/agent.js';
import { openArtifactStore } from '../../queue/artifacts.js';
import { checkQueue, redactUrl } from '../../queue/connection.js';
import type { AgentRepo } from '../../queue/subtask-runner.js';
import { loadPolicy } from '../../tools/run-repo-command/policy-file.js';
import { printErr, printOut } from '../output.js';

interface AgentCommandOptions {
  queue?: string;
  prefix?: string;
  repo: string[];
  concurrency: number;
  artifacts?: string;
  workDir?: string;
  json?: boolean;
}

function positive(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${what} must be a whole number of at least 1, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** `--repo id=/path/to/clone`, repeatable. */
export function parseRepoFlags(values: readonly string[], workRoot: string): AgentRepo[] {
  if (values.length === 0) throw new UsageError('give at least one --repo <id>=<path to a clone>');
  const seen = new Set<string>();
  return values.map((v) => {
    const i = v.indexOf('=');
    const id = i > 0 ? v.slice(0, i).trim() : '';
    const clone = i > 0 ? path.resolve(v.slice(i + 1).trim()) : '';
    if (!id || !clone) throw new UsageError(`--repo ${JSON.stringify(v)}: expected <id>=<path to a clone>`);
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new UsageError(`--repo ${v}: the id may use letters, digits, dot, dash and underscore`);
    if (seen.has(id)) throw new UsageError(`--repo ${id} is given twice`);
    seen.add(id);
    if (!fs.existsSync(path.join(clone, '.git'))) throw new UsageError(`--repo ${id}: ${clone} is not a git clone (no .git)`);
    return { id, clone, workDir: path.join(workRoot, id) };
  });
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Run codex workers for plan subtasks queued by an orchestrator on another machine (BullMQ on Redis).')
    .option('--queue <url>', 'Redis URL of the job queue (default: ORCHESTRATOR_QUEUE)')
    .option('--prefix <name>', 'namespace of the queue keys (default: ORCHESTRATOR_QUEUE_PREFIX or codex-orch)')
    .option(
      '--repo <id=path>',
      'a repository this machine serves: its id and the path of a clone (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--concurrency <n>', 'subtasks at once on this machine', positive('--concurrency'), 1)
    .option(
      '--artifacts <url-or-dir>',
      "where bundles go: the orchestrator's artifact URL or a shared directory (default: what each job names, or ORCHESTRATOR_ARTIFACTS)",
    )
    .option('--work-dir <dir>', 'where this agent puts its worktrees (default: ~/.codex-orchestrator/agent)')
    .option('--json', 'one JSON line per job event on stdout')
    .addHelpText(
      'after',
      `
Each job: fetch the base commit (from a bundle when the clone lacks it), take one of the agent's
job-slot worktrees (forced to that commit and cleaned), run the
repository's setup, the codex worker and the acceptance command (all through the guarded, sandboxed
gateway), commit here, and return the branch as a git bundle. Nothing is ever pushed.

Exit codes: 0 stopped by SIGINT/SIGTERM; 2 bad arguments or configuration; 5 codex cannot run (checked at start); 8 the queue is unreachable at start.`,
    )
    .action(async (opts: AgentCommandOptions) => {
      const overrides: ConfigOverrides = {};
      if (opts.queue) overrides.ORCHESTRATOR_QUEUE = opts.queue;
      if (opts.prefix) overrides.ORCHESTRATOR_QUEUE_PREFIX = opts.prefix;
      if (opts.artifacts) overrides.ORCHESTRATOR_ARTIFACTS = opts.artifacts;
      const workRoot = path.resolve(opts.workDir ?? path.join(os.homedir(), '.codex-orchestrator', 'agent'));
      if (!overrides.ORCHESTRATOR_STATE_DIR && !process.env.ORCHESTRATOR_STATE_DIR)
        overrides.ORCHESTRATOR_STATE_DIR = path.join(workRoot, 'state');
      const config = loadConfig({ overrides });
      const queue = config.queue;
      if (!queue)
        throw new ConfigError('no job queue: pass --queue redis://host:6379 or set ORCHESTRATOR_QUEUE', { variable: 'ORCHESTRATOR_QUEUE' });
      const repos = parseRepoFlags(opts.repo, workRoot);
      const artifacts = queue.artifacts
        ? openArtifactStore(queue.artifacts, {
            token: queue.artifactsToken || undefined,
            limits: { maxBytes: queue.artifactMaxBytes, warnBytes: Math.floor(queue.artifactMaxBytes / 4) },
          })
        : undefined;
      const server = await checkQueue(queue.url);
      const logger = createLogger({ stateDir: config.stateDir, level: config.logLevel });
      const say = (line: string, data: Record<string, unknown>) => {
        if (opts.json) printOut(JSON.stringify({ ts: new Date().toISOString(), ...data }));
        else printErr(line);
      };
      const agent = await startAgent({
        config,
        policy: loadPolicy(config.policyFile),
        url: queue.url,
        prefix: queue.prefix,
        repos,
        artifacts,
        artifactsToken: queue.artifactsToken || undefined,
        concurrency: opts.concurrency,
        lockMs: queue.lockMs,
        stalledMs: queue.stalledMs,
        logger,
        onStatus: (line) => say(`codex-orch agent: ${line}`, { event: 'queue.status', message: line }),
        onJob: (e) =>
          say(`codex-orch agent: job ${e.jobId} (${e.repoId}) ${e.phase}${e.detail ? `: ${e.detail}` : ''}`, {
            event: `job.${e.phase}`,
            ...e,
          }),
      });
      say(
        `codex-orch agent ${agent.agentId}: serving ${repos.map((r) => r.id).join(', ')} from ${redactUrl(queue.url)} (Redis ${server.version}), ${opts.concurrency} at a time; Ctrl-C stops after running jobs`,
        { event: 'agent.started', agentId: agent.agentId, repos: repos.map((r) => r.id), queue: redactUrl(queue.url) },
      );
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            void agent.close(true).then(resolve);
            return;
          }
          stopping = true;
          say(`codex-orch agent: ${signal}: finishing running jobs (again to stop now)`, { event: 'agent.stopping', signal });
          void agent.close(false).then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
