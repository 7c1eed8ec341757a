import readline from 'node:readline';
import type { Command } from 'commander';
import { loadConfig, requireBaseDir } from '../../config/config.js';
import path from 'node:path';
import { gatewaySandbox } from '../../tools/run-repo-command/gateway.js';
import { checkCommand } from '../../tools/run-repo-command/policy/index.js';
import { effectiveClass, explainSandbox } from '../../tools/run-repo-command/sandbox-profile.js';
import { loadPolicy, summarizePolicy } from '../../tools/run-repo-command/policy-file.js';
import type { PolicyDecision } from '../../tools/run-repo-command/types.js';
import { EXIT } from '../exit-codes.js';

/** Checks one JSON line; a malformed line is a denial with rule "input". */
export function checkLine(
  line: string,
  baseDir: string,
  policy: ReturnType<typeof loadPolicy>,
): { decision: PolicyDecision; malformed: boolean } {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return {
      decision: { allowed: false, rule: 'input', reason: 'not valid JSON; expected {"worktree": "...", "command": "..."}' },
      malformed: true,
    };
  }
  const r = request as { worktree?: unknown; command?: unknown } | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.worktree !== 'string' || typeof r.command !== 'string') {
    return {
      decision: { allowed: false, rule: 'input', reason: 'expected an object {"worktree": string, "command": string}' },
      malformed: true,
    };
  }
  try {
    return { decision: checkCommand({ worktree: r.worktree, command: r.command }, { baseDir, policy }), malformed: false };
  } catch (error) {
    return {
      decision: {
        allowed: false,
        rule: 'internal',
        reason: `the guard could not analyse this line (${error instanceof Error ? error.message : String(error)})`,
      },
      malformed: false,
    };
  }
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('inspect and audit the command policy');
  policy
    .command('check')
    .description(
      'Reads JSON Lines {"worktree","command"} from stdin and writes one {"allowed","rule","reason"} line per input line, in order\n' +
        '(with --explain, plus "sandbox": the command class, the backend and the profile the line would run under).\n' +
        'Executes nothing. Exit 0 whether or not commands were denied; 2 if any input line was malformed (answered with rule "input"). Blank lines are skipped.',
    )
    .option('-b, --base-dir <dir>', 'base dir holding main/ and task-* worktrees (default: ORCHESTRATOR_BASE_DIR)')
    .option('--policy <file>', 'policy file (default: ORCHESTRATOR_POLICY or policies/default.json)')
    .option('--explain', 'also show, for each allowed line, the sandbox backend and profile it would run under')
    .action(async (opts: { baseDir?: string; policy?: string; explain?: boolean }) => {
      const config = loadConfig({ overrides: { ORCHESTRATOR_BASE_DIR: opts.baseDir, ORCHESTRATOR_POLICY: opts.policy } });
      const baseDir = requireBaseDir(config);
      const rules = loadPolicy(config.policyFile);
      let malformedLines = 0;
      let lineNo = 0;
      const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of rl) {
        lineNo++;
        if (line.trim() === '') continue;
        const { decision, malformed } = checkLine(line, baseDir, rules);
        if (malformed) {
          malformedLines++;
          process.stderr.write(`policy check: line ${lineNo}: ${decision.reason}\n`);
        }
        const out: Record<string, unknown> = { allowed: decision.allowed, rule: decision.rule, reason: decision.reason };
        if (opts.explain && decision.allowed && !malformed) {
          const req = JSON.parse(line) as { worktree: string; command: string };
          const words = (decision.analysis?.commands ?? []).map((c) => c.words);
          const cls = decision.codexArgs ? 'codex' : effectiveClass(decision.commandClass, words, req.worktree.split('/')[0] === 'main');
          out.sandbox = explainSandbox(gatewaySandbox({ config }), req.command, cls, {
            baseDir,
            worktree: req.worktree.split('/')[0] as string,
            cwd: path.join(baseDir, req.worktree),
            stateDir: config.stateDir,
            secretPaths: config.sandboxSecretPaths,
            extraEnv: config.sandboxEnv,
          });
        }
        process.stdout.write(`${JSON.stringify(out)}\n`);
      }
      process.exitCode = malformedLines > 0 ? EXIT.usage : EXIT.ok;
    });
  policy
    .command('show')
    .description('print the effective policy file path and a summary of its rules')
    .option('--policy <file>', 'policy file (default: ORCHESTRATOR_POLICY or policies/default.json)')
    .option('--json', 'print the whole validated policy as JSON')
    .action(async (opts: { policy?: string; json?: boolean }) => {
      const config = loadConfig({ overrides: { ORCHESTRATOR_POLICY: opts.policy } });
      const rules = loadPolicy(config.policyFile);
      if (opts.json) process.stdout.write(`${JSON.stringify({ file: config.policyFile, policy: rules }, null, 2)}\n`);
      else process.stdout.write(`policy: ${config.policyFile}\n${summarizePolicy(rules)}\n`);
    });
}
