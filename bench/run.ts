/**
 * `yarn bench <name>`: runs bench/<name>.ts, which writes its results to
 * bench/results/<name>-<date>.json and prints a summary. Speed is reported as
 * ratios against a baseline measured in the same run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
const available = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: yarn bench [${available.join('|')}]...\n(no name: all of them)`);
  process.exit(0);
}
const unknown = names.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : available) {
  console.log(`== bench ${name}`);
  const mod = (await import(pathToFileURL(path.join(here, `${name}.bench.ts`)).href)) as { run: () => Promise<void> };
  await mod.run();
}
