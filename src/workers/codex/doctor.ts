import type { Config } from '../../config/config.js';
import { describeError } from '../../errors.js';
import { resolveCodexBinary, type CodexBinary } from './binary.js';
import { detectCapabilities, type CodexCapabilities } from './capabilities.js';
import { loadProfiles } from './profiles.js';
import { workerStateDir } from './worker-dir.js';

export interface DoctorReport {
  ok: boolean;
  binary: CodexBinary | null;
  version: string | null;
  capabilities: CodexCapabilities | null;
  /** How the seed's intents map on this build. */
  mapping: { fullAuto: string; json: string; outputSchema: string; resume: string };
  /** Where the worker sends model requests and whether that answered. */
  model: { baseUrl: string; source: string; reachable: boolean; status: number | null; detail: string };
  stateDir: string;
  profilesSource: string | null;
  extraArgs: readonly string[];
  problems: string[];
}

/** The model endpoint codex will use, as far as we can tell from ORCHESTRATOR_CODEX_ARGS and the profiles file. */
export function codexBaseUrl(config: Config): { baseUrl: string; source: string } {
  const args = config.codexArgs;
  let provider: string | undefined;
  const cvals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '-c' || args[i] === '--config') && args[i + 1] !== undefined) cvals.push(args[i + 1] as string);
  }
  for (const kv of cvals) {
    const m = /^model_provider\s*=\s*"?([A-Za-z0-9_-]+)"?$/.exec(kv);
    if (m?.[1]) provider = m[1];
  }
  for (const kv of cvals) {
    if (provider) {
      const m = new RegExp(`^model_providers\\.${provider}(?:\\.base_url\\s*=\\s*"([^"]+)"|\\s*=.*base_url\\s*=\\s*"([^"]+)")`).exec(kv);
      const url = m?.[1] ?? m?.[2];
      if (url) return { baseUrl: url, source: `ORCHESTRATOR_CODEX_ARGS (provider ${provider})` };
    }
    const o = /^openai_base_url\s*=\s*"?([^"]+)"?$/.exec(kv);
    if (o?.[1]) return { baseUrl: o[1], source: 'ORCHESTRATOR_CODEX_ARGS (openai_base_url)' };
  }
  try {
    const p = loadProfiles(config);
    if (p.baseUrl) return { baseUrl: p.baseUrl, source: `profiles file ${p.source}` };
  } catch {
    /* reported elsewhere */
  }
  return { baseUrl: 'https://api.openai.com/v1', source: 'codex default (your own codex config may point elsewhere)' };
}

/** A cheap reachability check: GET <base>/models with a timeout; any HTTP answer means reachable. */
export async function probeModel(
  baseUrl: string,
  timeoutMs = 3000,
): Promise<{ reachable: boolean; status: number | null; detail: string }> {
  const url = `${baseUrl.replace(/\/+$/, '')}/models`;
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: process.env.OPENAI_API_KEY ? { authorization: `Bearer ${process.env.OPENAI_API_KEY}` } : {},
    });
    await res.body?.cancel().catch(() => undefined);
    return { reachable: true, status: res.status, detail: `GET ${url} → HTTP ${res.status}` };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { reachable: false, status: null, detail: `GET ${url} failed: ${e.cause?.code ?? e.name}: ${e.message}` };
  }
}

/** What `codex-orch doctor` reports. Never throws for a missing codex: that is a problem in the report. */
export async function doctor(config: Config, options: { timeoutMs?: number } = {}): Promise<DoctorReport> {
  const problems: string[] = [];
  let binary: CodexBinary | null = null;
  let caps: CodexCapabilities | null = null;
  try {
    binary = resolveCodexBinary(config);
    caps = await detectCapabilities(binary.path);
  } catch (error) {
    problems.push(describeError(error));
  }
  let profilesSource: string | null = null;
  try {
    profilesSource = loadProfiles(config).source;
  } catch (error) {
    problems.push(describeError(error));
  }
  const has = (f: string) => caps?.execFlags.includes(f) ?? false;
  const mapping = {
    fullAuto: !caps
      ? 'unknown'
      : has('--full-auto')
        ? '--full-auto'
        : has('--sandbox') && caps.sandboxModes.includes('workspace-write')
          ? '--sandbox workspace-write'
          : 'MISSING (no --full-auto or --sandbox workspace-write)',
    json: !caps ? 'unknown' : has('--json') ? '--json' : has('--experimental-json') ? '--experimental-json' : 'MISSING',
    outputSchema: !caps ? 'unknown' : has('--output-schema') ? '--output-schema' : 'missing (result asked for in the prompt only)',
    resume: !caps ? 'unknown' : caps.hasResume ? 'exec resume' : 'missing (no repair, follow-ups start new threads)',
  };
  if (caps && mapping.json === 'MISSING') problems.push(`codex ${caps.version} has no --json: workers cannot stream events`);
  if (caps && mapping.fullAuto.startsWith('MISSING')) problems.push(`codex ${caps.version} cannot run with a writable sandbox`);
  const { baseUrl, source } = codexBaseUrl(config);
  const probe = await probeModel(baseUrl, options.timeoutMs ?? 3000);
  if (!probe.reachable) problems.push(`model endpoint ${baseUrl} is not reachable`);
  return {
    ok: problems.length === 0,
    binary,
    version: caps?.version ?? null,
    capabilities: caps,
    mapping,
    model: { baseUrl, source, ...probe },
    stateDir: workerStateDir(config),
    profilesSource,
    extraArgs: config.codexArgs,
    problems,
  };
}
