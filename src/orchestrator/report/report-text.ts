import { formatUsd, type RunUsage, type UsagePart } from '../../cost/index.js';
import type { RunReport } from './report.js';

function partText(name: string, p: UsagePart): string {
  const cached = p.cachedInput ? ` (${p.cachedInput} cached)` : '';
  return `${name} ${p.input}${cached} in + ${p.output} out${p.costUsd !== null ? ` = ${formatUsd(p.costUsd)}` : p.tokens ? ' (no price)' : ''}`;
}

/** The report's cost line: the total and each part, and which models had no price. */
export function costLine(u: RunUsage): string {
  const total = u.total.costUsd !== null ? formatUsd(u.total.costUsd) : 'unknown';
  const parts = [partText('orchestrator', u.orchestrator), partText('review', u.review), partText('workers', u.workers)];
  const unpriced = u.total.unpriced.length
    ? `; no price for ${u.total.unpriced.join(', ')} (tokens only${u.total.costUsd !== null ? ', not in the total' : ''}; see docs/budgets.md)`
    : '';
  return `- Cost: ${total} for ${u.total.tokens} tokens — ${parts.join('; ')}${unpriced}`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 9) : '—';
}

/** The report as Markdown: written to report.md and shown on the terminal. */
export function renderReportMarkdown(r: RunReport): string {
  const out: string[] = [];
  const status = r.status === 'succeeded' ? 'succeeded' : r.status === 'aborted' ? 'ABORTED' : 'FAILED';
  out.push(`# Run ${r.runId}: ${status}`);
  out.push('');
  out.push(`- Task: ${r.task.length > 300 ? `${r.task.slice(0, 300)}…` : r.task}`);
  out.push(`- Base dir: ${r.baseDir} (main on \`${r.mainBranch}\`: ${short(r.mainHeadBefore)} → ${short(r.mainHeadAfter)})`);
  out.push(`- Model: ${r.model}${r.dryRun ? ' — DRY RUN: nothing was executed' : ''}`);
  out.push(
    `- Wall time: ${duration(r.wallTimeMs)}; tokens: ${r.tokens.total} (orchestrator ${r.tokens.orchestrator.input}+${r.tokens.orchestrator.output} in ${r.tokens.orchestrator.requests} requests, workers ${r.tokens.workers.input}+${r.tokens.workers.output})`,
  );
  if (r.usage) out.push(costLine(r.usage));
  if (r.sandbox) {
    out.push(`- Sandbox: ${r.sandbox.description}`);
    for (const g of r.sandbox.gaps) out.push(`  - NOT confined: ${g}`);
  }
  if (r.error) out.push(`- Error (${r.error.kind}): ${r.error.message}`);
  out.push('');
  if (r.securityEvents?.length) {
    out.push('## SECURITY EVENTS');
    for (const e of r.securityEvents) out.push(`- ${e.worktree}$ \`${e.command}\`: ${e.detail}`);
    out.push('');
  }
  out.push('## Worktrees and branches created');
  const removed = new Set(r.worktreesRemoved ?? []);
  out.push(
    r.worktreesCreated.length
      ? r.worktreesCreated.map((w) => `- ${w}${removed.has(w) ? ' (removed after its merge; branch kept)' : ''}`).join('\n')
      : '- none',
  );
  if (r.branchesCreated.length) out.push(`- branches: ${r.branchesCreated.join(', ')}`);
  out.push('');
  out.push('## Codex workers');
  if (r.workers.length === 0) out.push('- none');
  r.workers.forEach((w, i) => {
    const cost = r.usage?.perWorker[i]?.costUsd;
    out.push(
      `- ${w.worktree}${w.via === 'plan' ? ` (plan ${w.purpose ?? ''} worker, not through the gateway)` : ''}: ${w.status}${w.goalMet === null ? '' : w.goalMet ? ', goal met' : ', goal NOT met'} (${duration(w.durationMs)}, ${w.usage.inputTokens}+${w.usage.outputTokens} tokens${cost !== undefined && cost !== null ? `, ${formatUsd(cost)}` : ''}) — ${w.summary || 'no summary'}`,
    );
    if (w.changedFiles.length) out.push(`  changed: ${w.changedFiles.join(', ')}`);
    out.push(`  run dir: ${w.runDir}`);
  });
  out.push('');
  if (r.plan) {
    const p = r.plan;
    out.push(`## Plan (${p.status}; ${p.submissions} submission${p.submissions === 1 ? '' : 's'}, ${p.rejections.length} rejected)`);
    if (p.manifestFile) out.push(`- manifest: ${p.manifestFile}`);
    if (p.error) out.push(`- error: ${p.error}`);
    const res = p.result;
    if (res) {
      out.push(
        `- ${res.allMerged ? 'every subtask merged' : `${res.left.length} subtask(s) not merged`}${res.stoppedBy ? `; stopped: ${res.stoppedBy}` : ''}; ${res.workers.length} worker run(s); review tokens ${res.tokens.review.input}+${res.tokens.review.output}`,
      );
      for (const s of res.subtasks) {
        const review = s.reviews.length ? `, review ${s.reviews.map((x) => x.verdict).join(' → ')}` : '';
        const m = s.merge;
        const rework = [
          m.conflicts ? `${m.conflicts} conflict rework(s)` : '',
          m.smokeFailures ? `${m.smokeFailures} smoke failure(s)` : '',
        ]
          .filter(Boolean)
          .join(', ');
        const merge = m.sha
          ? `, merged ${short(m.sha)}${m.attempts > 1 ? ` on attempt ${m.attempts}` : ''}`
          : m.outcome
            ? `, merge ${m.outcome}`
            : '';
        const spent = r.usage?.perSubtask.find((x) => x.taskId === s.id);
        const money = spent ? ` [${spent.tokens} tokens${spent.costUsd !== null ? `, ${formatUsd(spent.costUsd)}` : ''}]` : '';
        out.push(
          `- ${s.id}: ${s.status} (attempts ${s.attempts}, ${s.workers} worker run(s)${review}${merge}${rework ? `; ${rework}` : ''})${money}${s.reason ? ` — ${s.reason}` : ''}`,
        );
      }
      if (res.smoke?.command) out.push(`- smoke test after each merge: \`${res.smoke.command}\``);
      else if (res.smoke) {
        out.push('- merged; no smoke test configured — main was not tested after the merges');
        if (res.smoke.suggested)
          out.push(
            `  this repository's own test command looks like \`${res.smoke.suggested.command}\` (${res.smoke.suggested.from}): set {"smoke": "${res.smoke.suggested.command}"} in .codex-orchestrator.json`,
          );
      }
      out.push(`- decisions: ${res.decisionsFile}`);
    }
    out.push('');
  }
  out.push('## Tests');
  if (r.tests.length === 0) out.push('- none run');
  for (const t of r.tests)
    out.push(
      `- ${t.ok ? 'PASS' : 'FAIL'}${t.kind ? ` (${t.kind})` : ''} ${t.worktree}$ ${t.command} (exit ${t.exitCode ?? 'none'}, ${duration(t.durationMs)})`,
    );
  out.push('');
  out.push('## Merges into main, in order');
  if (r.merges.length === 0) out.push('- none');
  r.merges.forEach((m, i) => out.push(`${i + 1}. ${short(m.sha)} ${m.branch ?? '?'} — ${m.subject}`));
  out.push('');
  out.push('## Files touched in main');
  out.push(r.filesTouchedInMain.length ? r.filesTouchedInMain.map((f) => `- ${f}`).join('\n') : '- none');
  out.push('');
  out.push(`## Commands (${r.commands.length}; ${r.denials.length} denied)`);
  for (const c of r.commands) {
    const verdict = c.kind === 'denied' ? `DENIED ${c.rule}` : c.kind === 'dry-run' ? 'dry-run' : `exit ${c.exitCode ?? 'none'}`;
    out.push(
      `- [${verdict}] ${c.worktree}$ ${c.command.length > 160 ? `${c.command.slice(0, 160)}…` : c.command} (${duration(c.durationMs)})`,
    );
  }
  if (r.denials.length) {
    out.push('');
    out.push('## Denied');
    for (const d of r.denials) out.push(`- ${d.worktree}$ ${d.command} — rule ${d.rule}: ${d.reason}`);
  }
  out.push('');
  out.push("## The orchestrator's answer");
  out.push(r.finalText.trim() || '(none)');
  out.push('');
  out.push(`Run directory: ${r.runDir}`);
  return `${out.join('\n')}\n`;
}
