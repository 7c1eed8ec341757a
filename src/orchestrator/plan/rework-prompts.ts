import type { ConflictRework } from '../../git/index.js';

/** The prompts that send a worker back to its own codex thread. Short: the thread already has the task. */

export function tail(text: string, max = 4000): string {
  const t = text.trim();
  return t.length <= max ? t : `[… ${t.length - max} earlier characters cut]\n${t.slice(-max)}`;
}

export function healPrompt(reason: string, original: string | null): string {
  const lines = [
    `Your previous run on this task stopped before it finished: ${tail(reason, 1500)}`,
    'Look at what is already in the worktree, then continue where you left off and finish the task.',
  ];
  // Without a thread to resume, the new worker needs the task itself.
  if (original !== null) lines.push('', 'The task:', original);
  return lines.join('\n');
}

/**
 * A rework on a new codex thread — on an agent machine (a thread cannot move
 * between machines), or here when the subtask's thread was lost: the new
 * worker has not seen the task, so it gets the task, what the earlier worker
 * said it did, and then the rework.
 */
export function newThreadPrompt(rework: string, original: string, earlierSummary: string): string {
  const lines = [
    'This continues earlier work on this task: the branch checked out here already has it. Look at the worktree and its git log first.',
    '',
    'The task, as it was given:',
    original,
  ];
  if (earlierSummary.trim()) lines.push('', 'What the earlier worker said it did:', tail(earlierSummary, 1500));
  lines.push('', 'What to do now:', rework);
  return lines.join('\n');
}

/** For a worker that was running when the orchestrator process died: its thread (if any) is resumed with this. */
export function restartPrompt(original: string): string {
  return [
    'The orchestrator was restarted while you worked on this task, so your previous run was stopped.',
    'Check what is already in the worktree (files, git status, git log), continue where you stopped, finish the task and run its tests.',
    '',
    'The task, as you were given it:',
    original,
  ].join('\n');
}

export function acceptancePrompt(command: string, exitCode: number | null, log: string): string {
  return [
    `The acceptance command \`${command}\` failed in your worktree (exit ${exitCode ?? 'none'}).`,
    'Output (tail):',
    '```',
    tail(log),
    '```',
    'Fix the cause (not the test), run the command again until it passes, then reply with the result JSON.',
  ].join('\n');
}

export function reviewPrompt(comments: string, risk: string, round: number): string {
  return [
    `A reviewer looked at your branch (review round ${round}, risk ${risk}) and asks for rework:`,
    '',
    tail(comments, 6000),
    '',
    'Address every comment in this worktree, keep the acceptance command passing, then reply with the result JSON.',
  ].join('\n');
}

export function approvalPrompt(note: string): string {
  return [
    'A person looked at your branch before merging it and did not approve it yet. Their note:',
    '',
    tail(note, 6000),
    '',
    'Change the branch as the note asks, in this worktree, keep the acceptance command passing, then reply with the result JSON.',
  ].join('\n');
}

function commits(list: { subject: string }[]): string {
  return list.length ? list.map((c) => `- ${c.subject}`).join('\n') : '- (no commit messages found)';
}

export function conflictPrompt(cr: Extract<ConflictRework, { status: 'conflict' }>, title: string): string {
  return [
    `While you worked, other subtasks were merged into \`${cr.mainBranch}\`. Merging \`${cr.mainBranch}\` into your branch \`${cr.branch}\` conflicts in:`,
    ...cr.files.map((f) => `- ${f}`),
    '',
    `The conflict markers (<<<<<<<, =======, >>>>>>>) are in those files now. What ${cr.mainBranch} did to them (the other subtasks' intent):`,
    commits(cr.mainCommits),
    '',
    `What your branch did (your intent: ${title}):`,
    commits(cr.taskCommits),
    '',
    'Resolve every conflict so that both intents are kept, remove all markers, and make sure the acceptance command passes.',
    'Do not abort the merge and do not reset anything; the program commits the merge when no marker is left. Then reply with the result JSON.',
  ].join('\n');
}

export function smokePrompt(command: string, log: string, conflictFiles: string[]): string {
  const lines = [
    `Your branch was merged into main, but the smoke test \`${command}\` then failed, so the merge was reverted (nothing was lost: your change is back on your branch).`,
    'Smoke test output (tail):',
    '```',
    tail(log),
    '```',
  ];
  if (conflictFiles.length) {
    lines.push(
      '',
      `Restoring your change on top of the current main conflicts in: ${conflictFiles.join(', ')}. Resolve those markers too (keep both sides' intent).`,
    );
  }
  lines.push('', 'Fix the cause in this worktree so the smoke test passes after your branch is merged, then reply with the result JSON.');
  return lines.join('\n');
}
