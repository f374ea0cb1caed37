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

  it('a throttled launch shows "waiting until hh:mm:ss", then "launched"', async () => {
    const id = runId();
    // The first call is throttled for 3 s (the page polls every 700 ms), the next one launches.
    const first = [0.1];
    const throttled = await startEc2Service({
      url: `memory://page-throttle-${id}`,
      groupPrefix: `ec2-${id}`,
      port: 0,
      launcher: new SimulatedLauncher({ bootMs: 100, throttleRate: 0.5, throttleRetryAfterMs: 3_000, random: () => first.shift() ?? 0.99 }),
    });
    const page = await browser.context.newPage();
    try {
      await page.goto(throttled.url ?? '');
      await page.locator('#sse', { hasText: 'live' }).waitFor({ timeout: 10_000 });
      await page.click('button[type=submit]');
      const waiting = page.locator('tr[data-status="waiting"] .status');
      await waiting.waitFor({ timeout: 10_000 });
      expect(await waiting.textContent()).toMatch(/^waiting until \d\d:\d\d:\d\d$/);
      await page.locator('tr[data-status="launched"]').waitFor({ timeout: 20_000 });
    } finally {
      await page.close();
      await throttled.stop();
    }
  });
});
