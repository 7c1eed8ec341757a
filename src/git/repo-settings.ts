/**
 * The per-repository settings file `.codex-orchestrator.json` in main/: the
 * commands the program runs for this repository (setup of a new worktree, the
 * smoke test after each merge, the default acceptance test, the archive step
 * before a worktree is removed). This file only reads and validates it; the
 * caller runs the commands through the guarded gateway like any other command.
 * Unknown keys are errors, so a typo does not silently drop a smoke test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

export const REPO_SETTINGS_FILE = '.codex-orchestrator.json';

const command = z.string().trim().min(1, 'expected a command, got an empty string');

export const repoSettingsSchema = z
  .object({
    $schema: z.string().optional(),
    setup: z.union([command, z.array(command)]).optional(),
    smoke: command.optional(),
    acceptance: command.optional(),
    archive: command.optional(),
    /** The repository's id for agents on other machines (`codex-orch agent --repo <id>=<clone>`). */
    repo: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, dot, dash or underscore')
      .optional(),
    approve: z.boolean().optional(),
    notify: z.array(command).min(1, 'expected a command as a list: ["program", "arg", …]').optional(),
  })
  .strict();

export interface RepoSettings {
  /** The settings file's path (whether or not it exists). */
  file: string;
  found: boolean;
  /** Commands run in every new worktree, in order (a single string becomes one command). */
  setup: string[];
  smoke?: string;
  acceptance?: string;
  archive?: string;
  repo?: string;
  /** Stop before each merge until a person approves it (`run --approve`). */
  approve?: boolean;
  /** A hook run on run events (argv, no shell; the JSON payload on stdin). */
  notify?: string[];
}

/** Reads and validates `<mainDir>/.codex-orchestrator.json`; a missing file means no settings. */
export function loadRepoSettings(mainDir: string): RepoSettings {
  const file = path.join(path.resolve(mainDir), REPO_SETTINGS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, found: false, setup: [] };
    throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file} is not valid JSON: ${(e as Error).message}`, {
      hint: 'expected an object like {"setup": ["npm ci"], "smoke": "npm test"}',
      cause: e,
    });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file} must contain a JSON object`, {
      hint: 'expected an object like {"setup": ["npm ci"], "smoke": "npm test"}',
    });
  }
  const parsed = repoSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? fieldName(issue) : '(unknown)';
    const what = issue?.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid value');
    throw new ConfigError(`${file}: ${field}: ${what}`, {
      variable: `${REPO_SETTINGS_FILE}:${field}`,
      hint: 'allowed keys: setup (a command or a list of commands), smoke, acceptance, archive (commands), approve (true/false), notify (a hook as an argv list), repo (the id agents know it by)',
    });
  }
  const v = parsed.data;
  const settings: RepoSettings = { file, found: true, setup: v.setup === undefined ? [] : Array.isArray(v.setup) ? v.setup : [v.setup] };
  if (v.smoke !== undefined) settings.smoke = v.smoke;
  if (v.acceptance !== undefined) settings.acceptance = v.acceptance;
  if (v.archive !== undefined) settings.archive = v.archive;
  if (v.repo !== undefined) settings.repo = v.repo;
  if (v.approve !== undefined) settings.approve = v.approve;
  if (v.notify !== undefined) settings.notify = v.notify;
  return settings;
}

function fieldName(issue: z.core.$ZodIssue): string {
  if (issue.path.length === 0) return issue.code === 'unrecognized_keys' ? '(top level)' : '(file)';
  return issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}
