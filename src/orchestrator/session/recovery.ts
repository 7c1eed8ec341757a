/**
 * Recovery of a run whose process died (`kill -9`, a crash, a reboot): what the
 * new process does before it calls the model again.
 *
 * 1. Workers: every worker directory of the run whose `meta.json` never reached
 *    a final status belonged to the dead process. Its codex process (detached,
 *    so it can outlive us) is stopped, and it is recorded as `interrupted` with
 *    the thread id from its events.
 * 2. The conversation: the saved items (conversation.ts), or — when there are
 *    none — the task again. Tool calls without a result were running when the
 *    process died: a codex worker line resumes its thread through the gateway
 *    (`codex exec resume <thread> …`, or runs again when no thread started), and
 *    its real result answers the call; a cut-off `run_plan` is answered by the
 *    plan executor resuming the saved manifest (`resumeRunPlan`); any other line
 *    is answered `INTERRUPTED` (its effect is unknown: the model checks before
 *    running it again).
 * 3. A note built from the store (commands, worktrees, merges, workers and
 *    thread ids) is added as a user message, so merged work is not redone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentInputItem } from '@openai/agents';
import type { Logger } from '../../logging/logger.js';
import { runDir as runDirPaths, type RunRecord, type Store } from '../../store/index.js';
import { runRepoCommand, type GatewayContext } from '../../tools/run-repo-command/gateway.js';
import { renderForModel } from '../../tools/run-repo-command/render.js';
import { killProcessGroup } from '../../process/process-group.js';
import { danglingCalls, functionResultItem, parseConversation } from '../agent/conversation.js';
import { storeWorkerStatus } from './run-record.js';

/** A worker of the dead process, as found in its directory. */
export interface RecoveredWorker {
  workerId: string;
  runDir: string;
  cwd: string;
  /** The worker layer's status in meta.json (pending/running when it was cut off). */
  status: string;
  threadId: string | null;
  startedAt: string | null;
  /** Set when it had finished (meta.json has its result) but the run never recorded it. */
  finishedText?: string;
  /** Whether a still-running codex process of it was stopped. */
  killed: boolean;
}

interface WorkerMeta {
  status?: string;
  cwd?: string;
  pid?: number | null;
  threadId?: string | null;
  startedAt?: string;
  reason?: string;
  result?: { goal_met?: boolean; summary?: string; followup_prompt?: string } | null;
  changedFiles?: string[];
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function threadFromEvents(file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const m =
    /"type"\s*:\s*"thread\.started"[^\n]*?"thread_id"\s*:\s*"([^"]+)"/.exec(text) ??
    /"thread_id"\s*:\s*"([^"]+)"[^\n]*?"type"\s*:\s*"thread\.started"/.exec(text);
  return m?.[1] ?? null;
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** Whether `pid` is a live process working in `cwd` (guards against a reused pid). */
function isWorkerProcess(pid: number, cwd: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return realpath(fs.readlinkSync(`/proc/${pid}/cwd`)) === realpath(cwd);
  } catch {
    // No /proc (macOS): the pid exists; without a way to check its cwd, leave it alone.
    return false;
  }
}

const FINAL_WORKER_STATUSES = new Set(['complete', 'error', 'stuck']);

/** Finds the run's workers that the dead process left behind, stops them and records them. */
export async function recoverWorkers(store: Store, run: RunRecord, stateDir: string, log?: Logger): Promise<RecoveredWorker[]> {
  const dir = runDirPaths(stateDir, run.id).workers;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: RecoveredWorker[] = [];
  for (const workerId of names.sort()) {
    const runDir = path.join(dir, workerId);
    const meta = readJson<WorkerMeta>(path.join(runDir, 'meta.json'));
    if (!meta || !meta.cwd) continue;
    const stored = store.getWorker(run.id, workerId);
    if (stored && stored.status !== 'starting' && stored.status !== 'running') continue; // recorded as finished
    const status = meta.status ?? 'pending';
    const threadId = meta.threadId ?? threadFromEvents(path.join(runDir, 'events.jsonl'));
    let killed = false;
    if (!FINAL_WORKER_STATUSES.has(status) && typeof meta.pid === 'number' && isWorkerProcess(meta.pid, meta.cwd)) {
      log?.warn({ workerId, pid: meta.pid }, 'stopping a codex worker left running by the dead process');
      await killProcessGroup(meta.pid, 2000);
      killed = true;
    }
    const finished = FINAL_WORKER_STATUSES.has(status);
    store.upsertWorker({
      runId: run.id,
      workerId,
      status: finished ? storeWorkerStatus(status) : 'interrupted',
      threadId,
      runDir,
      startedAt: meta.startedAt || undefined,
      error: finished ? undefined : 'the orchestrator process stopped while this worker ran',
    });
    const w: RecoveredWorker = { workerId, runDir, cwd: meta.cwd, status, threadId, startedAt: meta.startedAt ?? null, killed };
    if (finished) {
      const r = meta.result;
      w.finishedText = [
        `codex worker: ${status} (recorded after an orchestrator restart)`,
        `goal_met: ${r ? String(r.goal_met) : 'unknown (no valid result)'}`,
        ...(r?.summary ? [`summary: ${r.summary}`] : meta.reason ? [`reason: ${meta.reason}`] : []),
        ...(r?.followup_prompt ? [`followup_prompt: ${r.followup_prompt}`] : []),
        meta.changedFiles?.length ? `changed files (git status --porcelain): ${meta.changedFiles.join(', ')}` : 'changed files: none',
        `thread: ${threadId ?? 'none'}`,
        `run dir: ${runDir}`,
      ].join('\n');
    }
    out.push(w);
  }
  return out;
}

const CODEX_LINE = /^\s*codex\s+exec\b/;
export const RESUME_WORKER_PROMPT =
  'The orchestrator was restarted while you worked on this task. Continue where you stopped: check the current state of the files, finish the task, run the tests, and answer in the required format.';

/** What the recovery did, for the resume note and the `run.resumed` event. */
export interface RecoverySummary {
  conversationRestored: boolean;
  workers: RecoveredWorker[];
  answered: {
    callId: string;
    worktree: string;
    command: string;
    how: 'worker-resumed' | 'worker-rerun' | 'worker-finished' | 'interrupted' | 'plan-resumed';
  }[];
}

function parseArgs(args: string): { worktree: string; command: string } | undefined {
  try {
    const a = JSON.parse(args) as { worktree?: unknown; command?: unknown };
    return typeof a.worktree === 'string' && typeof a.command === 'string' ? { worktree: a.worktree, command: a.command } : undefined;
  } catch {
    return undefined;
  }
}

/** Answers the tool calls the dead process left without a result. */
async function answerDangling(
  items: AgentInputItem[],
  workers: RecoveredWorker[],
  gateway: GatewayContext,
  summary: RecoverySummary,
  resumeRunPlan?: () => Promise<string>,
): Promise<AgentInputItem[]> {
  const used = new Set<string>();
  const answers: AgentInputItem[] = [];
  for (const call of danglingCalls(items)) {
    if (call.name === 'run_plan' && resumeRunPlan) {
      answers.push(functionResultItem(call.callId, call.name, await resumeRunPlan()));
      summary.answered.push({ callId: call.callId, worktree: 'main', command: 'run_plan', how: 'plan-resumed' });
      continue;
    }
    const args = parseArgs(call.arguments);
    if (call.name !== 'run_repo_command' || !args) {
      answers.push(
        functionResultItem(
          call.callId,
          call.name,
          'INTERRUPTED: the orchestrator process stopped while this tool call ran; call it again if it is still needed.',
        ),
      );
      continue;
    }
    if (CODEX_LINE.test(args.command)) {
      const cwd = realpath(path.join(gateway.baseDir, args.worktree));
      const worker = workers
        .filter((w) => !used.has(w.workerId) && realpath(w.cwd) === cwd)
        .sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))[0];
      if (worker) used.add(worker.workerId);
      if (worker?.finishedText) {
        answers.push(functionResultItem(call.callId, call.name, `OK: recovered after a restart\n${worker.finishedText}`));
        summary.answered.push({ callId: call.callId, ...args, how: 'worker-finished' });
        continue;
      }
      const fullAuto = /\s--full-auto\b/.test(args.command) ? ' --full-auto' : '';
      const line = worker?.threadId ? `codex exec resume ${worker.threadId}${fullAuto} "${RESUME_WORKER_PROMPT}"` : args.command;
      const result = await runRepoCommand({ worktree: args.worktree, command: line }, gateway);
      const note = worker?.threadId
        ? `NOTE: the orchestrator restarted while this worker ran; its codex thread ${worker.threadId} was resumed with \`${line}\`.`
        : 'NOTE: the orchestrator restarted while this worker ran; no codex thread had started, so the line was run again.';
      answers.push(functionResultItem(call.callId, call.name, `${note}\n${renderForModel(result)}`));
      summary.answered.push({ callId: call.callId, ...args, how: worker?.threadId ? 'worker-resumed' : 'worker-rerun' });
      continue;
    }
    answers.push(
      functionResultItem(
        call.callId,
        call.name,
        'INTERRUPTED: the orchestrator process stopped while this command was running, so it may or may not have taken effect. Check the state (git status, git log) before running it again.',
      ),
    );
    summary.answered.push({ callId: call.callId, ...args, how: 'interrupted' });
  }
  return answers;
}

/** The note the resumed agent reads: what the store says was done. */
export function resumeNote(store: Store, run: RunRecord, summary: RecoverySummary, worktrees: readonly string[]): string {
  const commands = store.listCommands({ runId: run.id });
  const merges = store.listMerges(run.id).filter((m) => m.outcome === 'merged' && store.hasMerged(run.id, m.branch));
  const workers = store.listWorkers(run.id);
  const lines = [
    `The orchestrator process was restarted: this is a resume of run ${run.id}. What the run store recorded so far:`,
    `- commands run: ${commands.length}${
      commands.length
        ? ` (last: ${commands
            .slice(-5)
            .map((c) => `${c.worktree}$ ${c.command}`)
            .join(' | ')})`
        : ''
    }`,
    `- task worktrees present: ${worktrees.filter((w) => w !== 'main').join(', ') || 'none'} (reuse them and their branches)`,
    `- merged into main already (do NOT merge these again): ${merges.map((m) => `${m.branch} (${(m.sha ?? '').slice(0, 10)})`).join(', ') || 'none'}`,
    `- workers: ${workers.map((w) => `${w.workerId}${w.subtaskId ? `/${w.subtaskId}` : ''} ${w.status}${w.threadId ? ` thread ${w.threadId}` : ''}`).join('; ') || 'none'}`,
  ];
  for (const a of summary.answered) {
    if (a.how === 'plan-resumed') {
      lines.push(
        '- the run_plan call was cut off: the plan executor resumed the saved manifest and its answer above is the real result (merged subtasks were not redone)',
      );
      continue;
    }
    lines.push(
      `- the call \`${a.worktree}$ ${a.command}\` was cut off: ${a.how === 'interrupted' ? 'answered INTERRUPTED' : a.how === 'worker-resumed' ? 'its codex thread was resumed and finished' : a.how === 'worker-finished' ? 'its worker had finished' : 'it was run again'}`,
    );
  }
  lines.push(
    summary.conversationRestored
      ? 'Your conversation above is restored. Continue the task from where it stopped.'
      : 'Your earlier conversation could not be restored. Continue the task from this state.',
  );
  lines.push('Do not redo work that is merged, and never merge a branch twice.');
  return lines.join('\n');
}

/**
 * Prepares the input of a resumed run: recovered workers, the restored
 * conversation with its cut-off calls answered, and the resume note.
 */
export async function prepareResume(args: {
  store: Store;
  run: RunRecord;
  stateDir: string;
  gateway: GatewayContext;
  worktrees: readonly string[];
  logger?: Logger;
  /** Answers a cut-off run_plan call by resuming the plan executor from the saved manifest. */
  resumeRunPlan?: () => Promise<string>;
}): Promise<{ items: AgentInputItem[]; summary: RecoverySummary }> {
  const { store, run, gateway } = args;
  const workers = await recoverWorkers(store, run, args.stateDir, args.logger);
  const saved = parseConversation(run.agentState);
  const summary: RecoverySummary = { conversationRestored: saved !== undefined && saved.length > 0, workers, answered: [] };
  const items: AgentInputItem[] = summary.conversationRestored
    ? [...(saved as AgentInputItem[])]
    : [{ type: 'message', role: 'user', content: run.task }];
  items.push(...(await answerDangling(items, workers, gateway, summary, args.resumeRunPlan)));
  items.push({ type: 'message', role: 'user', content: resumeNote(store, run, summary, args.worktrees) });
  return { items, summary };
}

/** For `runs show`: where a run's files are. */
export function runFiles(stateDir: string, runId: string) {
  return runDirPaths(stateDir, runId);
}
