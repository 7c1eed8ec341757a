import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../config/config.js';
import { ConfigError } from '../../errors.js';

/**
 * Prompts are files under `prompts/`, templates with `{{name}}` placeholders.
 * They are loaded and validated at start: a missing or empty file, a placeholder
 * the program does not fill, or a variable the template lacks is a ConfigError
 * before any model is called.
 */
export function promptsDir(): string {
  return path.join(packageRoot(), 'prompts');
}

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

export function placeholders(template: string): Set<string> {
  return new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string));
}

export function fillTemplate(template: string, vars: Record<string, string>, name = 'template'): string {
  const needed = placeholders(template);
  const missing = [...needed].filter((k) => !(k in vars));
  if (missing.length > 0) {
    throw new ConfigError(`prompt ${name}: no value for {{${missing.join('}}, {{')}}}`, {
      hint: 'the prompt file uses a placeholder this version does not fill',
    });
  }
  return template.replace(PLACEHOLDER, (_m, key: string) => vars[key] as string);
}

export function loadPromptTemplate(name: string, required: readonly string[] = [], dir = promptsDir()): string {
  const file = path.join(dir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`prompt file ${file} cannot be read`, {
      cause,
      hint: 'reinstall codex-orchestrator or restore the prompts/ folder',
    });
  }
  if (text.trim() === '') throw new ConfigError(`prompt file ${file} is empty`);
  const present = placeholders(text);
  const absent = required.filter((k) => !present.has(k));
  if (absent.length > 0) throw new ConfigError(`prompt file ${file} lacks the placeholder(s) {{${absent.join('}}, {{')}}}`);
  return text;
}

export const ORCHESTRATOR_PROMPT_VARS = ['baseDir', 'mainBranch', 'worktrees', 'branches', 'runId', 'dryRunNote', 'policySummary'] as const;

export function loadOrchestratorPrompt(vars: Record<(typeof ORCHESTRATOR_PROMPT_VARS)[number], string>, dir?: string): string {
  const template = loadPromptTemplate('orchestrator.md', ORCHESTRATOR_PROMPT_VARS, dir);
  return fillTemplate(template, vars, 'orchestrator.md');
}
