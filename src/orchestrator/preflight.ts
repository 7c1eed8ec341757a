import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { isOpenAiBaseUrl } from '../config/config.js';
import { ConfigError, ModelApiError, describeError } from '../errors.js';
import { loadRepoSettings } from '../git/repo-settings.js';
import { assertBaseDirFree } from '../store/index.js';
import { runGit } from '../git/index.js';
import { checkCommand } from '../tools/run-repo-command/policy/index.js';
import { loadPolicy, type Policy } from '../tools/run-repo-command/policy-file.js';
import { probeModel, resolveCodexBinary } from '../workers/codex/index.js';

/**
 * What a run needs, checked before the first worker starts (and by
 * `codex-orch doctor`): the model endpoints answer and the key is set, the
 * base dir holds a git main/ with an identity to commit as, main/ is clean (or
 * what happens if not), the policy loads and allows the repository's own
 * commands, and codex is there and logged in. A check never throws: a
 * problem is a `fail` (the run would fail later) or a `warn` (it may not).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface PreflightNeeds {
  /** The orchestrator model is called (run without --plan). */
  orchestrator: boolean;
  /** The review agent is called (plans without --no-review). */
  review: boolean;
  /** Codex workers run. */
  workers: boolean;
  timeoutMs?: number;
}

/** sk-abcdef…wxyz → "sk-a…wxyz (51 chars)". */
export function maskKey(key: string): string {
  return key.length <= 8 ? `${'*'.repeat(key.length)} (${key.length} chars)` : `${key.slice(0, 4)}…${key.slice(-4)} (${key.length} chars)`;
}

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail });

function codexLoginStatus(bin: string, timeoutMs: number): Promise<{ loggedIn: boolean; detail: string }> {
  return new Promise((resolve) => {
    execFile(bin, ['login', 'status'], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const text =
        `${stdout}${stderr}`
          .trim()
          .split('\n')
          .filter((l) => !/^WARNING/.test(l))[0] ?? '';
      resolve({ loggedIn: !error, detail: text || (error ? 'not logged in' : 'logged in') });
    });
  });
}

export async function endpointChecks(config: Config, needs: PreflightNeeds): Promise<Check[]> {
  if (!needs.orchestrator && !needs.review) return [];
  const checks: Check[] = [];
  const who = [
    needs.orchestrator ? `orchestrator model ${config.model}` : '',
    needs.review ? `review model ${config.reviewModel ?? config.model}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  if (!config.openaiApiKey) {
    checks.push({
      name: 'api key',
      status: 'fail',
      detail: `OPENAI_API_KEY is not set; the ${who} need${needs.orchestrator && needs.review ? '' : 's'} one`,
      hint: 'export OPENAI_API_KEY (any non-empty value works with a local OPENAI_BASE_URL), or run a plan with --no-review',
    });
  } else checks.push(ok('api key', `OPENAI_API_KEY ${maskKey(config.openaiApiKey)}`));
  const base = config.openaiBaseUrl ?? 'https://api.openai.com/v1';
  const probe = await probeModel(base, needs.timeoutMs ?? 5000);
  checks.push(
    probe.reachable
      ? ok(
          'model endpoint',
          `${base} answers (HTTP ${probe.status}) for the ${who}${isOpenAiBaseUrl(config.openaiBaseUrl) ? '' : ' — tracing to OpenAI off for this endpoint'}`,
        )
      : {
          name: 'model endpoint',
          status: 'fail',
          detail: `cannot reach the model API (endpoint ${base}) for the ${who}: ${probe.detail}`,
          hint: 'start the endpoint or fix OPENAI_BASE_URL; a plan can run with --no-review',
        },
  );
  return checks;
}

export async function gitChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  if (!config.baseDir)
    return [
      {
        name: 'base dir',
        status: 'fail',
        detail: 'no base dir: ORCHESTRATOR_BASE_DIR is not set',
        hint: 'pass --base-dir <dir> (the directory that holds main/)',
      },
    ];
  const main = path.join(config.baseDir, 'main');
  if (!fs.existsSync(path.join(main, '.git'))) {
    return [
      {
        name: 'base dir',
        status: 'fail',
        detail: `${config.baseDir} has no git repository in main/`,
        hint: `clone or move your repository to ${main}`,
      },
    ];
  }
  checks.push(ok('base dir', `${config.baseDir} (main/ is a git repository)`));
  const name = (await runGit(main, ['config', 'user.name'], { allowFail: true })).stdout.trim();
  const email = (await runGit(main, ['config', 'user.email'], { allowFail: true })).stdout.trim();
  checks.push(
    name && email
      ? ok('git identity', `${name} <${email}>`)
      : {
          name: 'git identity',
          status: 'fail',
          detail: `git has no ${!name ? 'user.name' : 'user.email'} in main/: workers' commits and the merges would fail`,
          hint: 'git -C main config user.name "You" && git -C main config user.email you@example.com',
        },
  );
  const dirty = (await runGit(main, ['status', '--porcelain', '--untracked-files=no'], { allowFail: true })).stdout.trim();
  checks.push(
    dirty
      ? {
          name: 'main/ clean',
          status: 'warn',
          detail: `main/ has uncommitted changes (${dirty.split('\n').length} file(s)); they are never touched: each merge waits up to 5 minutes for main/ to be clean, then leaves its subtask complete and unmerged for \`codex-orch runs merge\``,
          hint: 'commit or stash your changes in main/ before the merges start',
        }
      : ok('main/ clean', 'no uncommitted changes'),
  );
  return checks;
}

export function policyChecks(config: Config): { checks: Check[]; policy: Policy | null } {
  let policy: Policy;
  try {
    policy = loadPolicy(config.policyFile);
  } catch (error) {
    return {
      checks: [{ name: 'policy', status: 'fail', detail: describeError(error), hint: 'fix ORCHESTRATOR_POLICY or --policy' }],
      policy: null,
    };
  }
  const checks: Check[] = [ok('policy', config.policyFile)];
  if (!config.baseDir) return { checks, policy };
  const main = path.join(config.baseDir, 'main');
  if (!fs.existsSync(main)) return { checks, policy };
  try {
    const s = loadRepoSettings(main);
    const commands = [
      ...s.setup.map((c) => ['setup', c] as const),
      ...(s.acceptance ? [['acceptance', s.acceptance] as const] : []),
      ...(s.smoke ? [['smoke', s.smoke] as const] : []),
      ...(s.archive ? [['archive', s.archive] as const] : []),
    ];
    const denied = commands
      .map(([what, c]) => ({
        what,
        c,
        d: checkCommand(
          { worktree: 'main', command: c },
          {
            baseDir: config.baseDir as string,
            policy,
            stateDir: config.stateDir || undefined,
            purpose: what === 'setup' ? 'setup' : 'model',
          },
        ),
      }))
      .filter((x) => !x.d.allowed);
    if (!s.found) checks.push(ok('repo settings', `no ${path.basename(s.file)} (no setup, acceptance or smoke commands)`));
    else if (denied.length === 0)
      checks.push(ok('repo settings', `${commands.length} command(s) in ${path.basename(s.file)}, all allowed by the policy`));
    else {
      checks.push({
        name: 'repo settings',
        status: 'fail',
        detail: `the policy denies ${denied.map((x) => `${x.what} \`${x.c}\` (rule ${x.d.rule})`).join(', ')} from ${path.basename(s.file)}`,
        hint: 'change the command in the settings file, or allow it in your policy file (docs/policy.md)',
      });
    }
  } catch (error) {
    checks.push({ name: 'repo settings', status: 'fail', detail: describeError(error) });
  }
  return { checks, policy };
}

export async function codexChecks(config: Config, timeoutMs = 5000): Promise<Check[]> {
  let bin: string;
  try {
    bin = resolveCodexBinary(config).path;
  } catch (error) {
    return [{ name: 'codex', status: 'fail', detail: describeError(error), hint: 'install @openai/codex or set CODEX_BIN' }];
  }
  const login = await codexLoginStatus(bin, timeoutMs);
  const ownProvider = config.codexArgs.some((a) => /model_provider|openai_base_url/.test(a));
  return [
    ok('codex', bin),
    login.loggedIn || ownProvider
      ? ok('codex login', login.loggedIn ? login.detail : 'workers use their own provider (ORCHESTRATOR_CODEX_ARGS)')
      : {
          name: 'codex login',
          status: 'warn',
          detail: `${login.detail}: workers need a codex login or their own provider`,
          hint: 'codex login, or point the workers at a provider with ORCHESTRATOR_CODEX_ARGS',
        },
  ];
}

/** Every check a run with these needs depends on. */
export async function preflightChecks(config: Config, needs: PreflightNeeds): Promise<Check[]> {
  const [endpoints, git, codex] = await Promise.all([
    endpointChecks(config, needs),
    gitChecks(config),
    needs.workers ? codexChecks(config, needs.timeoutMs) : Promise.resolve([]),
  ]);
  return [...endpoints, ...git, ...policyChecks(config).checks, ...codex];
}

/** Refuses a base dir a live run holds (StoreError with its id); runs the checks; throws one ConfigError naming every failed one; returns the warnings. */
export async function preflight(config: Config, needs: PreflightNeeds): Promise<Check[]> {
  // A base dir another live run works is the answer that matters (and costs no network): give it first, alone.
  if (config.baseDir && config.stateDir) assertBaseDirFree(config.stateDir, config.baseDir);
  const checks = await preflightChecks(config, needs);
  const failed = checks.filter((c) => c.status === 'fail');
  const endpoint = failed.find((c) => c.name === 'model endpoint');
  if (endpoint && failed.length === 1) {
    throw new ModelApiError(`${endpoint.detail}; nothing was started`, { hint: endpoint.hint || undefined });
  }
  if (failed.length) {
    throw new ConfigError(`preflight: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, {
      hint: `${
        failed
          .map((c) => c.hint)
          .filter(Boolean)
          .join('; ') || 'see codex-orch doctor'
      } (nothing was started)`,
    });
  }
  return checks.filter((c) => c.status === 'warn');
}
