import { checkCommand } from './src/tools/run-repo-command/policy/index.ts';
import { defaultPolicyPath, loadPolicy, parsePolicy } from './src/tools/run-repo-command/policy-file.ts';
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'gq-'));
for (const wt of ['main','task-a']) fs.mkdirSync(path.join(base, wt, 'src'), { recursive: true });
const policy = loadPolicy(defaultPolicyPath());
const p2 = parsePolicy({ ...JSON.parse(fs.readFileSync(defaultPolicyPath(), 'utf8')), allowGitClean: true });
const wt = process.argv[2];
for (const l of process.argv.slice(3)) { const d = checkCommand({ worktree: wt, command: l }, { baseDir: base, policy: l.includes('clean') ? p2 : policy }); console.log(JSON.stringify(l), d.allowed, d.commandClass ?? '', d.reason); }
