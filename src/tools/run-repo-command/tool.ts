import { tool } from '@openai/agents';
import { z } from 'zod';
import { runRepoCommand, type GatewayContext } from './gateway.js';
import { renderForModel } from './render.js';

export const RUN_REPO_COMMAND_DESCRIPTION = [
  'Run one shell command line in a worktree directly inside the base directory (cwd = <baseDir>/<worktree>).',
  'worktree: a directory name such as "main" or "task-add-search" (no paths, no "..").',
  'command: a POSIX shell line. Every simple command in it is checked against the policy; denied lines are not run and come back as DENIED with the rule.',
  'Run `codex exec --full-auto "<subtask>"` alone on its line to start a Codex worker in that worktree; it returns the worker\'s status, summary and changed files.',
  'Several calls in one turn run concurrently. Never push, change remotes or rewrite history: those are always denied.',
].join(' ');

/**
 * The Agents SDK function tool. Results (allowed, denied, failed) are returned
 * as text, never thrown: an exception would reach the model as a generic error.
 * The SDK runs the tool calls of one turn concurrently; nothing here serialises
 * them except git commands that take the same repository lock.
 */
export function createRunRepoCommandTool(ctx: GatewayContext) {
  return tool({
    name: 'run_repo_command',
    description: RUN_REPO_COMMAND_DESCRIPTION,
    parameters: z.object({
      worktree: z.string().describe('Worktree directory name inside the base dir, e.g. "main" or "task-<slug>"'),
      command: z.string().describe('Shell command line to run in that worktree'),
    }),
    execute: async ({ worktree, command }) => renderForModel(await runRepoCommand({ worktree, command }, ctx)),
    errorFunction: (_context, error) =>
      `ERROR: the tool failed before running the command: ${error instanceof Error ? error.message : String(error)}`,
  });
}
