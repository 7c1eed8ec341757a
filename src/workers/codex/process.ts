import fs from 'node:fs';
import { execa } from 'execa';
import { escapedGroups, groupAlive, killProcessGroup, signalGroup } from '../../process/process-group.js';
import type { Logger } from '../../logging/logger.js';
import { parseEventLine, type CodexEvent } from './events.js';
import { watchForOrphan } from './orphan-watch.js';

/** Token usage summed over `turn.completed` events. */
export interface WorkerUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

export const zeroUsage = (): WorkerUsage => ({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 });

export interface CodexProcessOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Raw JSONL is appended here as it streams. */
  eventsFile: string;
  /** stderr (and stdout lines that are not JSON) are appended here. */
  stderrFile: string;
  /** No event for this long → killed, `stall`. */
  stallMs: number;
  /** Wall-clock budget → killed, `timeout`. */
  timeoutMs: number;
  /** TERM → KILL grace for the process group. */
  killGraceMs: number;
  signal?: AbortSignal;
  logger: Logger;
  onEvent?: (event: CodexEvent) => void;
  onSpawn?: (pid: number | undefined) => void;
  /** Longest stdout line kept (longer ones are dropped and counted as malformed). */
  maxLineBytes?: number;
}

export type KillReason = 'stall' | 'timeout' | 'abort';

export interface CodexProcessOutcome {
  pid: number | undefined;
  exitCode: number | null;
  exitSignal: string | null;
  spawnError: string | null;
  killedFor: KillReason | null;
  threadId: string | null;
  usage: WorkerUsage;
  lastAgentMessage: string | null;
  turnFailed: string | null;
  /** `error` events (codex reports retries and fatal errors this way). */
  errors: string[];
  fileChanges: string[];
  eventCount: number;
  malformedLines: number;
  unknownEvents: number;
  stderrTail: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

const STDERR_TAIL_BYTES = 4096;

/** Groups still running, killed if this process exits first (detached children outlive us otherwise). */
const liveGroups = new Set<number>();
let exitHook = false;
function track(pid: number): void {
  liveGroups.add(pid);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const g of liveGroups) signalGroup(g, 'SIGKILL');
    });
  }
}

/**
 * Runs one codex invocation in its own process group, streaming its JSONL:
 * every line is appended to events.jsonl, parsed into a typed event and
 * folded into the outcome. Liveness: a stall timer (reset by every stdout line)
 * and a wall budget; on either, or on abort, the whole group gets TERM then KILL.
 * When codex exits, anything it left in its group is killed too.
 */
export async function runCodexProcess(o: CodexProcessOptions): Promise<CodexProcessOutcome> {
  const started = Date.now();
  const out: CodexProcessOutcome = {
    pid: undefined,
    exitCode: null,
    exitSignal: null,
    spawnError: null,
    killedFor: null,
    threadId: null,
    usage: zeroUsage(),
    lastAgentMessage: null,
    turnFailed: null,
    errors: [],
    fileChanges: [],
    eventCount: 0,
    malformedLines: 0,
    unknownEvents: 0,
    stderrTail: '',
    startedAt: new Date(started).toISOString(),
    endedAt: '',
    durationMs: 0,
  };
  const maxLine = o.maxLineBytes ?? 8 * 1024 * 1024;
  const events = fs.createWriteStream(o.eventsFile, { flags: 'a' });
  const stderr = fs.createWriteStream(o.stderrFile, { flags: 'a' });
  // A run-dir file that cannot be written (a full disk) must not crash the orchestrator: the worker goes on, the run notices.
  for (const [stream, file] of [
    [events, o.eventsFile],
    [stderr, o.stderrFile],
  ] as const) {
    stream.on('error', (error) => o.logger.error({ err: error, file }, 'cannot write a worker file'));
  }
  let stderrTail = '';

  if (o.signal?.aborted) {
    out.killedFor = 'abort';
    await Promise.all([new Promise((r) => events.end(r)), new Promise((r) => stderr.end(r))]);
    out.endedAt = new Date().toISOString();
    return out;
  }

  const child = execa(o.bin, o.args, {
    cwd: o.cwd,
    env: o.env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    detached: true,
    buffer: false,
    reject: false,
    cleanup: false,
    encoding: 'buffer',
  });
  out.pid = child.pid;
  if (child.pid !== undefined) track(child.pid);
  const orphanWatch = child.pid !== undefined ? watchForOrphan(child.pid) : undefined;
  o.onSpawn?.(child.pid);

  // Descendants that leave codex's group (setsid) are noted while codex lives,
  // so that they can be stopped with it even after their parent is gone.
  const escaped = new Set<number>();
  const noteEscaped = () => {
    if (child.pid !== undefined) {
      for (const g of escapedGroups(child.pid)) {
        escaped.add(g);
        orphanWatch?.add(g);
      }
    }
  };
  const escapeScan = setInterval(noteEscaped, 1000);
  escapeScan.unref?.();

  let lastEventAt = Date.now();
  let waitingDrain = false;
  let killing: Promise<void> | null = null;
  const kill = (reason: KillReason) => {
    if (killing || child.pid === undefined) return;
    out.killedFor ??= reason;
    noteEscaped();
    o.logger.warn({ pid: child.pid, reason }, 'killing codex process group');
    killing = killProcessGroup(child.pid, o.killGraceMs);
  };

  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = (delay: number) => {
    stallTimer = setTimeout(() => {
      const idle = Date.now() - lastEventAt;
      if (idle >= o.stallMs) kill('stall');
      else armStall(o.stallMs - idle);
    }, delay);
    stallTimer.unref?.();
  };
  armStall(o.stallMs);
  const wallTimer = setTimeout(() => kill('timeout'), o.timeoutMs);
  wallTimer.unref?.();
  const onAbort = () => kill('abort');
  o.signal?.addEventListener('abort', onAbort, { once: true });

  const handleLine = (buf: Buffer) => {
    lastEventAt = Date.now();
    const line = buf.toString('utf8').replace(/\r$/, '');
    if (line.trim() === '') return;
    const event = parseEventLine(line);
    if (event === null) {
      out.malformedLines++;
      stderr.write(`[stdout, not JSON] ${line.length > 2000 ? `${line.slice(0, 2000)}…` : line}\n`);
      if (out.malformedLines <= 5) o.logger.warn({ line: line.slice(0, 200) }, 'codex printed a line that is not JSON');
      return;
    }
    if (!events.write(`${line}\n`) && !waitingDrain) {
      waitingDrain = true;
      child.stdout?.pause();
      events.once('drain', () => {
        waitingDrain = false;
        child.stdout?.resume();
      });
    }
    out.eventCount++;
    switch (event.type) {
      case 'thread.started':
        out.threadId = event.thread_id;
        break;
      case 'turn.completed':
        if (event.usage) {
          out.usage.inputTokens += event.usage.input_tokens;
          out.usage.cachedInputTokens += event.usage.cached_input_tokens;
          out.usage.outputTokens += event.usage.output_tokens;
        }
        break;
      case 'turn.failed':
        out.turnFailed = event.error?.message ?? 'turn failed';
        break;
      case 'error':
        if (out.errors.length < 20) out.errors.push(event.message);
        break;
      case 'item.completed':
        if (event.item.type === 'agent_message' && 'text' in event.item && typeof event.item.text === 'string')
          out.lastAgentMessage = event.item.text;
        if (event.item.type === 'file_change' && 'changes' in event.item && Array.isArray(event.item.changes)) {
          for (const c of event.item.changes as { path: string }[]) if (!out.fileChanges.includes(c.path)) out.fileChanges.push(c.path);
        }
        break;
      case 'unknown':
        out.unknownEvents++;
        if (out.unknownEvents <= 5) o.logger.info({ type: event.rawType }, 'codex event of an unknown type (kept)');
        break;
      default:
        break;
    }
    o.onEvent?.(event);
  };

  // Split stdout into lines without unbounded buffering.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let dropping = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (dropping) {
        dropping = false;
      } else if (pending.length > 0) {
        pending.push(piece);
        handleLine(Buffer.concat(pending));
      } else {
        handleLine(piece);
      }
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length && !dropping) {
      const rest = chunk.subarray(start);
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
      if (pendingBytes > maxLine) {
        out.malformedLines++;
        stderr.write(`[stdout, line over ${maxLine} bytes dropped]\n`);
        pending = [];
        pendingBytes = 0;
        dropping = true;
      }
    }
    lastEventAt = Date.now();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });

  // When codex itself exits, kill what it left behind in its group so pipes close.
  let groupChecked = false;
  child.on('exit', () => {
    const pid = child.pid;
    if (pid === undefined || killing) return;
    groupChecked = true;
    if (groupAlive(pid)) {
      o.logger.info({ pid }, 'codex exited and left processes in its group; killing them');
      killing = killProcessGroup(pid, o.killGraceMs);
    }
  });

  const result = await child;
  clearInterval(escapeScan);
  clearTimeout(stallTimer);
  clearTimeout(wallTimer);
  await Promise.all([...escaped].filter((g) => groupAlive(g)).map((g) => killProcessGroup(g, o.killGraceMs)));
  o.signal?.removeEventListener('abort', onAbort);
  if (pending.length > 0 && !dropping) handleLine(Buffer.concat(pending));
  // eslint-disable-next-line @typescript-eslint/await-thenable -- set from a callback; TypeScript narrows it to null here
  if (killing) await killing;
  if (child.pid !== undefined) {
    // Checked once more unless the exit hook already found the group empty.
    if ((killing || !groupChecked) && groupAlive(child.pid)) await killProcessGroup(child.pid, o.killGraceMs);
    liveGroups.delete(child.pid);
  }
  orphanWatch?.stop();
  out.exitCode = typeof result.exitCode === 'number' ? result.exitCode : null;
  out.exitSignal = result.signal ?? null;
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    out.spawnError = result.shortMessage ?? 'codex could not be started';
    stderr.write(`${out.spawnError}\n`);
    stderrTail = (stderrTail + out.spawnError).slice(-STDERR_TAIL_BYTES);
  }
  out.stderrTail = stderrTail;
  await Promise.all([new Promise((r) => events.end(r)), new Promise((r) => stderr.end(r))]);
  out.endedAt = new Date().toISOString();
  out.durationMs = Date.now() - started;
  return out;
}
