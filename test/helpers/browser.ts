import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (which downloads no browser of its
 * own). A missing Chromium fails the test with the command that installs it:
 * the browser tests never skip.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_BIN, 'chromium', 'chromium-browser'].filter((c): c is string => Boolean(c));
  for (const c of candidates) {
    if (path.isAbsolute(c)) {
      if (fs.existsSync(c)) return c;
      continue;
    }
    try {
      const found = execFileSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on PATH
    }
  }
  throw new Error(
    'Chromium is not installed: the dashboard browser tests need it. Install it with `apt-get install -y chromium` (Debian; .ci/run does this), or set CHROMIUM_BIN to a Chromium binary.',
  );
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh profile each time; `hostMap` sends `*.test` names to 127.0.0.1 (separate origins on one server). */
export async function launchChromium(
  options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number }; mapTestHosts?: boolean } = {},
): Promise<Browser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-chromium-'));
  const args = [...CHROMIUM_ARGS];
  if (options.mapTestHosts) args.push('--host-resolver-rules=MAP *.test 127.0.0.1');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    colorScheme: options.colorScheme ?? 'light',
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
