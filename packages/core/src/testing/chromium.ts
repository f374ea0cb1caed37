// A system Chromium (Debian's `chromium` package) driven by playwright-core, for tests of pages
// the project serves or generates. No browser download; the network stays closed, so pages must be
// self-contained. playwright-core is an optional peer dependency, loaded only when this is called.
// Published as its own entry, `@org/eventbus/testing/chromium`: its types name playwright-core's, so
// only projects that have playwright-core import it, and `@org/eventbus/testing` typechecks without.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

/** The browser binary: EVENTBUS_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.EVENTBUS_CHROMIUM ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile; any request to the network fails the page loudly. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set EVENTBUS_CHROMIUM`);
  }
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'eventbus-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Anything the page fetches beyond this machine is a defect of the page: fail it loudly.
  await context.route(
    (url) => /^https?:$/.test(url.protocol) && !LOOPBACK.has(url.hostname),
    (route) => route.abort('blockedbyclient'),
  );
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
