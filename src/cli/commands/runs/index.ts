import type { Command } from 'commander';
import { registerRunsApproval } from './approval.js';
import { registerRunsClean } from './clean.js';
import { registerRunsDiff } from './diff.js';
import { registerRunsList } from './list.js';
import { registerRunsMerge } from './merge.js';
import { registerRunsPrune } from './prune.js';
import { registerRunsReport } from './report.js';
import { registerResumeAlias, registerRunsResume } from './resume.js';
import { registerRunsRetry } from './retry.js';
import { registerRunsShow } from './show.js';
import { registerRunsTail } from './tail.js';
import { registerRunsTmux } from './tmux.js';

/**
 * `codex-orch runs …`: see and manage every run of a state dir, one file per
 * subcommand in this folder; and `codex-orch resume <id>`. Ids may be
 * abbreviated (a prefix of the id or of its random suffix). A new subcommand is
 * a file that exports `(runs: Command) => void` and its entry here (in the
 * order `runs --help` lists them).
 */
const SUBCOMMANDS: readonly ((runs: Command) => void)[] = [
  registerRunsList,
  registerRunsShow,
  registerRunsTail,
  registerRunsReport,
  registerRunsResume,
  registerRunsRetry,
  registerRunsMerge,
  registerRunsClean,
  registerRunsPrune,
  registerRunsDiff,
  registerRunsApproval,
  registerRunsTmux,
];

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .summary('list, inspect, tail, resume and clean up runs')
    .description(
      'Runs of a state dir (selected by --base-dir, ORCHESTRATOR_BASE_DIR or ORCHESTRATOR_STATE_DIR). Ids may be abbreviated: a prefix of the id or of its last part.',
    );
  for (const register of SUBCOMMANDS) register(runs);
  registerResumeAlias(program);
}
