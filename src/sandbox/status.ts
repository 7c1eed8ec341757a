/**
 * What `doctor` and the reports say about the sandbox: the backend in use,
 * what it does not enforce, and warnings (a system bwrap too old for codex's
 * own sandbox, variables the user listed that are never passed).
 */
import { refusedEnvNames } from './env.js';
import { sandboxFor, systemBwrap, type SandboxMode } from './sandbox.js';

export interface SandboxStatus {
  mode: SandboxMode;
  backend: string;
  description: string;
  gaps: string[];
  notes: string[];
  warnings: string[];
  /** False when nothing confines repository code (none found, or off). */
  confined: boolean;
}

export function sandboxStatus(config: {
  sandbox: SandboxMode;
  codexBin: string | undefined;
  sandboxEnv: readonly string[];
}): SandboxStatus {
  const warnings: string[] = [];
  let backend: string;
  let description: string;
  let gaps: string[] = [];
  let notes: string[] = [];
  try {
    const s = sandboxFor(config.sandbox, config.codexBin);
    backend = s.backend.name;
    description = s.backend.description;
    gaps = [...s.backend.gaps];
    notes = [...s.notes];
  } catch (error) {
    backend = 'none';
    description = error instanceof Error ? error.message : String(error);
  }
  const sys = systemBwrap();
  if (sys && !sys.newEnough) {
    warnings.push(
      `the system bwrap ${sys.path} (${sys.version}) is too old: codex picks it up for its own command sandbox and commands its model runs then fail; upgrade it to 0.10+ or remove it (the bwrap bundled with @openai/codex is used otherwise)`,
    );
  }
  const refused = refusedEnvNames(config.sandboxEnv);
  if (refused.length) warnings.push(`ORCHESTRATOR_SANDBOX_ENV: never passed into the sandbox: ${refused.join(', ')}`);
  if (backend === 'off') warnings.push('ORCHESTRATOR_SANDBOX=off: every command runs unconfined');
  if (backend === 'unshare') warnings.push('only the network is confined (unshare -rn): install bubblewrap');
  return {
    mode: config.sandbox,
    backend,
    description,
    gaps,
    notes,
    warnings,
    confined: backend === 'bwrap' || backend === 'codex' || backend === 'unshare',
  };
}
