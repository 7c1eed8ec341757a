import ora, { type Ora } from 'ora';
import type { RunEvent } from '../orchestrator/events.js';
import { colorEnabled, paint } from './output.js';

/**
 * The progress display of a run on stderr: a spinner with a status line on a
 * TTY, one plain line per event otherwise (CI logs, pipes). Quiet mode prints nothing.
 */
export function createProgress(options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}) {
  const stream = options.stream ?? process.stderr;
  const started = Date.now();
  const running = new Map<string, string>();
  let commands = 0;
  let denied = 0;
  let spinner: Ora | undefined;
  const interactive = Boolean(stream.isTTY) && !options.quiet;
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  const status = () =>
    `${elapsed()} · ${commands} commands${denied ? `, ${denied} denied` : ''}${running.size ? ` · running: ${[...running.values()].slice(0, 3).join(' | ')}` : ''}`;
  const line = (text: string) => {
    if (options.quiet) return;
    if (spinner) spinner.clear();
    // On a terminal one event is one line: cut to the width (colour codes do not count).
    // eslint-disable-next-line no-control-regex
    const visible = text.replace(/\u001b\[[0-9;]*m/g, '');
    const width = interactive && stream.columns ? stream.columns - 1 : Infinity;
    stream.write(`${visible.length > width ? `${visible.slice(0, width - 1)}…` : text}\n`);
    if (spinner) spinner.render();
  };
  const short = (s: string, n = 90) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

  return {
    onEvent(event: RunEvent): void {
      switch (event.type) {
        case 'run.started':
          line(`${paint('bold', 'codex-orchestrator', stream)} run ${event.runId} on ${event.baseDir}${event.dryRun ? paint('yellow', ' (dry run)', stream) : ''}`);
          if (event.sandbox) line(`  sandbox: ${/^bwrap/.test(event.sandbox) ? paint('dim', event.sandbox, stream) : paint('red', event.sandbox, stream)}`);
          if (interactive) spinner = ora({ stream, text: status(), color: 'cyan', isEnabled: true, discardStdin: false }).start();
          if (spinner && !colorEnabled(stream)) spinner.color = 'white';
          break;
        case 'command.started':
          running.set(`${event.worktree}\u0000${event.command}`, short(`${event.worktree}$ ${event.command}`, 50));
          if (spinner) spinner.text = status();
          break;
        case 'command.finished': {
          commands++;
          running.delete(`${event.worktree}\u0000${event.command}`);
          const verdict = !event.allowed
            ? paint('red', `DENIED ${event.rule}`, stream)
            : event.dryRun
              ? paint('yellow', 'dry-run', stream)
              : event.exitCode === 0
                ? paint('green', 'ok', stream)
                : paint('red', `exit ${event.exitCode ?? 'none'}`, stream);
          if (!event.allowed) denied++;
          const worker = event.worker ? ` — worker ${event.worker.status}${event.worker.goalMet === false ? ', goal not met' : ''}: ${short(event.worker.summary, 60)}` : '';
          line(`  [${verdict}] ${short(`${event.worktree}$ ${event.command}`)} ${paint('dim', `${(event.durationMs / 1000).toFixed(1)}s`, stream)}${worker}`);
          if (spinner) spinner.text = status();
          break;
        }
        case 'command.security':
          line(paint('red', `  SECURITY ${event.worktree}$ ${short(event.command, 60)}: ${event.detail}`, stream));
          break;
        case 'model.retry':
          line(paint('yellow', `  model API answered ${event.status}; retrying (attempt ${event.attempt})`, stream));
          break;
        case 'run.error':
          line(paint('red', `  ${event.kind}: ${event.message}`, stream));
          break;
        case 'run.finished':
          spinner?.stop();
          spinner = undefined;
          break;
        default:
          break;
      }
    },
    stop(): void {
      spinner?.stop();
      spinner = undefined;
    },
  };
}
