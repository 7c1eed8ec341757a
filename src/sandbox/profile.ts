/**
 * What one command may touch, independent of the backend that enforces it.
 * The gateway builds a profile per command (its class, its worktree); each
 * backend turns it into its own flags and says what it cannot enforce.
 */
export interface SandboxProfile {
  /** The command class the profile was built for (shown in reports and `policy check --explain`). */
  name: string;
  network: boolean;
  /**
   * Bind mounts over the read-only root, applied in order (a later one wins
   * inside an earlier one: `.git` writable, then `.git/config` read-only again).
   * Paths that do not exist are skipped.
   */
  binds: { path: string; mode: 'rw' | 'ro' }[];
  /** Directories replaced by an empty tmpfs, files by /dev/null: $HOME, /tmp, the state dir, secrets. */
  hidden: string[];
  /** Paths under `hidden` mounted back read-only (the base dir under /tmp, tools installed under $HOME). */
  reexposed: string[];
  /** Directories whose writes go to a throwaway layer (main/ for tests): nothing reaches the host. */
  overlay: string[];
  /** True when the command writes git metadata (the codex backend keeps `.git` read-only, so it refuses). */
  gitWrites: boolean;
  /** The environment of the command; the backend adds HOME (private, empty) and TMPDIR. */
  env: Record<string, string>;
}

/** The profile as readable lines, for `policy check --explain` and reports. */
export function describeProfile(p: SandboxProfile): string[] {
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');
  return [
    `class: ${p.name}`,
    `network: ${p.network ? 'on' : 'off'}`,
    `writable: ${list(p.binds.filter((b) => b.mode === 'rw').map((b) => b.path))}`,
    ...(p.overlay.length ? [`throwaway overlay (writes discarded): ${list(p.overlay)}`] : []),
    `read-only again: ${list(p.binds.filter((b) => b.mode === 'ro').map((b) => b.path))}`,
    `hidden (empty tmpfs or /dev/null): ${list(p.hidden)}`,
    `environment: ${list(
      Object.keys(p.env)
        .filter((k) => !/^GIT_CONFIG_(KEY|VALUE)_/.test(k))
        .sort(),
    )}`,
  ];
}
