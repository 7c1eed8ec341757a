import fs from 'node:fs';

/** Live processes whose working directory is inside `dir`, as "pid command line" (zombies have no cwd and are skipped). */
export function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readlinkSync(`/proc/${d}/cwd`).startsWith(dir)) {
        found.push(`${d} ${fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 160)}`);
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}
