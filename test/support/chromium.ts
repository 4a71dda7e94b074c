import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Headless Chromium from the distribution (Debian's chromium-headless-shell, else chromium), driven
 * by playwright-core, which never downloads a browser of its own. CHROMIUM_PATH overrides.
 */
export const CHROMIUM_INSTALL_HINT = 'install it with `apt-get install -y chromium-headless-shell` (or set CHROMIUM_PATH)';

export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium-headless-shell', '/usr/lib/chromium/chromium-headless-shell', '/usr/bin/chromium'];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

/** A browser with a profile of its own, no background traffic, no first-run UI; close() removes the profile. */
export async function launchChromium(executablePath: string): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'insforge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    acceptDownloads: false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
