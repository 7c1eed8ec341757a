import type { SandboxProfile } from './profile.js';

export type BackendName = 'bwrap' | 'codex' | 'unshare' | 'off' | 'none';

/** How one backend runs a bash line under a profile, or why it will not. */
export interface SandboxBackend {
  readonly name: BackendName;
  /** The executable it wraps commands in (bwrap, codex, unshare), if any. */
  readonly path?: string;
  /** One line for doctor and reports, e.g. "bwrap (bundled with @openai/codex)". */
  readonly description: string;
  /** What this backend does not enforce (empty for bwrap). */
  readonly gaps: readonly string[];
  wrap(command: string, profile: SandboxProfile, cwd: string): { argv: string[]; env: Record<string, string> } | { refused: string };
}

export const INSTALL_HINT =
  'install bubblewrap 0.10 or newer (it also ships inside the @openai/codex package: reinstall node_modules), or set ORCHESTRATOR_SANDBOX=off to run commands unconfined at your own risk';
