/**
 * One tmux session per run (`codex-orch-<runId>`): a `status` window that
 * follows the run in the store, and a window per worker that follows its
 * events.jsonl as readable lines (so it works for headless codex). The status
 * window's process adds the worker windows as workers appear, and raises
 * `display-message` on approval-needed, stalls, failures and the run's end —
 * so a run started without tmux can be attached to later and behaves the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pendingApprovals } from '../orchestrator/approval.js';
import { reconcileRunStatus } from '../orchestrator/session/run-record.js';
import { FINISHED_RUN_STATUSES, openSqliteStore, readJsonFile, runDir, type Store } from '../store/index.js';
import { UsageError } from '../errors.js';
import { displayMessage, hasSession, listWindows, tmux, tmuxAvailable, type TmuxTarget } from '../tmux/tmux.js';
import { parseEventLine } from '../workers/codex/index.js';
import { CodexEventFormatter } from './live/index.js';

export function runSessionName(runId: string): string {
  return `codex-orch-${runId}`;
}

/** How this program is invoked again inside a tmux window (same node, loader flags and entry script). */
export function selfArgv(): string[] {
  const entry = process.argv[1];
  if (!entry) throw new Error('cannot tell how this program was started');
  return [process.execPath, ...process.execArgv, entry];
}

export interface RunSessionOptions {
  target: TmuxTarget;
  runId: string;
  stateDir: string;
  /** The program to run in the windows (default: this one). */
  self?: string[];
}

function socketArgs(target: TmuxTarget): string[] {
  return target.socket ? ['--socket', target.socket] : [];
}

/** Creates the run's session (detached) unless it exists; returns its name and whether it was new. */
export async function ensureRunSession(o: RunSessionOptions): Promise<{ session: string; created: boolean }> {
  const session = runSessionName(o.runId);
  if (await hasSession(o.target, session)) return { session, created: false };
  const self = o.self ?? selfArgv();
  const statusCmd = [...self, 'runs', 'tmux-status', o.runId, '--state-dir', o.stateDir, ...socketArgs(o.target)];
  const r = await keptWindow(o.target, ['new-session', '-d', '-s', session, '-n', 'status', '-x', '160', '-y', '48'], statusCmd);
  if (!r.ok && !(await hasSession(o.target, session))) throw new Error(`tmux new-session failed: ${r.stderr.trim()}`);
  return { session, created: r.ok };
}

/**
 * Makes a window (or session) whose pane stays readable after its command
 * ends: it starts on a placeholder, gets remain-on-exit, then the real command
 * replaces the placeholder — so even a command that ends at once is kept.
 */
async function keptWindow(target: TmuxTarget, create: string[], command: string[]) {
  const made = await tmux(target, [...create, '-P', '-F', '#{pane_id}', 'sleep', '86400']);
  if (!made.ok) return made;
  const pane = made.stdout.trim();
  await tmux(target, ['set-option', '-w', '-t', pane, 'remain-on-exit', 'on']);
  return tmux(target, ['respawn-pane', '-k', '-t', pane, ...command]);
}

/** Adds a window for every worker of the run that has none yet (by worker id). */
export async function addWorkerWindows(o: RunSessionOptions): Promise<string[]> {
  const session = runSessionName(o.runId);
  const dir = path.join(runDir(o.stateDir, o.runId).root, 'workers');
  let workers: string[];
  try {
    workers = fs
      .readdirSync(dir)
      .filter((n) => fs.statSync(path.join(dir, n)).isDirectory())
      .sort();
  } catch {
    return [];
  }
  const have = new Set(await listWindows(o.target, session));
  const self = o.self ?? selfArgv();
  const added: string[] = [];
  for (const w of workers) {
    if (have.has(w)) continue;
    const cmd = [...self, 'runs', 'tmux-worker', o.runId, w, '--state-dir', o.stateDir];
    const r = await keptWindow(o.target, ['new-window', '-d', '-t', `=${session}:`, '-n', w], cmd);
    if (r.ok) added.push(w);
  }
  return added;
}

/** Follows one worker's events.jsonl as readable lines until the worker has ended. */
export async function followWorker(
  stateDir: string,
  runId: string,
  workerId: string,
  out: (line: string) => void,
  options: { pollMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const dir = runDir(stateDir, runId).worker(workerId);
  const file = path.join(dir, 'events.jsonl');
  out(`worker ${workerId} of run ${runId}`);
  let pos = 0;
  let rest = '';
  let quietAfterEnd = 0;
  const fmt = new CodexEventFormatter();
  for (;;) {
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch {
      /* not written yet */
    }
    if (size > pos) {
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(size - pos);
      fs.readSync(fd, buf, 0, buf.length, pos);
      fs.closeSync(fd);
      pos = size;
      const lines = (rest + buf.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.trim()) continue;
        const e = parseEventLine(l);
        const text = e ? fmt.line(e) : null;
        if (text) out(text);
      }
      quietAfterEnd = 0;
    }
    const meta = readJsonFile(path.join(dir, 'meta.json')) as { status?: string } | undefined;
    if (meta?.status && ['complete', 'error', 'stuck'].includes(meta.status) && ++quietAfterEnd > 1) {
      out(`— worker ${workerId} ended: ${meta.status} —`);
      return;
    }
    if (options.signal?.aborted) return;
    await sleep(options.pollMs ?? 300);
  }
}

/** The status window's text: the run, its subtasks, its workers, what waits for a person. */
export function statusText(store: Store, runId: string): string {
  const run = reconcileRunStatus(store, store.requireRun(runId));
  const lines = [`run ${run.id}  ${run.status}`, `task: ${run.task.split('\n')[0]!.slice(0, 150)}`, ''];
  const subtasks = store.listSubtasks(run.id);
  if (subtasks.length) {
    lines.push('subtasks:');
    for (const t of subtasks) lines.push(`  ${t.id.padEnd(24)} ${t.status.padEnd(18)} ${t.branch ?? ''}`);
    lines.push('');
  }
  const workers = store.listWorkers(run.id);
  if (workers.length) {
    lines.push('workers:');
    for (const w of workers)
      lines.push(`  ${w.workerId.padEnd(24)} ${w.status.padEnd(18)} ${w.usage ? `tokens ${w.usage.input + w.usage.output}` : ''}`);
    lines.push('');
  }
  for (const p of pendingApprovals(store, run.id))
    lines.push(
      `WAITING FOR APPROVAL: ${p.taskId} — codex-orch runs diff ${run.id} ${p.taskId}; codex-orch runs approve ${run.id} ${p.taskId}`,
    );
  return lines.join('\n');
}

/**
 * The status window's loop: redraw, add worker windows, and say on the tmux
 * status line what needs a person. Ends (leaving the last screen) once the run
 * has finished.
 */
export async function runStatusWindow(
  o: RunSessionOptions & { pollMs?: number; write?: (s: string) => void; signal?: AbortSignal },
): Promise<void> {
  const write = o.write ?? ((s: string) => process.stdout.write(s));
  const store = openSqliteStore(o.stateDir);
  const told = new Set<string>();
  const say = async (key: string, text: string) => {
    if (told.has(key)) return;
    told.add(key);
    await displayMessage(`codex-orch: ${text}`, o.target);
  };
  try {
    for (;;) {
      const found = store.getRun(o.runId);
      if (!found) {
        // A run the store does not hold (yet): its run directory still has the workers and, at the end, the report.
        const report = readJsonFile(runDir(o.stateDir, o.runId).report) as { status?: string } | undefined;
        write(`\x1b[2J\x1b[Hrun ${o.runId}  ${report?.status ?? 'running'}\n(not in the run store: only its workers are shown)\n`);
        await addWorkerWindows(o);
        if (report?.status) return say('run', `run ${o.runId} ${report.status}`);
        if (o.signal?.aborted) return;
        await sleep(o.pollMs ?? 1000);
        continue;
      }
      const run = reconcileRunStatus(store, found);
      write(`\x1b[2J\x1b[H${statusText(store, o.runId)}\n`);
      await addWorkerWindows(o);
      for (const p of pendingApprovals(store, o.runId))
        await say(`approval:${p.taskId}:${p.head ?? ''}`, `${p.taskId} waits for your approval (runs approve ${o.runId} ${p.taskId})`);
      for (const w of store.listWorkers(o.runId)) {
        if (w.status === 'stalled' || w.status === 'crashed' || w.status === 'failed')
          await say(`worker:${w.workerId}:${w.status}`, `worker ${w.workerId} ${w.status}`);
      }
      if (FINISHED_RUN_STATUSES.includes(run.status) || run.status === 'interrupted') {
        await say('run', `run ${o.runId} ${run.status}`);
        if (run.status !== 'interrupted') return;
      }
      if (o.signal?.aborted) return;
      await sleep(o.pollMs ?? 1000);
    }
  } finally {
    store.close();
  }
}

export function requireTmux(): void {
  if (!tmuxAvailable())
    throw new UsageError('tmux is not installed (or does not run)', {
      hint: 'install tmux, or follow the run with codex-orch runs tail <id> -f',
    });
}

/** For `run --tmux`: the session of a run that just started (its windows follow the run by themselves). */
export async function openRunSession(stateDir: string, runId: string, socket: string | undefined): Promise<string> {
  requireTmux();
  const { session } = await ensureRunSession({ target: { socket }, runId, stateDir });
  return session;
}
