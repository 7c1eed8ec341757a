/**
 * `codex-orch mcp`: the orchestrator as an MCP server. One factory makes a
 * fresh McpServer with every tool; stdio serves it to one client, the HTTP
 * entry (loopback, bearer token) to any number.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Config } from '../config/config.js';
import { currentCli, type CliCommand } from './launch.js';
import { RunsAccess } from './runs-access.js';
import { registerTools } from './tools.js';

export const SERVER_NAME = 'codex-orch';

export interface McpServerOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  /** The program started for runs (default: this one). */
  cli?: CliCommand;
  version?: string;
}

/** A factory of servers sharing one view of the runs (the base dirs of runs it started). */
export function mcpServerFactory(options: McpServerOptions): () => McpServer {
  const runs = new RunsAccess(options.config);
  const cli = options.cli ?? currentCli();
  const env = options.env ?? process.env;
  return () => {
    const server = new McpServer({ name: SERVER_NAME, version: options.version ?? '0.1.0' }, { capabilities: { tools: {} } });
    registerTools(server, { runs, cli, env });
    return server;
  };
}

/** Serves over this process's stdin/stdout until the client closes stdin. */
export function serveMcpStdio(options: McpServerOptions, onerror?: (error: Error) => void): { close(): Promise<void> } {
  return serveStdio(mcpServerFactory(options), onerror ? { onerror } : {});
}
