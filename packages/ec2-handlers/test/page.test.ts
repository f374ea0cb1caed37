import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ec2Service, SimulatedLauncher, startEc2Service } from '../src/index.js';
import { runId } from './helpers.js';

// Debian's chromium (apt-get install chromium); playwright's own browser download is not used.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const available = existsSync(CHROMIUM);
// Like describeBroker: without the browser the test skips locally with a hint, and fails under CI.
if (!available && !ci) console.info(`[eventbus] skipping the page test: apt-get install -y chromium (or set CHROMIUM_PATH)`);

describe.skipIf(!available && !ci)('the live page in headless Chromium', () => {
  let browser: BrowserContext;
  let service: Ec2Service;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'ec2-page-'));
    const id = runId();
    service = await startEc2Service({
      url: `memory://page-${id}`,
      groupPrefix: `ec2-${id}`,
      port: 0,
      launcher: new SimulatedLauncher({ bootMs: 800 }),
    });
    // A fresh profile per run: playwright takes it as the persistent context's user data dir.
    browser = await chromium.launchPersistentContext(profile, {
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
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    rmSync(profile, { recursive: true, force: true });
  });

  it('the page shows a submitted request moving through the chain to "launched"', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(service.url ?? '');
    await page.locator('#sse', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    await page.click('button[type=submit]');
    const row = page.locator('tr[data-request-id]');
    await row.first().waitFor({ timeout: 10_000 });
    const requestId = await row.first().getAttribute('data-request-id');
    await page.locator(`tr[data-request-id="${requestId}"][data-status="launched"]`).waitFor({ timeout: 20_000 });
    await page.locator('#notes li', { hasText: 'is running' }).waitFor({ timeout: 10_000 });
    expect(await page.locator(`tr[data-request-id="${requestId}"] .chain`).textContent()).toContain('ec2.instance.launched');
    expect(errors).toEqual([]);
    await page.close();
  });
});
