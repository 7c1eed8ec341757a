import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../errors.js';

export type ProfileName = 'fast' | 'deep' | 'review';
export const PROFILE_NAMES: readonly ProfileName[] = ['fast', 'deep', 'review'];

const sandbox = z.enum(['read-only', 'workspace-write', 'danger-full-access']);
const tomlValue = z.union([z.string(), z.number(), z.boolean()]);

const profileSchema = z
  .object({
    /** `-m`; unset: codex's own configured model. */
    model: z.string().min(1).optional(),
    /** `-c model_reasoning_effort="…"`. */
    reasoningEffort: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
    sandbox: sandbox.optional(),
    /** Extra `-c key=value` overrides; strings are TOML-quoted for you. */
    config: z.record(z.string(), tomlValue).optional(),
  })
  .strict();
export type CodexProfile = z.infer<typeof profileSchema>;

const fileSchema = z
  .object({
    profiles: z
      .object({ fast: profileSchema.optional(), deep: profileSchema.optional(), review: profileSchema.optional() })
      .strict()
      .optional(),
    /** Attempts of one worker including the first; escalation fast→deep uses the rest. */
    maxAttempts: z.number().int().min(1).max(10).optional(),
    /** Added to every worker's codex: a base URL (`-c openai_base_url=…`), a CODEX_HOME. */
    baseUrl: z.string().url().optional(),
    codexHome: z.string().min(1).optional(),
    config: z.record(z.string(), tomlValue).optional(),
  })
  .strict();

export interface ProfilesConfig {
  profiles: Record<ProfileName, CodexProfile>;
  maxAttempts: number;
  baseUrl?: string;
  codexHome?: string;
  config: Record<string, string | number | boolean>;
  /** Where it came from: the file path, or 'built-in'. */
  source: string;
}

/** Built-in profiles: the user's own codex model; effort and sandbox differ. */
export const DEFAULT_PROFILES: Record<ProfileName, CodexProfile> = {
  fast: { reasoningEffort: 'low', sandbox: 'workspace-write' },
  deep: { reasoningEffort: 'high', sandbox: 'workspace-write' },
  review: { reasoningEffort: 'medium', sandbox: 'read-only' },
};
export const DEFAULT_MAX_ATTEMPTS = 2;

const cache = new Map<string, { mtimeMs: number; value: ProfilesConfig }>();

/** Profiles from `config.codexProfilesFile` (JSON or YAML), merged over the built-in ones. */
export function loadProfiles(config: Pick<Config, 'codexProfilesFile'>): ProfilesConfig {
  const file = config.codexProfilesFile;
  if (!file) return { profiles: { ...DEFAULT_PROFILES }, maxAttempts: DEFAULT_MAX_ATTEMPTS, config: {}, source: 'built-in' };
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ConfigError(`ORCHESTRATOR_CODEX_PROFILES: ${file} does not exist`, { variable: 'ORCHESTRATOR_CODEX_PROFILES' });
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.value;
  let raw: unknown;
  try {
    const text = fs.readFileSync(file, 'utf8');
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`ORCHESTRATOR_CODEX_PROFILES: ${file} cannot be parsed: ${(cause as Error).message}`, {
      variable: 'ORCHESTRATOR_CODEX_PROFILES',
      cause,
    });
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `ORCHESTRATOR_CODEX_PROFILES: ${file}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
      {
        variable: 'ORCHESTRATOR_CODEX_PROFILES',
        hint: 'expected {"profiles": {"fast": {"model", "reasoningEffort", "sandbox", "config"}, "deep": …, "review": …}, "maxAttempts": 2}',
      },
    );
  }
  const p = parsed.data;
  const value: ProfilesConfig = {
    profiles: {
      fast: { ...DEFAULT_PROFILES.fast, ...p.profiles?.fast },
      deep: { ...DEFAULT_PROFILES.deep, ...p.profiles?.deep },
      review: { ...DEFAULT_PROFILES.review, ...p.profiles?.review },
    },
    maxAttempts: p.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    baseUrl: p.baseUrl || undefined,
    codexHome: p.codexHome || undefined,
    config: p.config ?? {},
    source: file,
  };
  cache.set(file, { mtimeMs: st.mtimeMs, value });
  return value;
}

/** `key=value` for codex `-c`, the value as TOML (strings quoted). */
export function tomlOverride(key: string, value: string | number | boolean): string {
  return `${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
}
