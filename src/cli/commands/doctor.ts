import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { sandboxStatus, type SandboxStatus } from '../../sandbox/index.js';
import { codexChecks, endpointChecks, gitChecks, policyChecks, type Check } from '../../orchestrator/preflight.js';
import { doctor, type DoctorReport } from '../../workers/codex/index.js';
import { checkQueue, redactUrl } from '../../queue/connection.js';
import { describeError } from '../../errors.js';
import type { Config } from '../../config/config.js';

import { resolveFromCwd } from '../args.js';
import { EXIT, exitCodesHelp } from '../exit-codes.js';
import { paint, printOut } from '../output.js';

/** The job queue (when configured): Redis answers, and where the bundles go. */
async function queueChecks(config: Config, timeoutMs: number): Promise<Check[]> {
  const q = config.queue;
  if (!q)
    return [
      {
        name: 'queue',
        status: 'ok',
        detail:
          'none configured: every worker and dispatched task runs on this machine (set ORCHESTRATOR_QUEUE for agents and dispatchers on others)',
      },
    ];
  const checks: Check[] = [];
  try {
    const r = await checkQueue(q.url, timeoutMs);
    checks.push({
      name: 'redis',
      status: 'ok',
      detail: `${redactUrl(q.url)} answers (Redis ${r.version}, ${r.latencyMs} ms), key prefix ${q.prefix}`,
    });
  } catch (error) {
    checks.push({ name: 'redis', status: 'fail', detail: describeError(error) });
  }
  const artifacts = q.artifacts ?? `served by the orchestrator on ${q.artifactsListen}`;
  const needsToken = !q.artifacts || /^https?:/.test(q.artifacts);
  // Only plan subtasks on agents move bundles; dispatchers sharing whole tasks need Redis alone.
  checks.push({
    name: 'artifacts',
    status: needsToken && !q.artifactsToken ? 'warn' : 'ok',
    detail:
      needsToken && !q.artifactsToken
        ? `${artifacts}: ORCHESTRATOR_ARTIFACTS_TOKEN is not set (plan subtasks on agents need it, the same on every agent; dispatchers sharing tasks do not)`
        : artifacts,
  });
  return checks;
}

/**
 * `codex-orch doctor`: everything a run needs, in the order a run needs it.
 * The codex section is the worker layer's own report; the rest are the
 * checks a run makes before its first worker (src/orchestrator/preflight.ts).
 */
export interface DoctorSections {
  codex: DoctorReport;
  /** Model endpoint and key (masked), orchestrator and review models. */
  models: Check[];
  /** Base dir, git identity, main/ clean. */
  repository: Check[];
  /** Policy file and the repository's own commands. */
  policy: Check[];
  /** codex binary found and logged in. */
  login: Check[];
  /**
   * The sandbox backstop around workers and commands: filled by the sandbox
   * layer's own checks once it lands (one Check per backend it can use).
   */
  sandbox: Check[];
  /** Redis and the artifact store, when a job queue is configured. */
  queue: Check[];
}

/** The sandbox section: the backend in use (fail when none can run and the user did not opt out), its gaps, warnings. */
function sandboxChecks(s: SandboxStatus): Check[] {
  const hint =
    'install bubblewrap 0.10+ or reinstall node_modules (@openai/codex ships one); ORCHESTRATOR_SANDBOX=off runs commands unconfined';
  const checks: Check[] = [
    {
      name: 'backend',
      status: s.backend === 'bwrap' ? 'ok' : s.backend === 'none' ? 'fail' : 'warn',
      detail: `${s.description} (ORCHESTRATOR_SANDBOX=${s.mode})`,
      ...(s.backend === 'bwrap' ? {} : { hint }),
    },
  ];
  for (const g of s.gaps) checks.push({ name: 'not confined', status: 'warn', detail: g, hint });
  for (const w of s.warnings) checks.push({ name: 'warning', status: 'warn', detail: w });
  return checks;
}

function mark(c: Check): string {
  return c.status === 'ok' ? paint('green', 'ok  ') : c.status === 'warn' ? paint('yellow', 'warn') : paint('red', 'FAIL');
}

function printChecks(title: string, checks: Check[]): void {
  if (checks.length === 0) return;
  printOut(paint('bold', title));
  for (const c of checks) printOut(`  ${mark(c)} ${c.name}: ${c.detail}${c.status !== 'ok' && c.hint ? `\n       → ${c.hint}` : ''}`);
}

function printCodex(r: DoctorReport): void {
  printOut(paint('bold', 'codex workers'));
  printOut(
    `  binary:        ${r.binary ? `${r.binary.path} (from ${r.binary.source}${r.binary.foundAt !== r.binary.path ? `, via ${r.binary.foundAt}` : ''})` : paint('red', 'not found')}`,
  );
  printOut(`  version:       ${r.version ?? 'unknown'}`);
  if (r.capabilities) {
    printOut(`  exec flags:    ${r.capabilities.execFlags.join(' ')}`);
    printOut(`  resume flags:  ${r.capabilities.hasResume ? r.capabilities.resumeFlags.join(' ') : '(no exec resume)'}`);
    printOut(`  sandbox modes: ${r.capabilities.sandboxModes.join(', ') || '(none)'}`);
  }
  printOut(`  --full-auto →  ${r.mapping.fullAuto}`);
  printOut(`  events →       ${r.mapping.json}`);
  printOut(`  result →       ${r.mapping.outputSchema}`);
  printOut(`  resume →       ${r.mapping.resume}`);
  printOut(
    `  worker model endpoint: ${r.model.baseUrl} (${r.model.source}) ${r.model.reachable ? paint('green', 'ok') : paint('red', 'FAIL')} ${r.model.detail}`,
  );
  printOut(`  extra args:    ${r.extraArgs.length > 0 ? JSON.stringify(r.extraArgs) : '(none)'}`);
  printOut(`  profiles:      ${r.profilesSource ?? 'invalid'}`);
  printOut(`  state dir:     ${r.stateDir}`);
  for (const p of r.problems) printOut(`  ${paint('red', 'FAIL')} ${p}`);
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .summary('check everything a run needs: codex, models and key, git, base dir, policy')
    .description(
      'Checks what a run needs, in order: the codex binary, its flags and login; the model endpoint, the key (masked), the orchestrator and review models; ' +
        'the base dir (--base-dir) with main/, its git identity and whether it is clean; the policy file and the repository settings commands it must allow.' +
        exitCodesHelp(['ok', 'failed', 'worker'], {
          ok: 'nothing failed (warnings allowed)',
          failed: 'a check other than codex failed',
          worker: 'the codex binary or its endpoint failed',
        }),
    )
    .option('-b, --base-dir <dir>', 'base dir holding main/ (default: ORCHESTRATOR_BASE_DIR)')
    .option('--timeout <ms>', 'timeout of each reachability check in milliseconds (default 3000)')
    .option('--json', 'print the sections as JSON')
    .action(async (opts: { json?: boolean; timeout?: string; baseDir?: string }) => {
      const config = loadConfig({ overrides: { ORCHESTRATOR_BASE_DIR: resolveFromCwd(opts.baseDir) } });
      const timeoutMs = (opts.timeout !== undefined ? Number.parseInt(opts.timeout, 10) : 3000) || 3000;
      const review = config.reviewModel ?? config.model;
      const [codex, models, repository, login] = await Promise.all([
        doctor(config, { timeoutMs }),
        endpointChecks(config, { orchestrator: true, review: true, workers: true, timeoutMs }),
        gitChecks(config),
        codexChecks(config, timeoutMs),
      ]);
      models.push({
        name: 'models',
        status: 'ok',
        detail: `orchestrator ${config.model}, review ${review}${config.reviewModel ? '' : ' (the orchestrator model)'}`,
      });
      const sections: DoctorSections = {
        codex,
        models,
        repository,
        policy: policyChecks(config).checks,
        login,
        sandbox: sandboxChecks(sandboxStatus(config)),
        queue: await queueChecks(config, timeoutMs),
      };
      const failed = [
        ...sections.models,
        ...sections.repository,
        ...sections.policy,
        ...sections.login,
        ...sections.sandbox,
        ...sections.queue,
      ].filter((c) => c.status === 'fail');
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: codex.ok && failed.length === 0, ...sections })}\n`);
      else {
        printCodex(codex);
        printChecks('codex login', sections.login);
        printChecks('models', sections.models);
        printChecks('repository', sections.repository);
        printChecks('policy', sections.policy);
        printChecks('sandbox', sections.sandbox);
        printChecks('queue', sections.queue);
        const problems = codex.problems.length + failed.length;
        printOut(problems === 0 ? paint('green', 'all good') : paint('red', `${problems} problem(s)`));
      }
      process.exitCode = !codex.ok ? EXIT.worker : failed.length ? EXIT.failed : EXIT.ok;
    });
}
