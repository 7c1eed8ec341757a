import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, UsageError } from '../../errors.js';
import { manifestFromPlan, validateManifest, type Manifest, type Plan } from '../../scheduler/index.js';
import { runDir as runDirPaths, writeJsonAtomic } from '../../store/run-dir.js';
import type { RunRecord } from '../../store/index.js';

/**
 * Reads and validates a manifest a person wrote (or a saved one, to resume).
 * Errors name the file and every problem with its path, all at once:
 * `plan.json: phases[0].tasks[1].dependsOn[0]: unknown task id "t9"`.
 */
export function loadManifestFile(file: string): Manifest {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${file}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, {
      cause,
      variable: '--plan',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${file}: not valid JSON: ${(cause as Error).message}`, {
      cause,
      variable: '--plan',
      hint: 'expected {"version": 1, "task": "…", "phases": [{"name": "…", "tasks": [{"id": "t1", "title": "…", "prompt": "…"}]}]}',
    });
  }
  return parseManifest(raw, file);
}

/** Validates a manifest value; `source` names it in errors. */
export function parseManifest(raw: unknown, source = 'manifest'): Manifest {
  const checked = validateManifest(raw);
  if (!checked.ok) {
    throw new ConfigError(`${source}: invalid plan:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`, { variable: '--plan' });
  }
  return checked.plan;
}

/** A plan or a manifest as a manifest (a plan gets every task pending). */
export function toManifest(input: Plan | Manifest): Manifest {
  const first = input.phases[0]?.tasks[0] as Partial<Manifest['phases'][number]['tasks'][number]> | undefined;
  if (first && 'status' in first) return structuredClone(input as Manifest);
  const checked = validateManifest(input);
  if (checked.ok) return structuredClone(checked.plan);
  return manifestFromPlan(input);
}

/** Saves the manifest atomically (temp file, fsync, rename). */
export function saveManifest(file: string, manifest: Manifest): void {
  writeJsonAtomic(file, manifest);
}

/** The run's saved manifest (manifest.json, else the copy in the store), or a UsageError for a seed-road run. */
export function runManifest(stateDir: string, run: RunRecord): { manifest: Manifest; manifestFile: string } {
  const manifestFile = path.join(runDirPaths(stateDir, run.id).root, 'manifest.json');
  if (fs.existsSync(manifestFile)) return { manifest: loadManifestFile(manifestFile), manifestFile };
  if (run.manifest !== undefined && run.manifest !== null)
    return { manifest: parseManifest(run.manifest, `run ${run.id} (store)`), manifestFile };
  throw new UsageError(
    `runs merge is not available for seed-road runs: merges are done by the agent (run ${run.id} has no plan manifest)`,
    {
      hint: `codex-orch resume ${run.id} continues the run, which merges its completed work`,
    },
  );
}
