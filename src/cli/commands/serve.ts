import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseDotenv } from 'dotenv';
import { loadConfig, requireStateDir, withBaseDir } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { createLogger } from '../../logging/logger.js';
import { DASHBOARD_TOKEN_VAR } from '../../dashboard/security.js';
import { storeApproval } from '../../dashboard/approval.js';
import { startDashboard, type DashboardServer } from '../../dashboard/server.js';
import { printErr, printOut } from '../output.js';

interface ServeOptions {
  baseDir?: string[];
  host: string;
  port: number;
  token?: string;
  allowHost?: string[];
  open?: boolean;
  json?: boolean;
}

function readToken(flag: string | undefined): string | undefined {
  if (flag?.trim()) return flag.trim();
  const fromEnv = process.env[DASHBOARD_TOKEN_VAR];
  if (fromEnv?.trim()) return fromEnv.trim();
  const file = path.join(process.cwd(), '.env');
  if (!fs.existsSync(file)) return undefined;
  return parseDotenv(fs.readFileSync(file))[DASHBOARD_TOKEN_VAR]?.trim() || undefined;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port ${value}: expected 0 (a free port) to 65535`);
  return n;
}

/** Opens the URL in the desktop's browser, if there is one; a missing opener is only a note. */
function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => printErr(`codex-orch: could not start ${opener}; open ${url} yourself`));
  child.unref();
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('a local web dashboard of the runs: live plan graph, worker streams, diffs, merge queue, actions')
    .description(
      `Serves the dashboard of one or more base dirs (their state dirs' run stores) until Ctrl-C.
Binds to 127.0.0.1 by default. Another --host needs a token (--token or ${DASHBOARD_TOKEN_VAR}); the printed URL carries it once
and the page keeps it in an HttpOnly cookie. The first line on stdout is "codex-orch dashboard: <url>".
Exit code: 0 after Ctrl-C/SIGTERM, 2 for bad flags or configuration (a port in use, no base dir, no token off loopback).`,
    )
    .option(
      '-b, --base-dir <dir>',
      'a base dir whose runs to show (repeatable; default: ORCHESTRATOR_BASE_DIR)',
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 = a free one)', (v: string) => parsePort(v), 7420)
    .option('--token <token>', `access token (default: ${DASHBOARD_TOKEN_VAR}); required for a non-loopback --host`)
    .option(
      '--allow-host <name>',
      'also answer requests addressed to this host name (a reverse proxy or an /etc/hosts alias; repeatable)',
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .option('--open', "open the dashboard in the desktop's browser")
    .option('--json', 'print the first line as JSON ({"url": …}) instead of text')
    .action(async (opts: ServeOptions) => {
      const port = opts.port;
      const token = readToken(opts.token);
      const config = loadConfig({ overrides: { ORCHESTRATOR_DASHBOARD_TOKEN: token } });
      const dirs = opts.baseDir?.length ? opts.baseDir : config.baseDir ? [config.baseDir] : [];
      if (dirs.length === 0) throw new UsageError('no base dir: pass --base-dir <dir> (repeatable) or set ORCHESTRATOR_BASE_DIR');
      const sources = dirs.map((d) => {
        const abs = path.resolve(d);
        if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new UsageError(`--base-dir ${d}: not a directory`);
        // An explicit ORCHESTRATOR_STATE_DIR names one state dir: it only applies to a single base dir.
        const c =
          dirs.length > 1 ? withBaseDir(loadConfig({ overrides: { ORCHESTRATOR_STATE_DIR: undefined } }), abs) : withBaseDir(config, abs);
        return { baseDir: abs, stateDir: dirs.length > 1 ? path.join(abs, '.codex-orchestrator') : requireStateDir(c) };
      });
      const logger = createLogger({ stateDir: sources[0]!.stateDir, level: config.logLevel });
      const server: DashboardServer = await startDashboard({
        sources,
        host: opts.host,
        port,
        token: token || undefined,
        allowedHosts: opts.allowHost ?? [],
        approval: storeApproval,
        logger,
      });
      const shown = token ? `${server.url}?token=${encodeURIComponent(token)}` : server.url;
      if (opts.json) printOut(JSON.stringify({ url: shown, port: server.port, baseDirs: sources.map((s) => s.baseDir) }));
      else printOut(`codex-orch dashboard: ${shown}`);
      if (opts.open) openBrowser(shown);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
