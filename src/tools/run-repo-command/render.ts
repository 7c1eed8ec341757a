import type { CommandResult } from './types.js';

/**
 * The compact text the model reads for one call. The command log keeps the
 * full record; the model gets the decision, the exit code and the output.
 */
export function renderForModel(result: CommandResult): string {
  if (result.denied) {
    return `DENIED (rule ${result.rule}): ${result.reason}\nNothing was run. Choose an allowed command; see the policy in your instructions.`;
  }
  if (result.dryRun) return `DRY RUN: allowed, not executed (${result.reason}).`;
  const lines: string[] = [];
  const status = result.timedOut ? `timed out after ${result.durationMs} ms (process group killed)` : `exit ${result.exitCode ?? 'none'}`;
  lines.push(`${result.ok ? 'OK' : 'FAILED'}: ${status}, ${result.durationMs} ms${result.truncated ? ', output truncated' : ''}`);
  if (result.worker) {
    lines.push(result.stdout.trimEnd());
    if (result.stderr.trim()) lines.push(`--- stderr\n${result.stderr.trimEnd()}`);
    return lines.join('\n');
  }
  if (result.stdout.trim()) lines.push(`--- stdout\n${result.stdout.trimEnd()}`);
  if (result.stderr.trim()) lines.push(`--- stderr\n${result.stderr.trimEnd()}`);
  if (!result.stdout.trim() && !result.stderr.trim()) lines.push('(no output)');
  // Say why a write or a connection failed: the sandbox, not a bug in the project.
  if (result.sandbox?.denials.length) {
    lines.push(
      `--- sandbox (${result.sandbox.profile}): writes outside the worktree, .git metadata, secrets and the network are blocked; blocked here: ${result.sandbox.denials.slice(0, 3).join(' | ')}`,
    );
  }
  if (result.securityEvent) lines.push(`--- SECURITY: ${result.securityEvent}`);
  return lines.join('\n');
}
