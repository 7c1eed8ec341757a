import path from 'node:path';
import { withBaseDir, type Config } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { checkGhAuth, ghRunner } from '../../dispatcher/gh-cli.js';
import { githubTaskSource, parseRepo, type GitHubTaskSource } from '../../dispatcher/github-source.js';
import { runSummaryOf } from '../run-summary.js';

export interface GitHubIntakeOptions {
  /** `owner/repo` or `owner/repo=<base dir>`. */
  github: string;
  label: string | undefined;
  /** The dispatch's default base dir (--base-dir / ORCHESTRATOR_BASE_DIR). */
  defaultBaseDir: string | undefined;
  config: Config;
  env: NodeJS.ProcessEnv;
  watch: boolean;
  pollMs: number;
  onNotice: (line: string) => void;
}

/** `--github owner/repo[=dir]`: the repository and the base dir whose main/ gets its issues' work. */
export function parseGitHubTarget(value: string, defaultBaseDir: string | undefined): { repo: string; baseDir: string } {
  const eq = value.indexOf('=');
  const repoPart = eq < 0 ? value : value.slice(0, eq);
  const dirPart = eq < 0 ? undefined : value.slice(eq + 1);
  const { owner, name } = parseRepo(repoPart);
  const baseDir = dirPart !== undefined && dirPart !== '' ? path.resolve(dirPart) : defaultBaseDir;
  if (!baseDir)
    throw new UsageError(`--github ${value}: no base dir for ${owner}/${name}`, {
      hint: `pass --base-dir <dir> or --github ${owner}/${name}=<dir> (the dir holding your clone as main/)`,
    });
  return { repo: `${owner}/${name}`, baseDir };
}

/** The GitHub task source of `dispatch --github`, after checking that gh is there and logged in. */
export async function githubIntake(options: GitHubIntakeOptions): Promise<GitHubTaskSource> {
  if (options.label === undefined)
    throw new UsageError('dispatch --github needs --label <label>: the label that asks for work on an issue', {
      hint: 'e.g. --label codex',
    });
  const { repo, baseDir } = parseGitHubTarget(options.github, options.defaultBaseDir);
  const gh = ghRunner({ env: options.env });
  await checkGhAuth(gh);
  const stateDir = withBaseDir(options.config, baseDir).stateDir as string;
  return githubTaskSource({
    repo,
    label: options.label,
    baseDir,
    stateFile: path.join(stateDir, 'github', `${repo.replace('/', '__')}.json`),
    gh,
    watch: options.watch,
    pollMs: options.pollMs,
    summarize: (outcome) => runSummaryOf(stateDir, baseDir, outcome.runId),
    onNotice: options.onNotice,
  });
}
