import type { Command } from 'commander';
import type { RunEvent } from '../../../orchestrator/events.js';
import { runIsLive } from '../../../orchestrator/session/run-record.js';
import type { EventRecord, Store } from '../../../store/index.js';
import type { CodexActivity } from '../../../workers/codex/index.js';
import { activityText, plainEventLine, resolveWorkers, tailWorkers } from '../../live/index.js';
import { paint } from '../../output.js';
import { storeOptions, withStore, type StoreOptions } from '../../run-store.js';

/** `codex-orch runs tail <id>`: the run's events as readable lines (or a worker's codex events), -f until it ends. */

function eventLine(e: EventRecord): string {
  const t = e.ts.slice(11, 19);
  // Stored event data is JSON of a RunEvent: its fields are strings and numbers.
  const d = (e.data ?? {}) as Record<string, string | number | boolean | null | undefined>;
  let text: string;
  switch (e.type) {
    case 'command.started':
      text = `${d.worktree}$ ${d.command}`;
      break;
    case 'command.finished':
      text = `${d.worktree}$ ${d.command} → ${d.allowed === false ? `DENIED (${d.rule})` : d.dryRun ? 'dry run' : `exit ${d.exitCode}`} ${d.durationMs} ms`;
      break;
    case 'run.started':
      text = `${d.task}`;
      break;
    case 'run.finished':
      text = `${d.status} in ${Math.round(Number(d.wallTimeMs) / 1000)} s`;
      break;
    case 'run.error':
      text = `${d.kind}: ${d.message}`;
      break;
    case 'worker.activity': {
      const a = d.activity as CodexActivity | undefined;
      text = `${String(d.worktree)} ${a ? (a.kind === 'usage' ? `turn done — tokens in ${a.usage.input} (cached ${a.usage.cachedInput}), out ${a.usage.output}` : (activityText(a) ?? a.kind)) : ''}`;
      break;
    }
    default: {
      const plain = plainEventLine(d as unknown as RunEvent);
      if (plain !== null) {
        text = plain.trim();
        break;
      }
      const { ts: _ts, type: _type, record: _r, snapshot: _s, ...rest } = d;
      text = JSON.stringify(rest);
    }
  }
  return `${t} ${String(e.seq).padStart(4)} ${paint('cyan', e.type)} ${text}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tailRun(store: Store, runId: string, opts: { follow?: boolean; json?: boolean; intervalMs?: number }): Promise<void> {
  let since = 0;
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    for (;;) {
      const events = store.listEvents(runId, { since });
      for (const e of events) {
        process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${eventLine(e)}\n`);
        since = e.seq;
      }
      if (!opts.follow || stop) return;
      if (events.length === 0) {
        const run = store.requireRun(runId);
        if (run.status !== 'running' && run.status !== 'pending') return;
        if (!runIsLive(store, runId)) return; // its process died: nothing more will come
      }
      await sleep(opts.intervalMs ?? 300);
    }
  } finally {
    process.off('SIGINT', onSig);
  }
}

export function registerRunsTail(runs: Command): void {
  storeOptions(
    runs
      .command('tail')
      .argument('<id>', 'run id or prefix')
      .description("the run's events as readable lines (or one worker's codex events with --worker); -f follows until the run ends"),
  )
    .option('-f, --follow', 'keep printing new events until the run (or the worker) ends')
    .option(
      '--worker <name|id>',
      "a worker's codex events: by worktree or subtask name (all its workers, in order), worker id or id prefix",
    )
    .option('--raw', 'the events as JSON Lines, as recorded')
    .action(async (id: string, opts: StoreOptions & { follow?: boolean; worker?: string; raw?: boolean }) => {
      await withStore(opts, async (store, stateDir) => {
        const run = store.requireRun(id);
        if (opts.worker) {
          const workers = resolveWorkers(store, stateDir, run.id, opts.worker);
          let stop = false;
          const onSig = () => (stop = true);
          process.once('SIGINT', onSig);
          try {
            return await tailWorkers(workers, {
              follow: Boolean(opts.follow),
              raw: Boolean(opts.raw || opts.json),
              shouldStop: () => stop,
            });
          } finally {
            process.off('SIGINT', onSig);
          }
        }
        return tailRun(store, run.id, { follow: Boolean(opts.follow), json: Boolean(opts.json || opts.raw) });
      });
    });
}
