import { addTally, costOf, priceOf, tallyTokens, zeroTally, type PriceTable, type TokenTally } from '../../cost/index.js';
import type { RunEvent } from '../../orchestrator/events.js';
import type { CodexActivity } from '../../workers/codex/activity.js';

/**
 * The live view's model of a run, folded from its RunEvents: one row per
 * worktree (a plan subtask, or a worktree the orchestrator ran codex in), the
 * merge queue, the denials and the money. Pure: the clock is passed in.
 */
export type RowStatus =
  'queued' | 'waiting' | 'running' | 'reviewing' | 'in merge queue' | 'merging' | 'merged' | 'done' | 'failed' | 'stuck' | 'stopped';

export interface Spend {
  model: string | null;
  tally: TokenTally;
}

export interface LiveRow {
  key: string;
  /** Worktree name when known, else the subtask id. */
  label: string;
  taskId: string | null;
  status: RowStatus;
  /** ms epoch: when it started running (null: not yet). */
  startedAt: number | null;
  /** ms epoch: when it reached a final status. */
  endedAt: number | null;
  /** What codex is doing now: its command, the files it edits, its last message. */
  doing: string;
  /** Finished spends, and the running worker's turns so far (by worker id). */
  spent: Spend[];
  live: Map<string, Spend>;
  /** Order of appearance. */
  order: number;
}

export interface LiveState {
  runId: string | null;
  title: string;
  startedAt: number | null;
  finished: boolean;
  rows: Map<string, LiveRow>;
  mergeQueue: string[];
  denials: { worktree: string; command: string; rule: string | null }[];
  orchestrator: Spend;
  review: Spend[];
  commands: number;
  notes: string[];
  /** The workers' model, when the run said (run.started). */
  workerModel: string | null;
}

export interface LiveContext {
  prices: PriceTable;
  /** The codex workers' model, for their prices (null: unknown). */
  workerModel: string | null;
  /** The orchestrator's model. */
  model?: string | null;
}

const FINAL: ReadonlySet<RowStatus> = new Set(['merged', 'done', 'failed', 'stuck', 'stopped']);

export function newLiveState(ctx: Pick<LiveContext, 'model'> = {}): LiveState {
  return {
    runId: null,
    title: '',
    startedAt: null,
    finished: false,
    rows: new Map(),
    mergeQueue: [],
    denials: [],
    orchestrator: { model: ctx.model ?? null, tally: zeroTally() },
    review: [],
    commands: 0,
    notes: [],
    workerModel: null,
  };
}

function row(state: LiveState, key: string, label?: string, taskId?: string | null): LiveRow {
  let r = state.rows.get(key);
  if (!r) {
    r = {
      key,
      label: label ?? key,
      taskId: taskId ?? null,
      status: 'queued',
      startedAt: null,
      endedAt: null,
      doing: '',
      spent: [],
      live: new Map(),
      order: state.rows.size,
    };
    state.rows.set(key, r);
  } else if (label && r.label !== label) r.label = label;
  return r;
}

function setStatus(r: LiveRow, status: RowStatus, at: number): void {
  if (status === 'running' && r.startedAt === null) r.startedAt = at;
  if (FINAL.has(status)) r.endedAt ??= at;
  else r.endedAt = null;
  r.status = status;
}

const SUBTASK_STATUS: Record<string, RowStatus> = {
  pending: 'queued',
  blocked: 'waiting',
  running: 'running',
  complete: 'in merge queue',
  merged: 'merged',
  error: 'failed',
  stuck: 'stuck',
};

export function activityText(a: CodexActivity): string | null {
  switch (a.kind) {
    case 'command':
      return a.phase === 'started' ? `$ ${a.text}` : `$ ${a.text} → exit ${a.exitCode ?? '?'}`;
    case 'file':
      return `edit ${a.text}`;
    case 'message':
      return `“${a.text}”`;
    case 'thinking':
      return `thinking: ${a.text}`;
    case 'tool':
      return `tool ${a.text}`;
    case 'error':
      return `error: ${a.text}`;
    case 'usage':
      return null;
  }
}

/** `git merge … task-a task-b` in main/ → the branches it merges. */
function mergedBranches(command: string): string[] {
  if (!/\bgit\s+merge\b/.test(command)) return [];
  return [...command.matchAll(/\b(task-[A-Za-z0-9._/-]+)/g)].map((m) => m[1]!);
}

/** main/, or a dispatched run's `<task id>/main`. */
const isMain = (worktree: string) => worktree === 'main' || worktree.endsWith('/main');

const keyOfWorktree = (state: LiveState, worktree: string): string => {
  for (const r of state.rows.values()) if (r.label === worktree) return r.key;
  return worktree;
};

export function applyEvent(state: LiveState, e: RunEvent, at = Date.parse(e.ts) || Date.now()): void {
  switch (e.type) {
    case 'run.started':
      state.runId = e.runId;
      state.title = `run ${e.runId}${e.dryRun ? ' (dry run)' : ''}`;
      state.startedAt ??= at;
      state.orchestrator.model = e.model;
      if (e.workerModel) state.workerModel = e.workerModel;
      break;
    case 'plan.started':
      state.runId = e.runId;
      state.title ||= `run ${e.runId}`;
      state.startedAt ??= at;
      break;
    case 'agent.turn':
      if (e.usage) addTally(state.orchestrator.tally, e.usage);
      break;
    case 'subtask.status': {
      const r = row(state, e.taskId, undefined, e.taskId);
      const status = SUBTASK_STATUS[e.status] ?? 'running';
      setStatus(r, status, at);
      if (status === 'merged' || status === 'failed' || status === 'stuck') state.mergeQueue = state.mergeQueue.filter((k) => k !== r.key);
      if ((status === 'failed' || status === 'stuck') && e.reason) r.doing = e.reason.split('\n')[0] ?? '';
      if (status === 'merged') r.doing = '';
      break;
    }
    case 'plan.worker': {
      const r = row(state, e.taskId, undefined, e.taskId);
      const isReviewer = e.purpose === 'review' && e.workerId.startsWith('review-');
      if (e.phase === 'started') {
        if (isReviewer) {
          setStatus(r, 'reviewing', at);
          r.doing = 'review agent reading the diff';
        } else {
          setStatus(r, 'running', at);
          r.doing = e.purpose === 'initial' ? 'starting codex' : `${e.purpose} rework`;
          r.live.set(e.workerId, { model: null, tally: zeroTally() });
        }
      } else {
        const finalTally = e.usage ? { ...e.usage } : undefined;
        if (isReviewer) {
          if (finalTally) {
            const spend = { model: e.model ?? null, tally: finalTally };
            r.spent.push(spend);
            state.review.push(spend);
          }
          r.doing = `review: ${e.status ?? 'done'}`;
        } else {
          const live = r.live.get(e.workerId);
          r.live.delete(e.workerId);
          const tally = finalTally ?? live?.tally;
          if (tally) r.spent.push({ model: e.model ?? live?.model ?? null, tally });
        }
      }
      break;
    }
    case 'worker.activity': {
      const key = e.taskId ?? keyOfWorktree(state, e.worktree);
      const r = row(state, key, e.worktree, e.taskId ?? null);
      if (r.status === 'queued' || r.status === 'waiting') setStatus(r, 'running', at);
      if (e.activity.kind === 'usage') {
        const id = e.workerId ?? '';
        const live = r.live.get(id) ?? { model: null, tally: zeroTally() };
        addTally(live.tally, e.activity.usage);
        r.live.set(id, live);
      } else {
        const text = activityText(e.activity);
        if (text) r.doing = text;
      }
      break;
    }
    case 'plan.decision':
      if (e.kind === 'merge' && e.taskId) {
        const r = row(state, e.taskId, undefined, e.taskId);
        if (e.action === 'queued') {
          setStatus(r, 'in merge queue', at);
          if (!state.mergeQueue.includes(r.key)) state.mergeQueue.push(r.key);
        } else if (e.action === 'merging' || e.action === 'smoke-started') {
          setStatus(r, 'merging', at);
          r.doing = e.action === 'merging' ? 'merging into main' : 'smoke test after merge';
        } else if (e.action === 'merged') {
          setStatus(r, 'merged', at);
          r.doing = '';
          state.mergeQueue = state.mergeQueue.filter((k) => k !== r.key);
        } else {
          state.mergeQueue = state.mergeQueue.filter((k) => k !== r.key);
          r.doing = `merge ${e.action}: ${e.reason.split('\n')[0]}`;
        }
      } else if (e.kind === 'budget') state.notes.push(e.reason.split('\n')[0] ?? e.reason);
      break;
    case 'command.started': {
      if (!/^\s*codex\b/.test(e.command) || isMain(e.worktree)) break;
      const r = row(state, keyOfWorktree(state, e.worktree), e.worktree);
      setStatus(r, 'running', at);
      r.doing = 'starting codex';
      r.live.set('', { model: null, tally: zeroTally() });
      break;
    }
    case 'command.finished': {
      state.commands++;
      if (!e.allowed) state.denials.push({ worktree: e.worktree, command: e.command, rule: e.rule });
      if (e.worker) {
        const r = row(state, keyOfWorktree(state, e.worktree), e.worktree);
        const live = r.live.get('');
        r.live.delete('');
        const tally = e.worker.usage ?? live?.tally;
        if (tally) r.spent.push({ model: null, tally: { ...tally } });
        setStatus(r, e.worker.status === 'complete' ? 'done' : e.worker.status === 'stuck' ? 'stuck' : 'failed', at);
        r.doing = e.worker.summary.split('\n')[0] ?? '';
      } else if (isMain(e.worktree) && e.allowed && e.exitCode === 0) {
        const scope = e.worktree.slice(0, -'main'.length);
        for (const b of mergedBranches(e.command)) {
          const r = state.rows.get(keyOfWorktree(state, `${scope}${b}`));
          if (r) {
            setStatus(r, 'merged', at);
            r.doing = '';
          }
        }
      }
      break;
    }
    case 'run.error':
      state.notes.push(`${e.kind}: ${e.message.split('\n')[0]}`);
      break;
    case 'run.finished':
    case 'plan.finished':
      state.finished = true;
      for (const r of state.rows.values()) if (!FINAL.has(r.status) && r.status !== 'in merge queue') setStatus(r, 'stopped', at);
      break;
    default:
      break;
  }
}

export interface Money {
  tokens: number;
  usd: number | null;
  /** Some tokens have no price. */
  unpriced: boolean;
}

export function spendMoney(spends: Iterable<Spend>, ctx: LiveContext, defaultModel: string | null = ctx.workerModel): Money {
  let tokens = 0;
  let usd: number | null = null;
  let unpriced = false;
  for (const s of spends) {
    const n = tallyTokens(s.tally);
    tokens += n;
    const price = priceOf(ctx.prices, s.model ?? defaultModel);
    if (price) usd = (usd ?? 0) + costOf(s.tally, price);
    else if (n > 0) unpriced = true;
  }
  return { tokens, usd, unpriced };
}

export function rowMoney(r: LiveRow, ctx: LiveContext, state?: LiveState): Money {
  return spendMoney([...r.spent, ...r.live.values()], ctx, state?.workerModel ?? ctx.workerModel);
}

export function runMoney(state: LiveState, ctx: LiveContext): Money {
  const rows = [...state.rows.values()].flatMap((r) => [...r.spent, ...r.live.values()]);
  return spendMoney([...rows, state.orchestrator], ctx, state.workerModel ?? ctx.workerModel);
}

/** One run's event among several (dispatch): its worktrees and subtasks named `<scope>/<name>` so rows of different runs never meet. */
export function scopeEvent(scope: string, e: RunEvent): RunEvent {
  const name = (n: string) => `${scope}/${n}`;
  switch (e.type) {
    case 'command.started':
    case 'command.finished':
      return { ...e, worktree: name(e.worktree) };
    case 'worker.activity':
      return { ...e, worktree: name(e.worktree), taskId: e.taskId && name(e.taskId) };
    case 'subtask.status':
    case 'plan.worker':
      return { ...e, taskId: name(e.taskId) };
    case 'plan.decision':
      return e.taskId ? { ...e, taskId: name(e.taskId) } : e;
    case 'run.finished':
    case 'plan.finished':
      // One run ending is not the dispatch ending.
      return { type: 'agent.turn', ts: e.ts, turn: 0 };
    default:
      return e;
  }
}
