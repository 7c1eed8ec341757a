// The dashboard's only script: live updates over Server-Sent Events, fragment
// swaps from the server's own renderer, and the action buttons. No framework,
// no build step; the server renders every piece of HTML.

const body = document.body;
const conn = document.getElementById('conn');

/** What the page has seen, for tests and the benchmark: every seq once, in order. */
const state = { lastSeq: 0, received: 0, gaps: [], duplicates: 0, applied: new Map(), connected: false };
window.__dashboard = state;

function setConn(text, cls) {
  if (!conn) return;
  conn.textContent = text;
  conn.className = `conn ${cls}`;
}

async function request(method, url, payload) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  const res = await fetch(url, init);
  const type = res.headers.get('content-type') || '';
  const data = type.includes('application/json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error(typeof data === 'object' && data && data.error ? data.error : `${res.status} ${res.statusText}`);
  return data;
}

function debounce(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } catch (e) {
      setConn(`refresh failed: ${e.message}`, 'bad');
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (timer === null) timer = setTimeout(run, ms);
  };
  return schedule;
}

// ── event lines ─────────────────────────────────────────────────────────────

const time = (ts) => (typeof ts === 'string' ? ts.slice(11, 19) : '');

function eventText(e) {
  const d = e.data || {};
  switch (e.type) {
    case 'run.started':
      return `run started: ${d.task ?? ''}`;
    case 'run.finished':
      return `run ${d.status} in ${Math.round(Number(d.wallTimeMs) / 1000)} s`;
    case 'run.error':
      return `run error (${d.kind}): ${d.message}`;
    case 'plan.started':
      return `plan started: ${d.tasks} subtasks, up to ${d.maxParallel} at once`;
    case 'plan.finished':
      return `plan finished: ${d.merged}/${d.total} merged${d.stoppedBy ? `, stopped by ${d.stoppedBy}` : ''}`;
    case 'subtask.status':
      return `${d.taskId} → ${d.status}${d.reason ? ` (${d.reason})` : ''}`;
    case 'plan.worker':
      return `${d.taskId}: ${d.purpose} worker ${d.workerId} ${d.phase}${d.status ? ` ${d.status}` : ''}${d.tokens ? ` · ${d.tokens} tokens` : ''}`;
    case 'plan.decision':
      return `${d.taskId ? `${d.taskId}: ` : ''}${d.kind} ${d.action}: ${d.reason}`;
    case 'command.started':
      return `${d.worktree}$ ${d.command}`;
    case 'command.finished':
      return `${d.worktree}$ ${d.command} → ${d.allowed === false ? `DENIED (${d.rule})` : d.dryRun ? 'dry run' : `exit ${d.exitCode}`} · ${d.durationMs} ms`;
    case 'agent.turn':
      return `model turn ${d.turn}`;
    case 'model.retry':
      return `model retry ${d.attempt} (HTTP ${d.status})`;
    default: {
      const { ts: _ts, type: _type, ...rest } = d;
      return `${e.type} ${JSON.stringify(rest).slice(0, 300)}`;
    }
  }
}

function eventLine(e) {
  const li = document.createElement('li');
  li.dataset.seq = String(e.seq);
  li.className = `ev ev-${e.type.replace(/\./g, '-')}${e.type === 'command.finished' && e.data && e.data.allowed === false ? ' denied' : ''}`;
  const t = document.createElement('span');
  t.className = 'mono dim';
  t.textContent = `${time(e.ts)} `;
  const x = document.createElement('span');
  x.textContent = eventText(e);
  li.append(t, x);
  return li;
}

// ── the runs page ───────────────────────────────────────────────────────────

function runsPage() {
  const runs = document.getElementById('runs');
  const refresh = async () => {
    const f = await request('GET', '/fragments/runs');
    if (runs && runs.innerHTML !== f.runs) runs.innerHTML = f.runs;
    setConn('live', 'ok');
  };
  setInterval(() => refresh().catch(() => setConn('offline: retrying', 'bad')), 1500);
  const form = document.getElementById('submit-form');
  const status = document.getElementById('submit-status');
  form?.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const payload = { task: String(data.get('task') || '') };
    const baseDir = String(data.get('baseDir') || '');
    const id = String(data.get('id') || '').trim();
    if (baseDir) payload.baseDir = baseDir;
    if (id) payload.id = id;
    status.textContent = 'submitting…';
    status.className = 'form-status';
    try {
      const r = await request('POST', '/api/tasks', payload);
      status.textContent = `submitted as ${r.submitted.id}; the run appears below when it starts`;
      status.className = 'form-status ok';
      form.reset();
      refresh().catch(() => undefined);
    } catch (e) {
      status.textContent = e.message;
      status.className = 'form-status bad';
    }
  });
}

// ── the run page ────────────────────────────────────────────────────────────

function runPage() {
  const runId = body.dataset.run;
  const renderedSeq = Number(body.dataset.seq || 0);
  const events = [];
  const MAX_EVENTS = 5000;
  let selected = null;
  let lastGraph = null;
  const lastFragments = new Map();
  const lines = document.getElementById('event-lines');
  const lastEvent = document.createElement('span');
  lastEvent.id = 'last-event';
  lastEvent.className = 'mono dim';
  document.querySelector('header.top')?.append(lastEvent);

  const slug = (id) => `task-${id}`;
  const belongs = (e, task) => {
    const d = e.data || {};
    if (d.taskId === task) return true;
    if ((e.type === 'command.started' || e.type === 'command.finished') && typeof d.worktree === 'string')
      return d.worktree === slug(task) || d.worktree.endsWith(`/${slug(task)}`);
    return false;
  };

  const refresh = debounce(async () => {
    const f = await request('GET', `/runs/${encodeURIComponent(runId)}/fragments`);
    for (const key of ['header', 'queue', 'commands', 'attention']) {
      const el = document.getElementById(key === 'header' ? 'run-header' : key);
      if (!el || lastFragments.get(key) === f[key]) continue;
      lastFragments.set(key, f[key]);
      // What a person is typing (a rejection note) survives the swap.
      const typed = new Map([...el.querySelectorAll('input[data-task]')].map((i) => [i.dataset.task, i.value]));
      const focused =
        document.activeElement instanceof HTMLInputElement && el.contains(document.activeElement)
          ? document.activeElement.dataset.task
          : null;
      el.innerHTML = f[key];
      for (const i of el.querySelectorAll('input[data-task]')) {
        if (typed.has(i.dataset.task)) i.value = typed.get(i.dataset.task);
        if (i.dataset.task === focused) i.focus();
      }
    }
    if (f.graph !== lastGraph) {
      lastGraph = f.graph;
      const graph = document.getElementById('graph');
      graph.innerHTML = f.graph;
      markSelected();
    }
    if (selected) refreshPanel();
  }, 300);

  const refreshPanel = debounce(async () => {
    if (!selected) return;
    const task = selected;
    const html = await request('GET', `/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(task)}/panel`);
    if (task !== selected) return;
    const panel = document.getElementById('panel-body');
    const diff = panel.querySelector('#diff');
    const keepDiff = diff && diff.innerHTML && panel.querySelector('.task-panel')?.dataset.task === task ? diff.innerHTML : null;
    panel.innerHTML = html;
    if (keepDiff) panel.querySelector('#diff').innerHTML = keepDiff;
  }, 400);

  function markSelected() {
    for (const n of document.querySelectorAll('.node[data-task]')) {
      const on = n.dataset.task === selected;
      n.classList.toggle('selected', on);
      n.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }

  function renderLines() {
    lines.replaceChildren(
      ...events
        .filter((e) => belongs(e, selected))
        .slice(-300)
        .map(eventLine),
    );
    lines.scrollTop = lines.scrollHeight;
  }

  function select(task) {
    selected = task;
    markSelected();
    renderLines();
    refreshPanel();
  }

  function applyStatus(e) {
    const d = e.data || {};
    const node = document.querySelector(`.node[data-task="${CSS.escape(String(d.taskId))}"]`);
    if (!node) return;
    node.dataset.status = d.status;
    node.className = node.className.replace(/\bs-[a-z_-]+/, `s-${d.status}`);
    const s = node.querySelector('.node-status');
    if (s) s.textContent = `${d.status}${d.attempts > 1 ? ` · try ${d.attempts}` : ''}`;
    node.setAttribute('aria-label', `subtask ${d.taskId}: ${d.status}`);
  }

  function onEvent(e) {
    state.received++;
    if (e.seq <= state.lastSeq) {
      state.duplicates++;
      return;
    }
    if (e.seq !== state.lastSeq + 1) state.gaps.push([state.lastSeq, e.seq]);
    state.lastSeq = e.seq;
    events.push(e);
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    // History before the server rendered the page is already in it.
    if (e.seq <= renderedSeq) return;
    if (e.type === 'subtask.status') applyStatus(e);
    if (selected && belongs(e, selected)) {
      lines.append(eventLine(e));
      while (lines.childElementCount > 300) lines.firstElementChild.remove();
      lines.scrollTop = lines.scrollHeight;
    }
    lastEvent.textContent = `#${e.seq} ${e.type}`;
    lastEvent.dataset.seq = String(e.seq);
    state.applied.set(e.seq, Date.now());
    if (state.applied.size > 20000) state.applied.delete(state.applied.keys().next().value);
    refresh();
  }

  let source = null;
  function connect() {
    // After a reconnect the browser sends Last-Event-ID itself; `since` covers a fresh EventSource.
    source = new EventSource(`/api/events?run=${encodeURIComponent(runId)}&since=${state.lastSeq}`);
    source.addEventListener('open', () => {
      state.connected = true;
      setConn('live', 'ok');
      refresh();
    });
    source.addEventListener('run-event', (m) => onEvent(JSON.parse(m.data)));
    source.addEventListener('error', () => {
      state.connected = false;
      setConn('reconnecting…', 'bad');
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 1000);
      }
    });
  }
  connect();

  document.addEventListener('click', async (ev) => {
    const node = ev.target.closest('.node[data-task]');
    if (node) {
      select(node.dataset.task);
      return;
    }
    const btn = ev.target.closest('button[data-action]');
    if (!btn) return;
    const action = btn.dataset.action;
    const task = btn.dataset.task;
    const enc = encodeURIComponent;
    try {
      btn.disabled = true;
      if (action === 'diff') {
        const html = await request('GET', `/runs/${enc(runId)}/tasks/${enc(task)}/diff`);
        const box = document.getElementById('diff');
        box.innerHTML = html;
        box.dataset.task = task;
        return;
      }
      const url =
        action === 'stop' || action === 'resume'
          ? `/api/runs/${enc(runId)}/${action}`
          : `/api/runs/${enc(runId)}/tasks/${enc(task)}/${action}`;
      let payload = {};
      if (action === 'reject') {
        const input = btn.closest('li')?.querySelector('input.reject-note');
        const note = input ? input.value.trim() : '';
        if (!note) {
          setConn('reject: write a note for the worker first', 'bad');
          input?.focus();
          return;
        }
        payload = { note };
      }
      await request('POST', url, payload);
      setConn(`${action}: done`, 'ok');
      refresh();
    } catch (e) {
      setConn(`${action} failed: ${e.message}`, 'bad');
    } finally {
      btn.disabled = false;
    }
  });

  lastGraph = document.getElementById('graph')?.innerHTML ?? null;
  // A running worker's own output is not a run event: poll the panel while its subtask runs.
  setInterval(() => {
    if (selected && document.querySelector(`.node[data-task="${CSS.escape(selected)}"]`)?.dataset.status === 'running') refreshPanel();
  }, 2000);
}

if (body.dataset.page === 'runs') runsPage();
if (body.dataset.page === 'run') runPage();
