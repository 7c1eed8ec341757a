/** Row ↔ record mapping for the SQLite store: column names to the store's types. */
import type {
  CommandRecord,
  EventRecord,
  LockRecord,
  MergeOutcome,
  MergeRecord,
  RunRecord,
  RunStatus,
  SubtaskRecord,
  SubtaskStatus,
  WorkerRecord,
  WorkerStatus,
} from './types.js';

export type Row = Record<string, unknown>;

// eslint-disable-next-line @typescript-eslint/no-base-to-string -- any value, shown as text on purpose
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

export function assign<T extends object>(target: T, key: keyof T, value: unknown): void {
  if (value !== undefined) (target as Record<keyof T, unknown>)[key] = value;
}

export function runFromRow(r: Row): RunRecord {
  const run: RunRecord = {
    id: r.id as string,
    task: r.task as string,
    baseDir: r.base_dir as string,
    status: r.status as RunStatus,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    dryRun: r.dry_run === 1,
    tokens: { input: Number(r.tokens_input), output: Number(r.tokens_output) },
  };
  assign(run, 'taskKey', str(r.task_key));
  assign(run, 'finishedAt', str(r.finished_at));
  assign(run, 'pid', num(r.pid));
  assign(run, 'model', str(r.model));
  assign(run, 'error', str(r.error));
  assign(run, 'agentState', str(r.agent_state));
  assign(run, 'summary', str(r.summary));
  if (r.manifest !== null && r.manifest !== undefined) run.manifest = JSON.parse(r.manifest as string) as unknown;
  return run;
}

export function subtaskFromRow(r: Row): SubtaskRecord {
  const s: SubtaskRecord = {
    runId: r.run_id as string,
    id: r.id as string,
    position: Number(r.position),
    title: r.title as string,
    kind: r.kind as string,
    status: r.status as SubtaskStatus,
    files: JSON.parse(r.files as string) as string[],
    dependsOn: JSON.parse(r.depends_on as string) as string[],
    attempts: Number(r.attempts),
    updatedAt: r.updated_at as string,
  };
  assign(s, 'phase', str(r.phase));
  assign(s, 'prompt', str(r.prompt));
  assign(s, 'acceptance', str(r.acceptance));
  assign(s, 'worktree', str(r.worktree));
  assign(s, 'branch', str(r.branch));
  assign(s, 'threadId', str(r.thread_id));
  assign(s, 'startedAt', str(r.started_at));
  assign(s, 'endedAt', str(r.ended_at));
  assign(s, 'reason', str(r.reason));
  return s;
}

export function workerFromRow(r: Row): WorkerRecord {
  const w: WorkerRecord = {
    runId: r.run_id as string,
    workerId: r.worker_id as string,
    status: r.status as WorkerStatus,
    updatedAt: r.updated_at as string,
  };
  assign(w, 'subtaskId', str(r.subtask_id));
  assign(w, 'threadId', str(r.thread_id));
  assign(w, 'runDir', str(r.run_dir));
  assign(w, 'profile', str(r.profile));
  if (r.usage !== null && r.usage !== undefined) w.usage = JSON.parse(r.usage as string) as WorkerRecord['usage'];
  assign(w, 'exitCode', num(r.exit_code));
  assign(w, 'error', str(r.error));
  assign(w, 'startedAt', str(r.started_at));
  assign(w, 'endedAt', str(r.ended_at));
  return w;
}

export function mergeFromRow(r: Row): MergeRecord {
  const m: MergeRecord = {
    id: Number(r.id),
    runId: r.run_id as string,
    branch: r.branch as string,
    outcome: r.outcome as MergeOutcome,
    at: r.at as string,
  };
  assign(m, 'subtaskId', str(r.subtask_id));
  assign(m, 'sha', str(r.sha));
  assign(m, 'detail', str(r.detail));
  return m;
}

export function commandFromRow(r: Row): CommandRecord {
  const c: CommandRecord = {
    id: Number(r.id),
    ts: r.ts as string,
    worktree: r.worktree as string,
    command: r.command as string,
    allowed: r.allowed === 1,
    dryRun: r.dry_run === 1,
  };
  assign(c, 'runId', str(r.run_id));
  assign(c, 'rule', str(r.rule));
  assign(c, 'reason', str(r.reason));
  assign(c, 'exitCode', num(r.exit_code));
  assign(c, 'durationMs', num(r.duration_ms));
  return c;
}

export function eventFromRow(r: Row): EventRecord {
  const e: EventRecord = {
    runId: r.run_id as string,
    seq: Number(r.seq),
    ts: r.ts as string,
    type: r.type as string,
    data: JSON.parse(r.data as string) as unknown,
  };
  assign(e, 'workerId', str(r.worker_id));
  return e;
}

export function lockFromRow(r: Row): LockRecord {
  const l: LockRecord = {
    key: r.key as string,
    owner: r.owner as string,
    pid: Number(r.pid),
    hostname: r.hostname as string,
    acquiredAt: r.acquired_at as string,
    heartbeatAt: r.heartbeat_at as string,
  };
  assign(l, 'runId', str(r.run_id));
  return l;
}
