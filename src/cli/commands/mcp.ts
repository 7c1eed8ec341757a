import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { serveMcpHttp } from '../../mcp/http.js';
import { serveMcpStdio } from '../../mcp/server.js';
import { printErr } from '../output.js';

export const MCP_TOKEN_VAR = 'ORCHESTRATOR_MCP_TOKEN';

const HELP_AFTER = `
Tools: start_run, get_run, wait_run, list_runs, get_diff, stop_run, resume_run, check_command (read-only ones carry readOnlyHint). Every tool answers within 60 s;
  wait_run waits at most 50 s per call.
Runs started here are ordinary runs in their own detached process: they go on when this server
  (or its client) exits, and show in codex-orch runs list / runs tail.

Register it:
  codex mcp add codex-orch -- codex-orch mcp --base-dir /work/app
  claude mcp add codex-orch -- codex-orch mcp --base-dir /work/app
HTTP (loopback only): ${MCP_TOKEN_VAR}=$(openssl rand -hex 24) codex-orch mcp --http 8765
  then POST http://127.0.0.1:8765/mcp with "Authorization: Bearer $${MCP_TOKEN_VAR}".
See docs/mcp.md.`;

interface McpCommandOptions {
  baseDir?: string;
  http?: string;
}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535)
    throw new UsageError(`--http: expected a port (0 = any free one), got ${JSON.stringify(value)}`);
  return Number(value);
}

export function registerMcp(program: Command): Command {
  return program
    .command('mcp')
    .summary('serve the orchestrator as MCP tools (stdio; --http on loopback) for Codex, Claude Code or any agent')
    .description('Model Context Protocol server over stdio (default) or streamable HTTP on 127.0.0.1 with a bearer token.')
    .option('-b, --base-dir <dir>', 'default base dir for runs (default: ORCHESTRATOR_BASE_DIR); each tool also takes baseDir')
    .option('--http <port>', `serve streamable HTTP on 127.0.0.1:<port> instead of stdio (needs ${MCP_TOKEN_VAR})`)
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: McpCommandOptions) => {
      const config = loadConfig({
        overrides: { ORCHESTRATOR_BASE_DIR: opts.baseDir === undefined ? undefined : path.resolve(opts.baseDir) },
      });
      if (opts.http !== undefined) {
        const port = parsePort(opts.http);
        const token = process.env[MCP_TOKEN_VAR]?.trim();
        if (!token)
          throw new UsageError(`${MCP_TOKEN_VAR}: not set; mcp --http needs a bearer token`, {
            hint: `${MCP_TOKEN_VAR}=$(openssl rand -hex 24) codex-orch mcp --http ${port}`,
          });
        const server = await serveMcpHttp({ config, port, token });
        printErr(`codex-orch mcp: listening on ${server.url} (Authorization: Bearer $${MCP_TOKEN_VAR}); Ctrl-C to stop`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await server.close();
        return;
      }
      // stdout is the protocol channel: nothing else may be printed there.
      const handle = serveMcpStdio({ config }, (error) => printErr(`codex-orch mcp: ${error.message}`));
      await new Promise<void>((resolve) => {
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await handle.close();
    });
}
