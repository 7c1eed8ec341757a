import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { sandboxStatus, type SandboxStatus } from '../../sandbox/index.js';
import { doctor, type DoctorReport } from '../../workers/codex/index.js';
import { EXIT } from '../exit-codes.js';
import { paint, printOut } from '../output.js';

function printSandbox(s: SandboxStatus): void {
  const strong = s.backend === 'bwrap';
  printOut(`sandbox:       ${paint(strong ? 'green' : 'red', s.backend)} — ${s.description} (ORCHESTRATOR_SANDBOX=${s.mode})`);
  for (const g of s.gaps) printOut(`${paint('red', 'sandbox gap')}: ${g}`);
  for (const n of s.notes) printOut(`sandbox probe: ${n}`);
  for (const w of s.warnings) printOut(`${paint('yellow', 'warning')}: ${w}`);
}

function printHuman(r: DoctorReport): void {
  const ok = (b: boolean) => (b ? paint('green', 'ok') : paint('red', 'FAIL'));
  printOut(`codex binary:  ${r.binary ? `${r.binary.path} (from ${r.binary.source}${r.binary.foundAt !== r.binary.path ? `, via ${r.binary.foundAt}` : ''})` : paint('red', 'not found')}`);
  printOut(`version:       ${r.version ?? 'unknown'}`);
  if (r.capabilities) {
    printOut(`exec flags:    ${r.capabilities.execFlags.join(' ')}`);
    printOut(`resume flags:  ${r.capabilities.hasResume ? r.capabilities.resumeFlags.join(' ') : '(no exec resume)'}`);
    printOut(`sandbox modes: ${r.capabilities.sandboxModes.join(', ') || '(none)'}`);
  }
  printOut(`--full-auto →  ${r.mapping.fullAuto}`);
  printOut(`events →       ${r.mapping.json}`);
  printOut(`result →       ${r.mapping.outputSchema}`);
  printOut(`resume →       ${r.mapping.resume}`);
  printOut(`model:         ${r.model.baseUrl} (${r.model.source}) ${ok(r.model.reachable)} ${r.model.detail}`);
  printOut(`extra args:    ${r.extraArgs.length > 0 ? JSON.stringify(r.extraArgs) : '(none)'}`);
  printOut(`profiles:      ${r.profilesSource ?? 'invalid'}`);
  printOut(`state dir:     ${r.stateDir}`);
  for (const p of r.problems) printOut(`${paint('red', 'problem')}: ${p}`);
  printOut(r.ok ? paint('green', 'all good') : paint('red', `${r.problems.length} problem(s)`));
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .summary('check the sandbox, the codex binary, its flags and its model endpoint')
    .description('Prints the OS sandbox backend commands run in (and what it does not confine), which codex binary the workers use, its version, the flags it accepts, how the seed\'s intents map onto them, and whether the model endpoint answers.\nExit code: 0 when all is well, 5 otherwise.')
    .option('--timeout <ms>', 'model reachability timeout in milliseconds', '3000')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean; timeout: string }) => {
      const config = loadConfig();
      const timeoutMs = Number.parseInt(opts.timeout, 10) || 3000;
      const report = await doctor(config, { timeoutMs });
      const sandbox = sandboxStatus(config);
      // No sandbox at all (and not opted out) is a problem: build and test commands will be refused.
      if (sandbox.backend === 'none') report.problems.push(`no sandbox: ${sandbox.description}`);
      const ok = report.ok && sandbox.backend !== 'none';
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...report, ok, sandbox })}\n`);
      else {
        printSandbox(sandbox);
        printHuman({ ...report, ok });
      }
      process.exitCode = ok ? EXIT.ok : EXIT.worker;
    });
}
