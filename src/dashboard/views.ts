import { formatUsd, type UsagePart, type WorkerUsagePart } from '../cost/index.js';
import type { RunListRow, RunView } from '../orchestrator/run-view.js';
import { globsOverlap } from '../scheduler/index.js';
import type { CommandRecord, EventRecord, MergeRecord, SubtaskRecord, WorkerRecord } from '../store/index.js';
import type { AttentionItem } from './attention.js';
import type { WorkerLine } from './worker-log.js';
import { age, html, raw, type Raw } from './html.js';

/** Server-rendered pages and the fragments the page's script swaps in on live updates. */

export interface PageOptions {
  title: string;
  /** `data-*` on <body> for the client script. */
  data?: Record<string, string>;
}

export function layout(body: Raw, options: PageOptions): string {
  const data = Object.entries(options.data ?? {}).map(([k, v]) => html` data-${raw(k)}="${v}"`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · codex-orch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/diff2html.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
<script type="module" src="/assets/dashboard.js"></script>
</head>
<body${data}>
<header class="top"><a class="brand" href="/">codex-orch</a><span class="conn" id="conn" role="status" aria-live="polite"></span></header>
<main>${body}</main>
</body>
</html>
`.html;
}

const statusBadge = (status: string) => html`<span class="badge s-${status}">${status}</span>`;
const short = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

export interface RunsRow extends RunListRow {
  attention: number;
}

export function runsTable(rows: readonly RunsRow[]): Raw {
  if (rows.length === 0)
    return html`<p class="empty" id="runs-empty">No runs yet. Submit a task below, or start one with <code>codex-orch run</code>.</p>`;
  return html`<table class="runs" id="runs-table">
    <thead>
      <tr>
        <th scope="col">Status</th>
        <th scope="col">Task</th>
        <th scope="col">Progress</th>
        <th scope="col">Tokens / cost</th>
        <th scope="col">Age</th>
        <th scope="col">Run</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr data-run="${r.id}" data-status="${r.status}">
            <td>
              ${statusBadge(r.status)}${r.attention > 0 ? html` <span class="badge attention" title="needs attention">${r.attention} ⚑</span>` : ''}
            </td>
            <td class="task"><a href="/runs/${encodeURIComponent(r.id)}">${short(r.task, 90)}</a></td>
            <td>
              <span class="progress" title="merged / subtasks"
                ><meter min="0" max="${Math.max(1, r.subtasks.total)}" value="${r.subtasks.done}"></meter>
                ${r.subtasks.done}/${r.subtasks.total}</span
              >
            </td>
            <td class="num">
              ${r.tokens.total.toLocaleString('en-US')}${r.costUsd !== null ? html`<br /><span class="cost">${formatUsd(r.costUsd)}</span>` : ''}
            </td>
            <td class="num" title="${r.createdAt}">${age(r.createdAt)}</td>
            <td class="mono">${r.id}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function runsPage(rows: readonly RunsRow[], baseDirs: readonly string[]): string {
  const body = html`<h1>Runs</h1>
    <section id="runs" aria-label="runs">${runsTable(rows)}</section>
    <section class="card submit">
      <h2>Submit a task</h2>
      <form id="submit-form" method="post" action="/api/tasks">
        <label for="task-text">Task</label>
        <textarea id="task-text" name="task" rows="3" required maxlength="20000" placeholder="What should the team do?"></textarea>
        <div class="row">
          <label for="task-base">Base dir</label>
          <select id="task-base" name="baseDir">
            ${baseDirs.map((b) => html`<option value="${b}">${b}</option>`)}
          </select>
          <label for="task-id">Id (optional)</label>
          <input id="task-id" name="id" pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,63}" placeholder="fix-12" />
          <button type="submit" id="submit-button">Submit task</button>
        </div>
        <p class="form-status" id="submit-status" role="status" aria-live="polite"></p>
      </form>
    </section>`;
  return layout(body, { title: 'Runs', data: { page: 'runs' } });
}

// ── the run page ─────────────────────────────────────────────────────────────

const NODE_W = 190;
const NODE_H = 58;
const COL_GAP = 70;
const ROW_GAP = 18;

interface Placed {
  t: SubtaskRecord;
  x: number;
  y: number;
}

/** Phases as columns (in plan order), subtasks stacked in each; edges for dependencies, dashed ones for shared files. */
export function planGraph(subtasks: readonly SubtaskRecord[], selected?: string): Raw {
  if (subtasks.length === 0) return html`<p class="empty">No plan yet: the subtasks appear here once the plan is accepted.</p>`;
  const phases: string[] = [];
  for (const t of subtasks) if (!phases.includes(t.phase ?? '')) phases.push(t.phase ?? '');
  // Inside a phase, a subtask stands one column right of the deepest subtask it depends on.
  const byId = new Map(subtasks.map((t) => [t.id, t]));
  const depth = new Map<string, number>();
  const depthOf = (t: SubtaskRecord, seen: Set<string> = new Set()): number => {
    const known = depth.get(t.id);
    if (known !== undefined) return known;
    if (seen.has(t.id)) return 0;
    seen.add(t.id);
    let d = 0;
    for (const dep of t.dependsOn) {
      const u = byId.get(dep);
      if (u && (u.phase ?? '') === (t.phase ?? '')) d = Math.max(d, depthOf(u, seen) + 1);
    }
    depth.set(t.id, d);
    return d;
  };
  const phaseCols = phases.map((ph) => 1 + Math.max(0, ...subtasks.filter((t) => (t.phase ?? '') === ph).map((t) => depthOf(t))));
  const phaseStart = phaseCols.map((_, i) => phaseCols.slice(0, i).reduce((a, b) => a + b, 0));
  const placed = new Map<string, Placed>();
  const rows = new Map<number, number>();
  for (const t of subtasks) {
    const col = phaseStart[phases.indexOf(t.phase ?? '')]! + depthOf(t);
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    placed.set(t.id, { t, x: col * (NODE_W + COL_GAP), y: 28 + row * (NODE_H + ROW_GAP) });
  }
  const totalCols = phaseCols.reduce((a, b) => a + b, 0);
  const width = totalCols * (NODE_W + COL_GAP) - COL_GAP;
  const height = 28 + Math.max(...rows.values()) * (NODE_H + ROW_GAP);
  const edges: Raw[] = [];
  for (const p of placed.values()) {
    for (const dep of p.t.dependsOn) {
      const from = placed.get(dep);
      if (!from) continue;
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = p.x;
      const y2 = p.y + NODE_H / 2;
      const mid = x1 === x2 ? x1 + 40 : (x1 + x2) / 2;
      edges.push(
        html`<path
          class="edge dep"
          data-from="${dep}"
          data-to="${p.t.id}"
          d="M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}"
          marker-end="url(#arrow)"
          ><title>${p.t.id} depends on ${dep}</title></path
        >`,
      );
    }
  }
  // Subtasks of one phase whose files overlap run one after the other: shown as a dashed link on the left.
  const list = [...placed.values()];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!;
      const b = list[j]!;
      if ((a.t.phase ?? '') !== (b.t.phase ?? '') || a.t.dependsOn.includes(b.t.id) || b.t.dependsOn.includes(a.t.id)) continue;
      if (!globsOverlap(a.t.files, b.t.files)) continue;
      const x = a.x - 8 - (j - i) * 3;
      edges.push(
        html`<path
          class="edge overlap"
          data-from="${a.t.id}"
          data-to="${b.t.id}"
          d="M${a.x} ${a.y + 12} C${x - 14} ${a.y + 12} ${x - 14} ${b.y + 12} ${b.x} ${b.y + 12}"
          ><title>${a.t.id} and ${b.t.id} share files: they run one at a time</title></path
        >`,
      );
    }
  }
  const heads = phases.map(
    (name, i) =>
      html`<div
        class="phase-head"
        style="left:${phaseStart[i]! * (NODE_W + COL_GAP)}px;width:${phaseCols[i]! * (NODE_W + COL_GAP) - COL_GAP}px"
      >
        ${name || 'Phase'}
      </div>`,
  );
  const nodes = list.map(
    (p) =>
      html`<button
        type="button"
        class="node s-${p.t.status}${p.t.id === selected ? ' selected' : ''}"
        data-task="${p.t.id}"
        data-status="${p.t.status}"
        style="left:${p.x}px;top:${p.y}px;width:${NODE_W}px;height:${NODE_H}px"
        aria-label="subtask ${p.t.id}: ${p.t.status}"
        aria-pressed="${p.t.id === selected ? 'true' : 'false'}"
      >
        <span class="node-id">${p.t.id}</span
        ><span class="node-status">${p.t.status}${p.t.attempts > 1 ? ` · try ${p.t.attempts}` : ''}</span
        ><span class="node-title">${short(p.t.title, 40)}</span>
      </button>`,
  );
  return html`<div class="graph" style="width:${width}px;height:${height}px">
      <svg class="edges" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-hidden="true">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z"></path>
          </marker>
        </defs>
        ${edges}
      </svg>
      ${heads}${nodes}
    </div>
    <p class="legend">
      <span class="swatch dep"></span> depends on <span class="swatch overlap"></span> shares files (runs one at a time)
    </p>`;
}

export function mergeQueue(merges: readonly MergeRecord[], subtasks: readonly SubtaskRecord[]): Raw {
  const waiting = subtasks.filter((t) => t.status === 'complete');
  if (merges.length === 0 && waiting.length === 0) return html`<p class="empty">Nothing has reached the merge queue yet.</p>`;
  return html`<ol class="queue">
    ${merges.map(
      (m) =>
        html`<li class="m-${m.outcome}" data-merge="${m.id}" data-task="${m.subtaskId ?? ''}">
          <span class="badge s-${m.outcome}">${m.outcome}</span>
          <span class="mono">${m.branch}</span>${m.sha ? html` <span class="mono dim">${m.sha.slice(0, 10)}</span>` : ''}
          <span class="dim">${m.at.slice(11, 19)}</span>${
            m.detail
              ? html`<details>
                  <summary>${m.outcome === 'smoke-failed' ? 'smoke log' : 'detail'}</summary>
                  <pre>${m.detail}</pre>
                </details>`
              : ''
          }
        </li>`,
    )}${waiting.map((t) => html`<li class="m-waiting" data-task="${t.id}"><span class="badge s-waiting">waiting</span> <span class="mono">${t.branch ?? `task-${t.id}`}</span></li>`)}
  </ol>`;
}

export function commandLog(commands: readonly CommandRecord[], total: number): Raw {
  if (commands.length === 0) return html`<p class="empty">No commands yet.</p>`;
  return html`${total > commands.length ? html`<p class="dim">the last ${commands.length} of ${total}</p>` : ''}
    <table class="commands">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Where</th>
          <th scope="col">Command</th>
          <th scope="col">Result</th>
        </tr>
      </thead>
      <tbody>
        ${commands.map(
          (c) =>
            html`<tr class="${c.allowed ? 'allowed' : 'denied'}" data-command="${c.id}">
              <td class="mono dim">${c.ts.slice(11, 19)}</td>
              <td class="mono">${c.worktree}</td>
              <td class="mono cmd">${c.command}</td>
              <td>
                ${c.allowed ? (c.dryRun ? 'dry run' : `exit ${c.exitCode ?? '-'}${c.durationMs !== undefined ? ` · ${c.durationMs} ms` : ''}`) : html`<strong class="denied-label">DENIED</strong> ${c.rule ?? ''}${c.reason ? html`<br /><span class="dim">${c.reason}</span>` : ''}`}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

const ACTION_LABEL = { resume: 'Resume run', retry: 'Retry', approve: 'Approve merge', reject: 'Reject merge' } as const;

export function attentionList(items: readonly AttentionItem[], runId: string): Raw {
  if (items.length === 0) return html`<p class="empty" id="attention-empty">Nothing needs you.</p>`;
  return html`<ul class="attention">
    ${items.map(
      (i) =>
        html`<li class="a-${i.kind}" data-kind="${i.kind}" data-task="${i.taskId ?? ''}">
          <span>${i.message}</span>
          ${i.actions.includes('reject') ? html`<label class="note"><span class="visually-hidden">Note for ${i.taskId}</span><input type="text" class="reject-note" data-task="${i.taskId ?? ''}" maxlength="4000" placeholder="note for the worker (to reject)" aria-label="Note for ${i.taskId}" /></label>` : ''}${i.actions.map(
            (a) =>
              html`<button
                type="button"
                class="action ${a}"
                data-action="${a}"
                data-run="${runId}"
                data-task="${i.taskId ?? ''}"
                aria-label="${ACTION_LABEL[a]}${i.taskId ? ` ${i.taskId}` : ''}"
              >
                ${ACTION_LABEL[a]}
              </button>`,
          )}
        </li>`,
    )}
  </ul>`;
}

export function runHeader(d: RunView): Raw {
  const r = d.run;
  const merged = d.subtasks.filter((t) => t.status === 'merged').length;
  const canStop = d.live;
  const canResume = !d.live && (r.status === 'interrupted' || r.status === 'aborted' || r.status === 'failed');
  return html`<div class="run-head" data-status="${r.status}">
    <h1>${short(r.task, 140)}</h1>
    <p class="meta">
      ${statusBadge(r.status)} <span class="mono">${r.id}</span> · ${merged}/${d.subtasks.length} merged ·
      ${d.usage.total.tokens.toLocaleString('en-US')}
      tokens${d.usage.total.costUsd !== null ? html` · <span class="cost">${formatUsd(d.usage.total.costUsd)}</span>` : ''}${d.usage.total.unpriced.length ? html` <span class="dim">(no price for ${d.usage.total.unpriced.join(', ')})</span>` : ''}
      · ${age(r.createdAt)} ago${d.lock && d.live ? html` · pid ${d.lock.pid}` : ''}
    </p>
    <p class="run-actions">
      ${canStop ? html`<button type="button" class="action stop" data-action="stop" data-run="${r.id}" aria-label="Stop run">Stop run</button>` : ''}${canResume ? html`<button type="button" class="action resume" data-action="resume" data-run="${r.id}" aria-label="Resume run">Resume run</button>` : ''}
    </p>
    ${r.error ? html`<p class="error">${r.error}</p>` : ''}
  </div>`;
}

export interface RunFragments {
  header: string;
  graph: string;
  queue: string;
  commands: string;
  attention: string;
}

export function runFragments(d: RunView, commands: readonly CommandRecord[], attention: readonly AttentionItem[]): RunFragments {
  return {
    header: runHeader(d).html,
    graph: planGraph(d.subtasks).html,
    queue: mergeQueue(d.merges, d.subtasks).html,
    commands: commandLog(commands, d.commands.total).html,
    attention: attentionList(attention, d.run.id).html,
  };
}

export function runPage(d: RunView, f: RunFragments, lastSeq: number): string {
  const body = html`<nav class="crumbs"><a href="/">Runs</a> / <span class="mono">${d.run.id}</span></nav>
    <section id="run-header">${raw(f.header)}</section>
    <div class="run-grid">
      <section class="card plan" aria-label="plan">
        <h2>Plan</h2>
        <div class="graph-wrap" id="graph">${raw(f.graph)}</div>
      </section>
      <aside class="card panel" id="panel" aria-label="subtask">
        <h2>Subtask</h2>
        <div id="panel-body"><p class="empty">Select a subtask in the plan.</p></div>
        <h3>Events</h3>
        <ol class="event-lines" id="event-lines" aria-live="off"></ol>
      </aside>
      <section class="card" aria-label="needs you">
        <h2>Needs you</h2>
        <div id="attention">${raw(f.attention)}</div>
      </section>
      <section class="card" aria-label="merge queue">
        <h2>Merge queue</h2>
        <div id="queue">${raw(f.queue)}</div>
      </section>
      <section class="card wide" aria-label="command log">
        <h2>Commands</h2>
        <div id="commands">${raw(f.commands)}</div>
      </section>
    </div>`;
  return layout(body, { title: short(d.run.task, 60), data: { page: 'run', run: d.run.id, seq: String(lastSeq) } });
}

export interface TaskPanelData {
  subtask: SubtaskRecord;
  workers: readonly WorkerRecord[];
  decisions: readonly EventRecord[];
  diffAvailable: boolean;
  /** The subtask's priced usage (all its workers), when known. */
  usage: UsagePart | undefined;
  workerUsage: readonly WorkerUsagePart[];
  /** Each worker's readable codex output (its events.jsonl tail). */
  workerOutput: ReadonlyMap<string, readonly WorkerLine[]>;
  /** Failed or stuck, and the run is not live: the panel offers Retry. */
  retryable?: boolean;
}

export function taskPanel(p: TaskPanelData): Raw {
  const t = p.subtask;
  const tokens = p.workers.reduce((n, w) => n + (w.usage ? w.usage.input + w.usage.output : 0), 0);
  const checks = p.decisions.filter((e) => {
    const k = (e.data as { kind?: string } | null)?.kind;
    return k === 'acceptance' || k === 'review' || k === 'merge' || k === 'heal';
  });
  return html`<div class="task-panel" data-task="${t.id}" data-status="${t.status}">
    <h3 class="task-title">${t.id} ${statusBadge(t.status)}</h3>
    <p>${t.title}</p>
    <dl class="facts">
      <dt>Kind</dt>
      <dd>${t.kind}${t.phase ? ` · ${t.phase}` : ''}</dd>
      <dt>Files</dt>
      <dd class="mono">${t.files.join(', ')}</dd>
      ${
        t.dependsOn.length
          ? html`<dt>Depends on</dt>
              <dd class="mono">${t.dependsOn.join(', ')}</dd>`
          : ''
      }
      <dt>Attempts</dt>
      <dd>${t.attempts}</dd>
      ${
        t.reason
          ? html`<dt>Reason</dt>
              <dd>${t.reason}</dd>`
          : ''
      }
      ${
        t.acceptance
          ? html`<dt>Acceptance</dt>
              <dd class="mono">${t.acceptance}</dd>`
          : ''
      }
      <dt>Tokens</dt>
      <dd>
        ${(p.usage?.tokens ?? tokens).toLocaleString('en-US')}
        (workers${p.usage?.costUsd !== null && p.usage?.costUsd !== undefined ? html`, <span class="cost">${formatUsd(p.usage.costUsd)}</span>` : ''})
      </dd>
      ${
        t.branch
          ? html`<dt>Branch</dt>
              <dd class="mono">${t.branch}</dd>`
          : ''
      }
    </dl>
    ${
      p.workers.length
        ? html`<table class="workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Status</th>
                <th scope="col">Tokens in/out</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              ${p.workers.map(
                (w) =>
                  html`<tr>
                    <td class="mono" title="${w.runDir ?? ''}">
                      ${w.workerId}${w.profile ? html` <span class="dim">${w.profile}</span>` : ''}${w.runDir ? html`<br /><span class="dim mono small">${w.runDir}</span>` : ''}
                    </td>
                    <td>${w.status}</td>
                    <td class="num">${w.usage ? `${w.usage.input}/${w.usage.output}` : '-'}</td>
                    <td class="num">${formatUsd(p.workerUsage.find((u) => u.workerId === w.workerId)?.costUsd ?? null) || '-'}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : ''
    }
    ${
      checks.length
        ? html`<h4>Acceptance, review, merge</h4>
            <ul class="checks">
              ${checks.map((e) => {
                const d = e.data as { kind?: string; action?: string; reason?: string };
                return html`<li class="c-${d.action ?? ''}">
                  <span class="mono dim">${e.ts.slice(11, 19)}</span> <strong>${d.kind} ${d.action}</strong> ${d.reason ?? ''}
                </li>`;
              })}
            </ul>`
        : ''
    }
    ${[...p.workerOutput]
      .filter(([, ls]) => ls.length > 0)
      .map(
        ([id, ls]) =>
          html`<h4>Worker ${id}</h4>
            <ol class="worker-lines">
              ${ls.map((l) => html`<li class="w-${l.kind}">${l.text}</li>`)}
            </ol>`,
      )}
    <p>
      <button
        type="button"
        class="action show-diff"
        data-action="diff"
        data-task="${t.id}"
        aria-label="Show diff of ${t.id}"
        ${p.diffAvailable ? '' : ' disabled'}
      >
        Show diff</button
      >${p.retryable ? html` <button type="button" class="action retry" data-action="retry" data-task="${t.id}" aria-label="Retry ${t.id}">Retry</button>` : ''}
    </p>
    <div class="diff" id="diff"></div>
  </div>`;
}

export function errorPage(status: number, message: string): string {
  return layout(
    html`<h1>${status}</h1>
      <p>${message}</p>
      <p><a href="/">All runs</a></p>`,
    { title: String(status) },
  );
}
