/**
 * The environment of a sandboxed command, built from an allowlist: nothing is
 * inherited by default, so API keys, tokens, the SSH agent, credential helpers
 * and loader variables (LD_PRELOAD, GCONV_PATH, BASH_ENV…) never reach code a
 * worker wrote. Git inside the sandbox gets the same hardening as the
 * program's own git (no system/global config, no hooks, no fsmonitor, no
 * transport).
 */
import { hardenedGitConfigEnv } from '../git/git-hardening.js';

const ALWAYS = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TERM',
  'CI',
  'TZ',
  'NO_COLOR',
  'FORCE_COLOR',
  'COLORTERM',
];
/** Package installs need the registry through the user's proxy, nothing more. */
const NETWORK = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'npm_config_registry', 'YARN_REGISTRY'];
/** Never passed, even when the user lists them: what the sandbox exists to keep away. */
const NEVER =
  /^(OPENAI_API_KEY|SSH_AUTH_SOCK|GIT_ASKPASS|SSH_ASKPASS|LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|BASH_ENV|ENV|GCONV_PATH|GIT_.*|.*TOKEN.*|.*SECRET.*|.*PASSWORD.*|.*_API_KEY|NODE_OPTIONS)$/i;

/** Names the user listed that the sandbox refuses to pass (shown by doctor). */
export function refusedEnvNames(extra: readonly string[]): string[] {
  return extra.filter((n) => NEVER.test(n));
}

export function sandboxEnv(options: { network: boolean; extra: readonly string[]; base?: NodeJS.ProcessEnv }): Record<string, string> {
  const base = options.base ?? process.env;
  const env: Record<string, string> = {};
  const names = [...ALWAYS, ...(options.network ? NETWORK : []), ...options.extra.filter((n) => !NEVER.test(n))];
  for (const n of names) {
    const v = base[n];
    if (v !== undefined) env[n] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.PAGER = 'cat';
  env.GIT_PAGER = 'cat';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_EDITOR = 'true';
  // The private home has no npmrc: without these npm spends ~0.5 s per call trying to reach the registry to nag.
  env.npm_config_update_notifier = 'false';
  env.NO_UPDATE_NOTIFIER = '1';
  env.npm_config_fund = 'false';
  if (!options.network) env.npm_config_audit = 'false';
  Object.assign(env, hardenedGitConfigEnv());
  return env;
}
