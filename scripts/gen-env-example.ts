/** Regenerates .env.example from the config schema (`yarn tsx scripts/gen-env-example.ts`); a test keeps them in step. */
import fs from 'node:fs';
import { ENV_VARS } from '../src/config/schema.js';

export function renderEnvExample(): string {
  const lines = [
    '# codex-orchestrator configuration. Copy to .env (read from the current directory) or export these.',
    '# Real environment variables win over .env; command-line flags win over both. Empty means unset.',
    '',
  ];
  for (const v of ENV_VARS) {
    lines.push(`# ${v.description}`);
    lines.push(`# e.g. ${v.name}=${v.example}`);
    lines.push(`${v.name}=`);
    lines.push('');
  }
  lines.push('# Task Dispatcher (yarn dispatcher): a JSON array of strings or {id?, task, baseDir?}, or one task per line.');
  lines.push('# e.g. DISPATCH_TASKS=["Add a /health endpoint","Fix the flaky date test"]');
  lines.push('DISPATCH_TASKS=');
  return `${lines.join('\n')}\n`;
}

if (process.argv[1]?.endsWith('gen-env-example.ts')) fs.writeFileSync('.env.example', renderEnvExample());
