import { inputText, toolOutputs, type Script, type ScriptedToolCall } from './scripted-model-server.js';

/**
 * The scripts of the offline demo: what a good orchestrator model and good
 * Codex models would answer on the sample repository. The program around them
 * (the Agents SDK run loop, the guard, git, the real codex binary) is real.
 */

interface Edit {
  slug: string;
  title: string;
  files: Record<string, string>;
}

export const DEMO_EDITS: Edit[] = [
  {
    slug: 'capitalize',
    title: 'capitalize(text)',
    files: {
      'src/capitalize.js': 'export function capitalize(text) {\n  return text.charAt(0).toUpperCase() + text.slice(1);\n}\n',
      'test/capitalize.test.js':
        'import test from "node:test";\nimport assert from "node:assert/strict";\nimport { capitalize } from "../src/capitalize.js";\n\ntest("capitalize", () => {\n  assert.equal(capitalize("hello"), "Hello");\n  assert.equal(capitalize(""), "");\n});\n',
    },
  },
  {
    slug: 'truncate',
    title: 'truncate(text, max)',
    files: {
      'src/truncate.js': 'export function truncate(text, max) {\n  return text.length > max ? text.slice(0, max) + "..." : text;\n}\n',
      'test/truncate.test.js':
        'import test from "node:test";\nimport assert from "node:assert/strict";\nimport { truncate } from "../src/truncate.js";\n\ntest("truncate", () => {\n  assert.equal(truncate("hello world", 5), "hello...");\n  assert.equal(truncate("hi", 5), "hi");\n});\n',
    },
  },
];

const call = (worktree: string, command: string): ScriptedToolCall => ({ name: 'run_repo_command', arguments: { worktree, command } });

/** The orchestrator's plan, one turn per entry; each turn's calls run concurrently. */
export function orchestratorTurns(edits: Edit[] = DEMO_EDITS, options: { tryPush?: boolean } = {}): ScriptedToolCall[][] {
  const turns: ScriptedToolCall[][] = [];
  turns.push([call('main', 'git status --short && git log --oneline -3 && ls')]);
  turns.push(edits.map((e) => call('main', `git worktree add ../task-${e.slug} -b task-${e.slug}`)));
  turns.push(
    edits.map((e) =>
      call(
        `task-${e.slug}`,
        `codex exec --full-auto "Add ${e.title} in src/${e.slug}.js with a test in test/${e.slug}.test.js; run npm test. DEMO_EDIT:${e.slug}"`,
      ),
    ),
  );
  // Two calls: a line that writes git metadata may not also run the project's code (the guard refuses it).
  turns.push(edits.map((e) => call(`task-${e.slug}`, `git add -A && git commit -q -m "Add ${e.title} with a test"`)));
  turns.push(edits.map((e) => call(`task-${e.slug}`, 'npm test --silent')));
  if (options.tryPush) turns.push([call('main', 'git push origin main')]);
  for (const e of edits) {
    turns.push([call('main', `git merge --no-ff task-${e.slug} -m "Merge task-${e.slug}: add ${e.title}"`)]);
    turns.push([call('main', 'npm test --silent')]);
  }
  return turns;
}

/**
 * The orchestrator model: plays the turns in order, one per request (the SDK
 * sends the whole conversation each time; the number of tool outputs so far
 * says which turn is next), then answers with a summary.
 */
export function orchestratorScript(turns: ScriptedToolCall[][] = orchestratorTurns()): Script {
  return ({ body }) => {
    const done = toolOutputs(body).size;
    let seen = 0;
    for (const turn of turns) {
      if (done === seen) return { toolCalls: turn };
      seen += turn.length;
    }
    const failed = [...toolOutputs(body).values()].filter((o) => /^(FAILED|DENIED)/.test(o)).length;
    return {
      text:
        failed === 0
          ? 'Done. I created task-capitalize and task-truncate from main, had a Codex worker implement each in parallel, committed and tested both branches, then merged them into main one at a time with npm test passing after each merge. Nothing was pushed.'
          : `Finished with ${failed} failed or denied command(s); see the report. Nothing was pushed.`,
    };
  };
}

/** One shell command writing `content` to `file` (the demo contents have no single quotes). */
function writeFileCommand(file: string, content: string): string {
  if (content.includes("'") || file.includes("'")) throw new Error(`demo content for ${file} must not contain single quotes`);
  return `mkdir -p "$(dirname '${file}')" && printf '%s' '${content}' > '${file}'`;
}

/**
 * The Codex model: on the first request of a thread, one `exec_command` that
 * writes the files of the edit named by `DEMO_EDIT:<slug>` in the prompt; once it
 * has the command's output, the structured final answer.
 */
export function codexScript(edits: Edit[] = DEMO_EDITS): Script {
  return ({ body }) => {
    const text = inputText(body);
    const slug = /DEMO_EDIT:([a-z0-9-]+)/.exec(text)?.[1];
    const edit = edits.find((e) => e.slug === slug);
    if (toolOutputs(body).size === 0 && edit) {
      const cmd = Object.entries(edit.files)
        .map(([file, content]) => writeFileCommand(file, content))
        .join(' && ');
      return { toolCalls: [{ name: 'exec_command', arguments: { cmd: `${cmd} && npm test --silent` } }] };
    }
    return {
      text: JSON.stringify({
        goal_met: Boolean(edit),
        summary: edit ? `Added ${edit.title} in src/${edit.slug}.js with a passing test.` : 'No demo edit was named in the prompt.',
        followup_prompt: '',
        notes: '',
      }),
    };
  };
}
