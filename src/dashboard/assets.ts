import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../config/config.js';

/**
 * The page's static files, served from the package itself (no CDN: the
 * dashboard works offline). Ours live in src/dashboard/assets/ (shipped with
 * the package); diff2html's stylesheet comes from its npm package.
 */
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function ownAssetsDir(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');
  if (fs.existsSync(path.join(here, 'dashboard.js'))) return here;
  // Built to dist/: the assets stay in the package's src/dashboard/assets/.
  return path.join(packageRoot(), 'src', 'dashboard', 'assets');
}

function diff2htmlCss(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('diff2html/package.json')), 'bundles', 'css', 'diff2html.min.css');
}

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Reads the assets once at start; `get(name)` for `/assets/<name>`. */
export function loadAssets(): Map<string, Asset> {
  const dir = ownAssetsDir();
  const files: [string, string][] = fs
    .readdirSync(dir)
    .filter((f) => TYPES[path.extname(f)])
    .map((f) => [f, path.join(dir, f)]);
  files.push(['diff2html.min.css', diff2htmlCss()]);
  const out = new Map<string, Asset>();
  for (const [name, file] of files) {
    const body = fs.readFileSync(file);
    out.set(name, {
      body,
      type: TYPES[path.extname(name)]!,
      etag: `"${body.length.toString(16)}-${fs.statSync(file).mtimeMs.toString(16)}"`,
    });
  }
  return out;
}
