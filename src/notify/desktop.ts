/** Desktop notifications through `notify-send` (libnotify), when it is installed. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function findOnPath(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, program);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Resolves true when notify-send ran and exited 0; false when it is missing or failed. */
export function desktopNotify(title: string, body: string, urgency: 'low' | 'normal' | 'critical' = 'normal'): Promise<boolean> {
  const bin = findOnPath('notify-send');
  if (!bin) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(bin, ['--app-name=codex-orch', `--urgency=${urgency}`, '--', title, body], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', () => (clearTimeout(timer), resolve(false)));
    child.on('close', (code) => (clearTimeout(timer), resolve(code === 0)));
  });
}
