import { checkCommand } from './src/tools/run-repo-command/policy/index.ts';
import { defaultPolicyPath, loadPolicy } from './src/tools/run-repo-command/policy-file.ts';
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'gq-'));
for (const wt of ['main','task-a']) { fs.mkdirSync(path.join(base, wt, 'src'), { recursive: true }); fs.writeFileSync(path.join(base, wt, 'package.json'), '{"scripts":{"test":"x"}}'); }
const policy = loadPolicy(defaultPolicyPath());
const wt = process.argv[2];
for (const l of process.argv.slice(3)) { const d = checkCommand({ worktree: wt, command: l }, { baseDir: base, policy }); console.log(JSON.stringify(l), d.allowed, d.commandClass ?? '', d.reason); }
