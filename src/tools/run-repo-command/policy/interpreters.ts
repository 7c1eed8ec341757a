/** Interpreters (node, python): script files inside the base dir only, never inline code or code loaded from elsewhere. */
import type { ShCommand, ShWord } from '../parse.js';
import { Deny, q, verdict, type Check, type Env } from './deny.js';
import { checkPathWord, sub } from './paths.js';
import { checkToolArgs } from './tools.js';

function nodeArgs(cmd: ShCommand, env: Env): Deny | null {
  const rules = env.policy.interpreters.node;
  if (!rules) return new Deny('interpreter', 'node has no rules in the policy file');
  const args = cmd.args;
  const info = new Set(['--test', '--version', '-v', '--help', '-h']);
  let sawInfo = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `node argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '-') return new Deny('interpreter', 'node - reads the program from standard input (inline code is not allowed)');
    let script: ShWord | undefined;
    if (v === '--') script = args[i + 1];
    else if (!v.startsWith('-')) script = w;
    if (script || v === '--') {
      if (!script) break;
      if (script.value === '-') return new Deny('interpreter', 'node reading the program from standard input is not allowed');
      return checkPathWord(script, env, { what: 'node script', rule: 'interpreter' });
    }
    const name = v.includes('=') ? v.slice(0, v.indexOf('=')) : v;
    const norm = name.replace(/_/g, '-');
    if (rules.deniedOptions.includes(norm) || (/^-[a-zA-Z]{2,}$/.test(norm) && /[epri]/.test(norm))) {
      return new Deny('interpreter', `node ${q(name)} is not allowed: it runs inline code or loads code from elsewhere`);
    }
    if (!rules.allowedOptions.includes(norm))
      return new Deny('interpreter', `node option ${q(name)} is not in the policy's allowed node options`);
    if (info.has(norm)) sawInfo = true;
    if (rules.valueOptions.includes(norm) && !v.includes('=')) i++;
  }
  if (sawInfo) return null;
  return new Deny('interpreter', 'node without a script file reads the program from standard input (inline code is not allowed)');
}

function pythonArgs(cmd: ShCommand, program: string, env: Env): Deny | null {
  const rules = env.policy.interpreters[program];
  if (!rules) return new Deny('interpreter', `${program} has no rules in the policy file`);
  const args = cmd.args;
  let sawInfo = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || w.brace) return new Deny('dynamic', `${program} argument ${q(w.text)} is built at run time`);
    const v = w.value;
    if (v === '-') return new Deny('interpreter', `${program} - reads the program from standard input (inline code is not allowed)`);
    if (v === '--' || !v.startsWith('-')) {
      const script = v === '--' ? args[i + 1] : w;
      if (!script) break;
      const d = checkPathWord(script, env, { what: `${program} script`, rule: 'interpreter' });
      if (d) return d;
      return null;
    }
    if (v.startsWith('--')) {
      if (rules.allowedOptions.includes(v)) {
        if (v === '--version' || v === '--help') sawInfo = true;
        continue;
      }
      return new Deny('interpreter', `${program} option ${q(v)} is not allowed`);
    }
    for (let j = 1; j < v.length; j++) {
      const opt = `-${v[j]}`;
      if (rules.deniedOptions.includes(opt)) return new Deny('interpreter', `${program} ${opt} is not allowed: it runs inline code`);
      if (!rules.allowedOptions.includes(opt)) return new Deny('interpreter', `${program} option ${q(opt)} is not allowed`);
      if (opt === '-V' || opt === '-h') sawInfo = true;
      if (rules.valueOptions.includes(opt)) {
        const rest = v.slice(j + 1);
        const valueWord: ShWord | undefined = rest ? sub(w, rest) : args[++i];
        if (!valueWord) return new Deny('interpreter', `${program} ${opt} needs a value`);
        if (valueWord.dynamic) return new Deny('dynamic', `${program} ${opt} value is built at run time`);
        if (opt === '-m') {
          const mod = valueWord.value;
          if (!rules.allowedModules.includes(mod))
            return new Deny(
              'interpreter',
              `${program} -m ${mod} is not allowed (allowed modules: ${rules.allowedModules.join(', ') || 'none'})`,
            );
          const tool = env.policy.tools[mod];
          return checkToolArgs(args.slice(i + 1), `${program} -m ${mod}`, env, tool?.deniedOptions ?? [], 'interpreter');
        }
        break;
      }
    }
  }
  if (sawInfo) return null;
  return new Deny('interpreter', `${program} without a script file reads the program from standard input (inline code is not allowed)`);
}

export function checkNode(cmd: ShCommand, env: Env): Check {
  return nodeArgs(cmd, env) ?? verdict('edit');
}

export function checkPython(cmd: ShCommand, program: string, env: Env): Check {
  return pythonArgs(cmd, program, env) ?? verdict('edit');
}
