/**
 * bubblewrap: the strong backend. Read-only root, fresh /dev and /proc, tmpfs
 * over $HOME, /tmp, /run and the listed secrets, the profile's binds, every
 * namespace unshared (no network, own PID namespace so detached children die
 * with the command), no capabilities and no nested user namespaces (so the
 * mounts cannot be undone), a new session (no TIOCSTI into the caller's terminal).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBackend } from './backend.js';
import { bashArgv } from './exec.js';
import type { SandboxProfile } from './profile.js';

/** The private home inside the sandbox: on the /tmp tmpfs, empty on every command. */
export const SANDBOX_HOME = '/tmp/home';

function under(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function hide(p: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return [];
  }
  return st.isDirectory() ? ['--tmpfs', p] : ['--ro-bind', '/dev/null', p];
}

export function bwrapArgs(profile: SandboxProfile, cwd: string): string[] {
  const exists = (p: string) => fs.existsSync(p);
  const a: string[] = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  // Hidden directories that hold something to mount back go first, the rest after
  // the re-exposed paths (a state dir inside the re-exposed base dir stays hidden).
  const hidden = [...new Set(profile.hidden)].sort((x, y) => x.length - y.length);
  const broad = hidden.filter((h) => profile.reexposed.some((r) => under(r, h) && r !== h));
  const narrow = hidden.filter((h) => !broad.includes(h));
  for (const h of broad) a.push(...hide(h));
  for (const r of profile.reexposed) if (exists(r)) a.push('--ro-bind', r, r);
  for (const h of narrow) a.push(...hide(h));
  for (const o of profile.overlay) if (exists(o)) a.push('--overlay-src', o, '--tmp-overlay', o);
  for (const b of profile.binds) if (exists(b.path)) a.push(b.mode === 'rw' ? '--bind' : '--ro-bind', b.path, b.path);
  // A bind brings back what lies under it on the host (the state dir under a writable base dir): hide it again.
  for (const h of narrow) if (profile.binds.some((b) => under(h, b.path) && h !== b.path)) a.push(...hide(h));
  a.push('--dir', SANDBOX_HOME);
  // No capabilities and no nested user namespace: as root, bwrap keeps every capability by default
  // and `umount $HOME` would bring back the real home.
  a.push('--unshare-all', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL');
  if (profile.network) a.push('--share-net');
  a.push('--die-with-parent', '--new-session', '--chdir', cwd);
  return a;
}

export function bwrapBackend(bin: string, origin: string): SandboxBackend {
  return {
    name: 'bwrap',
    path: bin,
    description: `bwrap (${origin}: ${bin})`,
    gaps: [],
    wrap(command, profile, cwd) {
      return {
        argv: [bin, ...bwrapArgs(profile, cwd), '--', ...bashArgv(command)],
        env: { ...profile.env, HOME: SANDBOX_HOME, TMPDIR: '/tmp' },
      };
    },
  };
}
