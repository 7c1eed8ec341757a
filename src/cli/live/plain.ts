import { formatTokens } from '../../cost/index.js';
import type { RunEvent } from '../../orchestrator/events.js';

/**
 * Append-only progress: one line per event that matters (pipes, CI logs,
 * NO_COLOR, --no-progress, a terminal without a size). Worker activity is
 * left out here — it is in `runs tail` — except what changes a worker's state.
 */
export type Paint = (style: 'red' | 'green' | 'yellow' | 'dim' | 'bold', text: string) => string;

const short = (s: string, n = 90) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

export function plainEventLine(e: RunEvent, paint: Paint = (_s, t) => t): string | null {
  switch (e.type) {
    case 'run.started':
      return `${paint('bold', 'codex-orchestrator')} run ${e.runId} on ${e.baseDir}${e.dryRun ? paint('yellow', ' (dry run)') : ''}${
        // A run whose commands are not confined by bwrap says so in its first line.
        e.sandbox ? `\n  sandbox: ${/^bwrap/.test(e.sandbox) ? paint('dim', e.sandbox) : paint('red', e.sandbox)}` : ''
      }`;
    case 'command.security':
      return paint('red', `  SECURITY ${short(`${e.worktree}$ ${e.command}`, 60)}: ${e.detail}`);
    case 'command.finished': {
      const verdict = !e.allowed
        ? paint('red', `DENIED ${e.rule}`)
        : e.dryRun
          ? paint('yellow', 'dry-run')
          : e.exitCode === 0
            ? paint('green', 'ok')
            : paint('red', `exit ${e.exitCode ?? 'none'}`);
      const worker = e.worker
        ? ` — worker ${e.worker.status}${e.worker.goalMet === false ? ', goal not met' : ''}: ${short(e.worker.summary, 60)}`
        : '';
      return `  [${verdict}] ${short(`${e.worktree}$ ${e.command}`)} ${paint('dim', `${(e.durationMs / 1000).toFixed(1)}s`)}${worker}`;
    }
    case 'model.retry':
      return paint('yellow', `  model API answered ${e.status}; retrying (attempt ${e.attempt})`);
    case 'run.error':
      return paint('red', `  ${e.kind}: ${e.message}`);
    case 'plan.started':
      return `plan: ${e.tasks} subtask(s), up to ${e.maxParallel} at once`;
    case 'subtask.status':
      return `  ${e.taskId}: ${e.status}${e.reason ? ` — ${e.reason.split('\n')[0]}` : ''}`;
    case 'plan.worker':
      // The reviewer's verdict has its own decision line.
      if (e.phase === 'started' || (e.purpose === 'review' && e.workerId.startsWith('review-'))) return null;
      return `  ${e.taskId}: ${e.purpose} worker ${e.workerId} ${e.status ?? 'finished'}${e.tokens ? paint('dim', ` (${formatTokens(e.tokens)} tokens)`) : ''}`;
    case 'plan.decision':
      if (e.kind === 'merge' && (e.action === 'queued' || e.action === 'merging' || e.action === 'smoke-started')) return null;
      return e.kind === 'merge' || e.kind === 'review' || e.kind === 'heal' || e.kind === 'budget' || e.kind === 'security'
        ? `  ${e.taskId ?? 'plan'}: ${e.kind} ${e.action} — ${e.reason.split('\n')[0]}`
        : null;
    case 'plan.finished':
      return `plan: ${e.merged}/${e.total} merged${e.stoppedBy ? `; stopped: ${e.stoppedBy}` : ''}`;
    default:
      return null;
  }
}
