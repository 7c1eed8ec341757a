/**
 * Table cases for each root cause the adversarial review found (issue "the sandbox is
 * the boundary", causes 1–8), the everyday lines that must stay allowed, main/'s
 * write boundary, the command classes and the analysis the decision carries.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand, RULES } from '../../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy, type Policy } from '../../src/tools/run-repo-command/policy-file.js';
import { parseLine } from '../../src/tools/run-repo-command/parse.js';
import { parseSeedCodexArgs, seedRequestProblem } from '../../src/workers/codex/seed-args.js';

let base: string;
let outside: string;
let policy: Policy;

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-rules-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-rules-out-'));
  fs.writeFileSync(path.join(outside, 'secret'), 'secret\n');
  for (const wt of ['main', 'task-a']) {
    fs.mkdirSync(path.join(base, wt, 'src'), { recursive: true });
    fs.mkdirSync(path.join(base, wt, '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(base, wt, 'src', 'a.ts'), 'a\n');
    fs.writeFileSync(path.join(base, wt, 'notes.txt'), 'notes\n');
    fs.writeFileSync(path.join(base, wt, 'x.patch'), '');
    fs.writeFileSync(path.join(base, wt, 'requirements.txt'), '');
    fs.writeFileSync(
      path.join(base, wt, 'package.json'),
      JSON.stringify({ scripts: { test: 'vitest run', build: 'tsc', bench: 'tsx bench/run.ts' } }),
    );
  }
  fs.mkdirSync(path.join(base, '.codex-orchestrator'));
  fs.writeFileSync(path.join(base, '.codex-orchestrator', 'run_repo_command.log'), '');
  fs.symlinkSync(outside, path.join(base, 'task-a', 'out-link'));
  // A hard link a worker could plant: main's file under a local name.
  fs.linkSync(path.join(base, 'main', 'notes.txt'), path.join(base, 'task-a', 'hard-notes.txt'));
  policy = loadPolicy(defaultPolicyPath());
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const check = (command: string, worktree = 'task-a', purpose: 'model' | 'setup' | 'person' = 'model') =>
  checkCommand({ worktree, command }, { baseDir: base, policy, purpose });

type Case = [string, string | null];
const TABLES: Record<string, Case[]> = {
  '1: git config is parsed with its own grammar': [
    ["git config core.fsmonitor 'touch pwned'", 'git-config'],
    ['git config -- core.hooksPath .hooks', 'git-config'],
    ['git config remote.origin.url /tmp/evil.git', 'git-config'],
    ['git config url./tmp/evil.insteadOf origin', 'git-config'],
    ['git config --add core.hooksPath .hooks', 'git-config'],
    ['git config --replace-all core.sshCommand x', 'git-config'],
    ['git config --unset-all user.name', 'git-config'],
    ['git config --rename-section user x', 'git-config'],
    ['git config set core.fsmonitor x', 'git-config'],
    ['git config unset user.name', 'git-config'],
    ['git config -e', 'git-config'],
    ['git config -f.git/config core.fsmonitor x', 'git-config'],
    ['git config --file=.git/config core.fsmonitor x', 'git-config'],
    ['git config --global user.name x', 'git-config'],
    ['git config --get --global user.name', 'git-config'],
    ['git config --system --list', 'git-config'],
    ['git config --blob=HEAD:x --list', 'git-config'],
    ['git config --get core.fsmonitor x y', 'git-config'],
    ['git config --list core.fsmonitor', 'git-config'],
    ['git config --get --add core.hooksPath x', 'git-config'],
    ['git config --ge user.name', 'git-config'],
    ['git config user.name x', 'git-config'],
    ['git -c core.fsmonitor=x status', 'git-config'],
    ['git -ccore.hooksPath=x status', 'git-config'],
    ['git -c include.path=/tmp/x status', 'git-config'],
    ['git -c protocol.ext.allow=always status', 'git-config'],
    ['git config user.name', null],
    ['git config --get remote.origin.url', null],
    ['git config --get-all remote.origin.fetch', null],
    ["git config --get-regexp 'remote\\..*'", null],
    ['git config -l', null],
    ['git config list', null],
    ['git config get user.email', null],
    ['git config --show-origin --list', null],
  ],
  '2: git paths resolve against -C; .git is out of reach': [
    ['git -C .git log --output=config -1', 'git-global'],
    ['git -C src/../.git status', 'git-global'],
    ['git -C .git apply x.patch', 'git-global'],
    ['git -C src -C ../.. status', 'git-global'],
    ['git -C out-link status', 'git-global'],
    ['git -C../main status', 'git-global'],
    ['git -C src log --output=../../main/x -1', 'path'],
    ['git log --output=.git/config -1', 'path'],
    ['git log --out=.git/config -1', 'path'],
    ['git log --output .git/hooks/pre-commit -1', 'path'],
    ['git diff --output=../main/x', 'path'],
    ['git -C src commit -F ../../main/notes.txt', 'path'],
    ['git commit -F out-link/secret', 'path'],
    ['git commit --file=/etc/passwd', 'path'],
    ['git apply ../main/x.patch', 'path'],
    ['git -C src -C .. status', null],
    ['git -C src log -1', null],
    ['git diff --output=diff.txt', null],
    ['git commit -F notes.txt', null],
  ],
  '3: options as getopt, nopt and git parse them': [
    ['git checkout -fB main HEAD~2', 'git-denied'],
    ['git checkout -Bf main', 'git-denied'],
    ['git switch -fC main', 'git-denied'],
    ['git branch -fD task-b', 'git-denied'],
    ['git branch -Mf a b', 'git-denied'],
    ['git branch --for task-x main', 'git-denied'],
    ['git branch -u origin/main', 'git-denied'],
    ['git branch --set-upstream-to=origin/main', 'git-denied'],
    ['git worktree add -fB main ../task-z', 'git-denied'],
    ['git commit -aF/etc/passwd', 'path'],
    ['git commit -qaF ../main/notes.txt', 'path'],
    ['git commit -aF out-link/secret', 'path'],
    ['git fetch -uf . tag:refs/heads/main', 'git-denied'],
    ['git fetch . HEAD:refs/heads/main', 'git-denied'],
    ['git fetch origin main:main', 'git-denied'],
    ['git fetch --upd origin', 'git-denied'],
    ['git fetch ./ main', 'git-denied'],
    ['git fetch --upload-p=touch origin', 'git-denied'],
    ['git fetch --prune-tags origin', 'git-denied'],
    ['git pull --ff-only -r', 'git-denied'],
    ['git checkout --ignore-other main', 'git-denied'],
    ['git apply --unsafe-paths x.patch', 'git-denied'],
    ['git apply --directory=.git/hooks x.patch', 'git-denied'],
    ['git merge -s evil task-b', 'git-denied'],
    ["make --ev='$(shell touch pwned)'", 'program'],
    ['make --e=x', 'program'],
    ["make -sE 'x:=1'", 'program'],
    ["make 'SHELL:=/bin/sh'", 'program'],
    ['make SHELL::=x', 'program'],
    ["make 'X!=touch pwned'", 'program'],
    ['make GNUMAKEFLAGS=--eval=x', 'program'],
    ['make MAKEFLAGS+=-E', 'program'],
    ['make .SHELLFLAGS=-ec', 'program'],
    ['make LD_PRELOAD=x.so test', 'program'],
    ['make -C ../main test', 'path'],
    ['make -f../main/Makefile', 'path'],
    ['npm --script-she=/tmp/x test', 'package-manager'],
    ['npm test --script-sh=x', 'package-manager'],
    ['npm --script_shell=x test', 'package-manager'],
    ['npm --Script-Shell=x test', 'package-manager'],
    ['npm --node-opt=--require=x test', 'package-manager'],
    ['yarn --use-yarn=x test', 'package-manager'],
    ['npm -gc x test', 'package-manager'],
    ['tsc --wat', 'program'],
    ['cargo test -Zunstable-options', 'program'],
    ['go test -exec=./x ./...', 'program'],
    ['go test --toolexec=x ./...', 'program'],
    ['pytest --pd', 'program'],
    ["make ' SHELL=/bin/x'", 'program'],
    ["make '$(shell touch pwned)=x'", 'program'],
    ["make 'CC=sh -c id' test", 'program'],
    ["make 'CFLAGS=$(shell touch pwned)'", 'program'],
    ["make 'override SHELL=x'", 'program'],
    ['make ../main/x', 'path'],
    ["yarn test '; touch pwned'", 'package-manager'],
    ['npm test -- "$(echo x)"', 'dynamic'],
    ["npm run build -- '`id`'", 'package-manager'],
    ['git fetch origin main --refmap=+refs/heads/main:refs/heads/main', 'git-denied'],
    ['git grep --no-index root /etc', 'git-denied'],
    ['git apply --check /etc/passwd', 'path'],
    ['make -j4 test', null],
    ['make CFLAGS=-O2 V=1 test', null],
    ['npm run test -- --grep "two words"', null],
    ['make V=1 test', null],
    ['npm test --silent', null],
    ['git commit -qam "fix: x"', null],
    ['git log -5 --oneline', null],
    ['git log --format=%H -n1', null],
  ],
  '4: dynamic words and globs only where an argument position allows them': [
    ['echo $_', 'dynamic'],
    ['cat $_', 'dynamic'],
    ['git commit -m "$_"', 'dynamic'],
    ['git commit -m "$1"', 'dynamic'],
    ["test -v 'a[$(touch pwned)]'", 'program'],
    ['git fetch ??upload-pack*', 'dynamic'],
    ['git fetch origin ??upload-pack*', 'dynamic'],
    ['touch ./--output=.git/config && git log ??output*', 'dynamic'],
    ['touch ./-x && git add src/*', 'dynamic'],
    ['mkdir d && cat src/*.ts', 'dynamic'],
    ['git -C "$(echo src)" status', 'dynamic'],
    ['git commit "$(cat notes.txt)"', 'dynamic'],
    ['git log --output="$(echo x)"', 'dynamic'],
    ['git commit -F "$X"', 'dynamic'],
    ['git merge "$B"', 'dynamic'],
    ['ln -s /etc/passwd x', 'path'],
    ['ln -s ../main m', 'path'],
    ['ln -s .. up', 'path'],
    ['ln -sf /etc/hosts src/x', 'path'],
    ['ln -s ../../../a src/deep/x', 'path'],
    ['ln ../main/notes.txt hard', 'path'],
    ['cp -s /etc/passwd x', 'path'],
    ['cp -l ../main/notes.txt x', 'path'],
    ['git checkout task-b -- planted && cat planted/secret', 'path'],
    ['git merge task-b && echo x > planted/f', 'redirect'],
    ['npm test && cat out/secret', 'path'],
    ['cp -r src src2 && cat src2/x', 'path'],
    ['git stash pop && sed -i s/a/b/ planted/x', 'path'],
    ['mkdir -p out && echo x > out/f', null],
    ['npm test && cat src/a.ts', null],
    // A git write opens .git's objects and refs for the whole line: no repository code beside it.
    ['git add -A && git commit -m x && npm test', 'git-denied'],
    ['git commit --allow-empty -qm x && node t.js', 'git-denied'],
    ['git branch zz && make', 'git-denied'],
    ['git add -A && git commit -qm x && python3 -m pytest -q', 'git-denied'],
    ['git commit -am x && yarn test', 'git-denied'],
    ['npm test && git commit -am x', 'git-denied'],
    ['git merge main && npm test', 'git-denied'],
    ['git add -A && git commit -m x && git log --oneline -1 | head -1', null],
    // sed can run a program (`e`): not beside a git write, and a bracket holding the delimiter hides the flag.
    ['git commit --allow-empty -qm x && sed -n 1p notes.txt', 'git-denied'],
    ["sed -n 's/[/]*/touch pwned;/e' notes.txt", 'program'],
    ["sed -n '/[/]/e touch y' notes.txt", 'program'],
    ["sed -n 's/[[:alpha:]/]/x/e' notes.txt", 'program'],
    ["sed -n 's/[a-z]/x/g' notes.txt", null],
    ["sed -n 's|[/]|x|p' notes.txt", null],
    ['mkdir -p out && cp notes.txt out/ && git add -A && git commit -m x', null],
    ['ln -s src/a.ts b', null],
    ['ln -s a.ts src/b.ts', null],
    ['ln src/a.ts hard', null],
    ['git commit -qm "$(cat notes.txt)"', null],
    ['git commit -m "$(git log -1 --format=%s)"', null],
    ['git tag -a v1 -m "$(cat notes.txt)"', null],
    ['echo "$(git rev-parse HEAD)"', null],
    ['echo $HOME "$CI"', null],
    ['echo ../../*', 'path'],
    ['echo ~', 'path'],
    ['test -f ~/.ssh/id_rsa', 'path'],
    ['test -e /root/.codex/auth.json', 'path'],
    ['test -f src/a.ts', null],
    ['grep ~ src', 'path'],
    ['echo "$(< /etc/passwd)"', 'redirect'],
    ['git add src/*.ts', null],
    ['cat src/*.ts | wc -l', null],
  ],
  '6: the environment: safe prefixes from an allowlist only': [
    ['GCONV_PATH=. ls', 'env-assign'],
    ['ESBUILD_BINARY_PATH=./x yarn build', 'env-assign'],
    ['GNUMAKEFLAGS=--eval=x make', 'env-assign'],
    ['LD_AUDIT=x.so ls', 'env-assign'],
    ['BASH_ENV=x git status', 'env-assign'],
    ['NODE_OPTIONS=--require=./x npm test', 'env-assign'],
    ['npm_config_script_shell=x npm test', 'env-assign'],
    ['PYTHONPATH=. pytest', 'env-assign'],
    ['FOO=1 npm test', 'env-assign'],
    ['NODE_ENV=$X npm test', 'env-assign'],
    ['CI=~ npm test', 'env-assign'],
    ['echo $OPENAI_API_KEY', 'dynamic'],
    ['echo "${OPENAI_API_KEY}"', 'dynamic'],
    ['git commit -m "$OPENAI_API_KEY"', 'dynamic'],
    ['npm run env', 'package-manager'],
    ['yarn run env', 'package-manager'],
    ['NODE_ENV=test yarn test', null],
    ['CI=true FORCE_COLOR=0 npm test', null],
    ['PYTHONDONTWRITEBYTECODE=1 pytest -q', null],
  ],
  '7: a command writes only inside its own worktree': [
    ['echo x > ../main/index.js', 'redirect'],
    ['echo x >> ../task-b/x', 'redirect'],
    ['echo x > ../.codex-orchestrator/run_repo_command.log', 'redirect'],
    ['echo x > out-link/x', 'redirect'],
    ['pytest --basetemp=../main', 'path'],
    ['pytest --basetemp ../main', 'path'],
    ['vitest run --outputFile=../main/x', 'path'],
    ['git worktree remove --force ../task-a', 'git-denied'],
    ['git worktree remove ../main', 'git-denied'],
    ['git worktree move ../main ../x', 'git-denied'],
    ['git worktree add ../main/sub -b x', 'git-denied'],
    ['git worktree add ../.codex-orchestrator/x', 'git-denied'],
    ['git worktree add /tmp/x', 'git-denied'],
    ['git worktree add ../task-a', 'git-denied'],
    ['mkdir ../main/x', 'path'],
    ['mkdir -p ../.codex-orchestrator/x', 'path'],
    ['cp src/a.ts ../main/src/a.ts', 'path'],
    ['cp -t ../main src/a.ts', 'path'],
    ['mv ../main/notes.txt x', 'path'],
    ['touch ../.codex-orchestrator/run_repo_command.log', 'path'],
    ['sed -i s/a/b/ ../main/notes.txt', 'path'],
    ['sed -i.bak s/a/b/ .git/config', 'path'],
    ['sort -o ../main/x src/a.ts', 'path'],
    ['touch .git/hooks/pre-commit', 'path'],
    ['cp notes.txt .git/hooks/pre-commit', 'path'],
    ['npm --prefix ../main test', 'path'],
    ['yarn --cwd ../main test', 'path'],
    ['echo x >> hard-notes.txt', 'redirect'],
    ['sed -i s/a/b/ hard-notes.txt', 'path'],
    ['cp notes.txt hard-notes.txt', 'path'],
    ['cat hard-notes.txt', null],
    ['cat ../main/notes.txt', null],
    // From a task worktree: a new branch and a sibling directory beside itself.
    ['git worktree add ../task-n -b task-n', 'git-denied'],
    ['git worktree add -b task-n ../task-n', 'git-denied'],
  ],
  '8: everyday lines are not over-blocked; what does not parse is denied': [
    ['git remote -v', null],
    ['git remote', null],
    ['git remote get-url origin', null],
    ['git remote add x /tmp/x', 'git-hard-block'],
    ['git remote -v show origin', 'git-hard-block'],
    ['git remote set-url origin /tmp/x', 'git-hard-block'],
    ['mkdir -p build/out', null],
    ['cp src/a.ts src/b.ts', null],
    ['cp -r src src2', null],
    ['mv notes.txt notes.md', null],
    ['touch src/new.ts', null],
    ['sed -n 1,5p src/a.ts', null],
    ["sed 's/a/b/g' src/a.ts", null],
    ["sed -i 's/a/b/' src/a.ts", null],
    ["sed -e 's/a/b/' -e '/^$/d' src/a.ts", null],
    ['sort src/a.ts', null],
    ['sort -u src/a.ts | head -3', null],
    ['git ls-tree -r HEAD', null],
    ["git for-each-ref --format='%(refname)' refs/heads", null],
    ['yarn bench guard', null],
    ['yarn test', null],
    ['npm run build', null],
    ["sed -n '1e touch pwned' src/a.ts", 'program'],
    ["sed 's/x/y/e' src/a.ts", 'program'],
    ["sed 'w /tmp/x' src/a.ts", 'program'],
    ["sed 's/a/b/w out' src/a.ts", 'program'],
    ["sed '1r /etc/passwd' src/a.ts", 'program'],
    ['sed -f script.sed src/a.ts', 'path'],
    ['sort --compress-program=sh src/a.ts', 'path'],
    ["yarn tsx -e 'x'", 'package-manager'],
    ['yarn eslint .', 'package-manager'],
    ['yarn run tsx x.ts', 'package-manager'],
    ['npm run nope', 'package-manager'],
    ['ls (', 'parse'],
    ['ls ( ; git status', 'parse'],
    ['ls ( && git push', 'parse'],
    ['git status | cat (', 'parse'],
    ['(ls) (', 'parse'],
  ],
};

describe.each(Object.entries(TABLES))('root cause %s', (_name, cases) => {
  it.each(cases)('%j → %s', (command, rule) => {
    const d = check(command);
    expect({ command, allowed: d.allowed, rule: d.rule }).toEqual({ command, allowed: rule === null, rule });
    if (rule !== null) expect(RULES).toContain(rule);
  });
});

describe("main/ is the user's checkout", () => {
  const MAIN: Case[] = [
    ['git checkout -- .', 'main-write'],
    ['git checkout -f', 'main-write'],
    ['git restore .', 'main-write'],
    ['git stash -u', 'main-write'],
    ['git stash', 'main-write'],
    ['git stash pop', 'main-write'],
    ['git rm src/a.ts', 'main-write'],
    ['git mv notes.txt x', 'main-write'],
    ['git add -A', 'main-write'],
    ['git commit -am x', 'main-write'],
    ['git cherry-pick abc', 'main-write'],
    ['git pull --ff-only', 'main-write'],
    ['git apply x.patch', 'main-write'],
    ['git merge task-a', 'main-write'],
    ['git merge --ff-only task-a', 'main-write'],
    ['git merge --no-ff -X theirs task-a', 'main-write'],
    ['git merge --no-ff task-a task-b', 'main-write'],
    ['git merge --no-ff HEAD~1', 'main-write'],
    ['git merge --no-ff --continue', 'main-write'],
    ['git diff --output=d.txt', 'main-write'],
    ['echo x > index.js', 'main-write'],
    ['echo x >> src/a.ts', 'main-write'],
    ['mkdir x', 'main-write'],
    ['touch x', 'main-write'],
    ["sed -i 's/a/b/' src/a.ts", 'main-write'],
    ['cp notes.txt n2', 'main-write'],
    ['git clean -fdx', 'git-denied'],
    ['git -C ../task-a commit -m x', 'git-global'],
    ['git status', null],
    ['git log --oneline -5', null],
    ['git stash list', null],
    ['git apply --check x.patch', null],
    ['git merge --no-ff task-a', null],
    ['git merge --no-ff task-a -m "Merge task-a: search"', null],
    ['git merge --abort', null],
    ['git worktree add ../task-m -b task-m', null],
    ['git branch task-q', null],
    ['git fetch origin', null],
    ['codex exec --full-auto "edit it"', 'main-write'],
    ['codex exec -s workspace-write "edit it"', 'main-write'],
    ['npm test', null],
    ['cat src/a.ts > /dev/null', null],
    ['codex exec -s read-only "explain the layout"', null],
  ];
  it.each(MAIN)('main: %j → %s', (command, rule) => {
    const d = check(command, 'main');
    expect({ command, allowed: d.allowed, rule: d.rule }).toEqual({ command, allowed: rule === null, rule });
  });
  it('the state dir is not a worktree', () => {
    expect(check('ls', '.codex-orchestrator').rule).toBe('worktree');
  });
});

describe('package installs run only as setup', () => {
  it.each([
    ['npm ci', 'install'],
    ['npm ci --ignore-scripts', 'install'],
    ['yarn install --frozen-lockfile', 'install'],
    ['yarn install --frozen-lockfile --ignore-scripts', 'install'],
    ['pnpm install --frozen-lockfile', 'install'],
    ['pip install -r requirements.txt', 'install'],
    ['pip3 install -q -r requirements.txt', 'install'],
  ])('setup %j → %s', (command, cls) => {
    expect(check(command, 'task-a', 'setup')).toMatchObject({ allowed: true, commandClass: cls });
    expect(check(command, 'task-a', 'model').allowed).toBe(false);
  });
  it.each([
    'npm i lodash',
    'npm install left-pad',
    'yarn add x',
    'pip install requests',
    'pip install -r ../main/requirements.txt',
    'npm ci --registry=http://x',
    'yarn install --modules-folder /tmp',
  ])('setup still denies %j', (command) => {
    expect(check(command, 'task-a', 'setup').allowed).toBe(false);
  });
});

describe('command classes', () => {
  it.each([
    ['git status', 'task-a', 'inspect'],
    ['ls | sort', 'task-a', 'inspect'],
    ['git log --oneline | head -5', 'task-a', 'inspect'],
    ['git config --get user.name', 'task-a', 'inspect'],
    ['git remote -v', 'task-a', 'inspect'],
    ['sed -n 1p src/a.ts', 'task-a', 'inspect'],
    ['echo hi > out.txt', 'task-a', 'edit'],
    ['npm test', 'task-a', 'edit'],
    ['make test', 'task-a', 'edit'],
    ['node --version', 'task-a', 'edit'],
    ['mkdir -p build', 'task-a', 'edit'],
    ['git status && npm test', 'task-a', 'edit'],
    ['git add -A && git commit -m x', 'task-a', 'git-write'],
    ['git add -A && git commit -m x && git log --oneline -1', 'task-a', 'git-write'],
    ['git worktree add ../task-c -b task-c', 'main', 'git-write'],
    ['git branch task-z', 'main', 'git-write'],
    ['git merge --no-ff task-a', 'main', 'merge'],
    ['git merge --abort', 'main', 'merge'],
    ['git merge main', 'task-a', 'git-write'],
    ['codex exec --full-auto "do it"', 'task-a', 'codex'],
  ])('%j in %s → %s', (command, worktree, cls) => {
    expect(check(command, worktree)).toMatchObject({ allowed: true, commandClass: cls });
  });
  it('a denied decision carries no class or analysis', () => {
    const d = check('git push');
    expect(d.commandClass).toBeUndefined();
    expect(d.analysis).toBeUndefined();
  });
});

describe('the decision carries the analysed line', () => {
  it('words, git subcommand and -C directory of every command', () => {
    const d = check('git -C src status --short | head -1');
    const cwd = fs.realpathSync(path.join(base, 'task-a'));
    expect(d.analysis).toEqual({
      cwd,
      worktreesAdded: [],
      commands: [
        {
          program: 'git',
          words: ['git', '-C', 'src', 'status', '--short'],
          gitSubcommand: 'status',
          gitDir: path.join(cwd, 'src'),
          commandClass: 'inspect',
        },
        { program: 'head', words: ['head', '-1'], commandClass: 'inspect' },
      ],
    });
  });
  it('the worktrees a line adds', () => {
    expect(check('git worktree add ../task-p -b task-p && git worktree add -b task-r ../task-r', 'main').analysis?.worktreesAdded).toEqual([
      'task-p',
      'task-r',
    ]);
  });
  it('commands inside substitutions are in the analysis too', () => {
    const words = check('git commit -m "$(cat notes.txt)"').analysis?.commands.map((c) => c.words[0]);
    expect(words?.sort()).toEqual(['cat', 'git']);
  });
});

describe('the guard and the gateway read codex flags the same way', () => {
  const LINES = [
    'codex exec "x"',
    'codex e "x"',
    'codex exec --full-auto "x"',
    'codex exec --json --skip-git-repo-check "x"',
    'codex exec --ephemeral "x"',
    'codex exec --color never "x"',
    'codex exec -i shot.png "x"',
    'codex exec --output-schema s.json "x"',
    'codex exec -o last.txt "x"',
    'codex exec --add-dir src "x"',
    'codex exec -p fast "x"',
    'codex exec --profile mine "x"',
    'codex exec -s read-only "x"',
    'codex exec -s danger-full-access "x"',
    'codex exec --sandbox=workspace-write "x"',
    'codex exec --yolo "x"',
    'codex exec -c sandbox_mode=danger-full-access "x"',
    'codex exec -c approval_policy=never "x"',
    'codex exec -c model=gpt-5 "x"',
    'codex exec -c shell_environment_policy.inherit=all "x"',
    'codex exec -m gpt-5 "x"',
    'codex exec -C src "x"',
    'codex exec -C .. "x"',
    'codex exec resume 0199 "more"',
    'codex exec resume --last "more"',
    'codex exec resume "x"',
    'codex exec',
    'codex -m gpt-5 exec "x"',
    'codex exec -- "--not-a-flag"',
  ];
  it.each(LINES)('%j', (line) => {
    const d = check(line);
    const words = parseLine(line).commands[0]!.args.map((a) => a.value);
    let gateway = true;
    try {
      const req = parseSeedCodexArgs(words);
      if (seedRequestProblem(req, { cwd: fs.realpathSync(path.join(base, 'task-a')) })) gateway = false;
    } catch {
      gateway = false;
    }
    // The guard may be stricter (config keys the policy does not list), never looser.
    if (d.allowed) expect(gateway).toBe(true);
    if (!d.allowed && gateway) expect(d.reason).toMatch(/configuration key/);
  });
});

describe('a codex worker in main/', () => {
  it("a model may not start one that writes (the user's checkout); a person with codex-orch exec may; read-only is fine for both", () => {
    expect(check('codex exec --full-auto "edit things"', 'main')).toMatchObject({ allowed: false, rule: 'main-write' });
    expect(check('codex exec --full-auto "edit things"', 'main', 'person')).toMatchObject({ allowed: true, commandClass: 'codex' });
    expect(check('codex exec -s read-only "look"', 'main')).toMatchObject({ allowed: true });
    // The person's exception is for codex only: other writes into main/ stay denied.
    expect(check('echo x > notes.txt', 'main', 'person')).toMatchObject({ allowed: false });
  });
});
