import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');

/**
 * The package as a user gets it: built with tsc to dist/ (with .d.ts), imported
 * by name through package.json `exports` from another project, and its `bin`.
 */
describe('the built package', () => {
  let project: string;

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'pipe',
    });
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'co-user-'));
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(root, path.join(project, 'node_modules', 'codex-orchestrator'), 'dir');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }));
  }, 120_000);

  it('exports the public API by name, with type declarations', () => {
    fs.writeFileSync(
      path.join(project, 'use.mjs'),
      `import * as co from 'codex-orchestrator';
       const names = Object.keys(co).sort();
       let rejected = '';
       try { await co.runOrchestrator({ task: '' }); } catch (e) { rejected = e.constructor.name + ':' + e.kind; }
       console.log(JSON.stringify({ names, rejected }));`,
    );
    const out = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8' })) as {
      names: string[];
      rejected: string;
    };
    // The exact list: a new export is a decision, made here.
    expect(out.names).toEqual(
      [
        'AbortedError',
        'ApprovalError',
        'CommandFailedError',
        'ConfigError',
        'DiskFullError',
        'GitError',
        'ModelApiError',
        'OrchestratorError',
        'PolicyDeniedError',
        'QueueError',
        'RunFailedError',
        'StoreError',
        'UsageError',
        'WorkerError',
        'approveMerge',
        'checkCommand',
        'createRunRepoCommandTool',
        'describeError',
        'dispatch',
        'envTaskSource',
        'githubTaskSource',
        'isOrchestratorError',
        'listTaskSource',
        'loadConfig',
        'makeRunTask',
        'openStore',
        'pendingApprovals',
        'rejectMerge',
        'renderReportMarkdown',
        'resumeRun',
        'runOrchestrator',
        'runPlan',
        'runRepoCommand',
        'serveMcpStdio',
      ].sort(),
    );
    expect(out.rejected).toBe('UsageError:usage');
    expect(fs.existsSync(path.join(root, 'dist', 'index.d.ts'))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8')).toContain('runOrchestrator');
  });

  it('runs the codex-orch bin', () => {
    const out = execFileSync(process.execPath, [path.join(root, 'bin', 'codex-orch.js'), '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: codex-orch');
    expect(out).toMatch(/\brun\b/);
  });
});
