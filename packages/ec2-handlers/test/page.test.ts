import { type Browser, CHROMIUM, chromiumAvailable, launchChromium } from '@org/eventbus/testing/chromium';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ec2Service, SimulatedLauncher, startEc2Service } from '../src/index.js';
import { runId } from './helpers.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const available = chromiumAvailable();
// Like describeBroker: without the browser the test skips locally with a hint, and fails under CI.
if (!available && !ci) console.info(`[eventbus] skipping the page test: apt-get install -y chromium (or set EVENTBUS_CHROMIUM; looked at ${CHROMIUM})`);

describe.skipIf(!available && !ci)('the live page in headless Chromium', () => {
  let browser: Browser;
  let service: Ec2Service;

  beforeAll(async () => {
    const id = runId();
    service = await startEc2Service({
      url: `memory://page-${id}`,
      groupPrefix: `ec2-${id}`,
      port: 0,
      launcher: new SimulatedLauncher({ bootMs: 800 }),
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('the page shows a submitted request moving through the chain to "launched"', async () => {
    const page = await browser.context.newPage();
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
