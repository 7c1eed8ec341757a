import { describe, expect, it } from 'vitest';
import { parseUnifiedDiff } from '../../src/git/diff.js';

const DIFF = `diff --git a/src/app.ts b/src/app.ts
index 1111111..2222222 100644
--- a/src/app.ts
+++ b/src/app.ts
@@ -1,4 +1,5 @@ export function main() {
 const a = 1;
-const b = 2;
+const b = 3;
+const c = 4;
 
 console.log(a);
@@ -10 +11 @@
-old
\\ No newline at end of file
+new
diff --git a/old name.txt b/new name.txt
similarity 90%
rename from old name.txt
rename to new name.txt
index 3333333..4444444 100644
--- a/old name.txt
+++ b/new name.txt
@@ -1 +1 @@
-x
+y
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 5555555..0000000
--- a/gone.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-one
-two
diff --git a/img.png b/img.png
new file mode 100644
index 0000000..6666666
Binary files /dev/null and b/img.png differ
diff --git "a/sp\\303\\244ce.txt" "b/sp\\303\\244ce.txt"
new file mode 100755
index 0000000..7777777
--- /dev/null
+++ "b/sp\\303\\244ce.txt"
@@ -0,0 +1 @@
+--- not a header
`;

describe('parseUnifiedDiff', () => {
  const files = parseUnifiedDiff(DIFF);
  it('finds every file with its status, paths and counts from the hunks', () => {
    expect(files.map((f) => [f.path, f.oldPath, f.status, f.binary, f.additions, f.deletions])).toEqual([
      ['src/app.ts', 'src/app.ts', 'modified', false, 3, 2],
      ['new name.txt', 'old name.txt', 'renamed', false, 1, 1],
      ['gone.txt', 'gone.txt', 'deleted', false, 0, 2],
      ['img.png', 'img.png', 'added', true, 0, 0],
      ['späce.txt', 'späce.txt', 'added', false, 1, 0],
    ]);
    expect(files[4]!.newMode).toBe('100755');
  });
  it('splits hunks with their ranges, section and lines; a blank context line and the no-newline note are kept', () => {
    const [first, second] = files[0]!.hunks;
    expect(first).toMatchObject({ oldStart: 1, oldLines: 4, newStart: 1, newLines: 5, section: 'export function main() {' });
    expect(first!.lines.map((l) => l.kind)).toEqual(['context', 'del', 'add', 'add', 'context', 'context']);
    expect(second).toMatchObject({ oldStart: 10, oldLines: 1, newStart: 11, newLines: 1, section: '' });
    expect(second!.lines).toEqual([
      { kind: 'del', text: 'old' },
      { kind: 'note', text: 'No newline at end of file' },
      { kind: 'add', text: 'new' },
    ]);
    // A added line that looks like a header is content, not a new file.
    expect(files[4]!.hunks[0]!.lines).toEqual([{ kind: 'add', text: '--- not a header' }]);
  });
  it('text that is not a diff has no files', () => {
    expect(parseUnifiedDiff('')).toEqual([]);
    expect(parseUnifiedDiff('hello\n@@ -1 +1 @@\n+x\n')).toEqual([]);
  });
});

describe('runs diff rendering', () => {
  it('colours added, deleted and hunk lines when colour is on, and not otherwise', async () => {
    const { diffLines, statLines } = await import('../../src/cli/commands/runs/diff.js');
    const files = parseUnifiedDiff(DIFF);
    const saved = { FORCE_COLOR: process.env.FORCE_COLOR, NO_COLOR: process.env.NO_COLOR };
    try {
      delete process.env.NO_COLOR;
      process.env.FORCE_COLOR = '1';
      const coloured = diffLines(files).join('\n');
      expect(coloured).toContain('\u001b[32m+const b = 3;');
      expect(coloured).toContain('\u001b[31m-const b = 2;');
      expect(coloured).toContain('\u001b[36m@@ -1,4 +1,5 @@');
      process.env.FORCE_COLOR = '0';
      const plain = diffLines(files);
      expect(plain.join('\n')).not.toContain('\u001b[');
      expect(plain.slice(0, 4)).toEqual([
        '--- a/src/app.ts',
        '+++ b/src/app.ts',
        '@@ -1,4 +1,5 @@ export function main() {',
        ' const a = 1;',
      ]);
      expect(statLines(files)).toEqual([
        ' src/app.ts                   | 5 +++--',
        ' old name.txt => new name.txt | 2 +-',
        ' gone.txt                     | 2 --',
        ' img.png                      | Bin',
        ' späce.txt                    | 1 +',
        ' 5 files changed, 5 insertions(+), 5 deletions(-)',
      ]);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
