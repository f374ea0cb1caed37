// The reference service serves its event graph live at /events/: counts on the nodes change as events
// flow, and a dead letter links to its details. In headless Chromium (Debian's `chromium`).
import { type Browser, CHROMIUM, chromiumAvailable, launchChromium } from '@org/eventbus/testing/chromium';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ec2Service, type Launcher, type LaunchSpec, SimulatedLauncher, startEc2Service } from '../src/index.js';
import { runId } from './helpers.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const available = chromiumAvailable();
if (!available && !ci) console.info(`[eventbus] skipping the live graph test: apt-get install -y chromium (or set EVENTBUS_CHROMIUM; looked at ${CHROMIUM})`);

const BROKEN_IMAGE = 'ami-0badbadbadbad0000';

/** Boots like the simulated launcher, but a broken image fails every attempt (retried, then dead-lettered). */
class FlakyLauncher implements Launcher {
  readonly name = 'flaky';
  private readonly simulated = new SimulatedLauncher({ bootMs: 1500 });
  async launch(spec: LaunchSpec, signal?: AbortSignal) {
    if (spec.imageId === BROKEN_IMAGE) throw new Error('the simulated EC2 API timed out');
    return this.simulated.launch(spec, signal);
  }
}

describe.skipIf(!available && !ci)('the live event graph of the reference service', () => {
  let browser: Browser;
  let service: Ec2Service;

  beforeAll(async () => {
    const id = runId();
    service = await startEc2Service({
      url: `memory://live-graph-${id}`,
      groupPrefix: `ec2-${id}`,
      instanceId: 'live',
      port: 0,
      launcher: new FlakyLauncher(),
      worker: { maxAttempts: 2, backoff: { initialMs: 50, maxMs: 100 } },
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  const launch = (imageId: string) =>
    fetch(new URL('/v1/ec2/instances', service.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ imageId, instanceType: 't3.micro' }),
    }).then((r) => expect(r.status).toBe(202));

  it('shows the counts changing on the nodes, and a dead letter with its reason and event', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.setViewportSize({ width: 1400, height: 900 });
      await page.goto(new URL('/events/', service.url).href);
      const requested = page.locator('.node.event[data-type="ec2.launch.requested"] .live').first();
      const launcher = page.locator('.node.handler[data-on="ec2.launch.requested"]');
      await expect.poll(() => requested.textContent(), { timeout: 10_000 }).toBe('0/s · 0 published');
      await expect.poll(() => page.locator('#live-status').textContent()).toMatch(/^live · /);

      await launch('ami-0123456789abcdef0');
      await launch('ami-0123456789abcdef0');
      // In flight while the simulated machines boot.
      await expect.poll(() => requested.textContent(), { timeout: 10_000 }).toMatch(/ · 2 published$/);
      await expect.poll(() => launcher.locator('.live').first().textContent(), { timeout: 10_000 }).toMatch(/ · 2 in flight$/);
      await expect.poll(() => page.locator('.node.event[data-type="ec2.instance.launched"] .live').first().textContent(), { timeout: 15_000 }).toMatch(/ · 2 published$/);
      await expect.poll(() => launcher.locator('.live').first().textContent(), { timeout: 10_000 }).toMatch(/ · 0 in flight$/);

      await launch(BROKEN_IMAGE);
      await expect.poll(() => launcher.locator('.live.retries').textContent(), { timeout: 10_000 }).toBe('1 retry');
      const deadLetters = launcher.locator('a.dl text');
      await expect.poll(() => deadLetters.textContent(), { timeout: 10_000 }).toBe('1 dead letter');
      await expect
        .poll(() => page.locator('.node.event[data-type="ec2.launch.requested"] .live.totals').textContent(), { timeout: 5000 })
        .toBe('0 in flight · 1 retry · 1 dead');
      await page.screenshot({ path: `${process.env.EVENTBUS_SCREENSHOTS ?? '/tmp'}/live-graph-1400.png` });

      // The dead-letter count opens the list; each entry links to the event's details.
      await launcher.locator('a.dl').click();
      const entry = page.locator('#dead-letter-list li').first();
      await expect.poll(() => entry.textContent(), { timeout: 5000 }).toContain('the simulated EC2 API timed out');
      expect(await entry.textContent()).toContain(BROKEN_IMAGE);
      await page.screenshot({ path: `${process.env.EVENTBUS_SCREENSHOTS ?? '/tmp'}/live-graph-dead-letters.png` });
      const href = await entry.locator('a.dead-letter').getAttribute('href');
      const details = await fetch(new URL(href ?? '', new URL('/events/', service.url)));
      expect(details.status).toBe(200);
      expect(await details.json()).toMatchObject({ type: 'ec2.launch.requested', attempt: 2, data: { imageId: BROKEN_IMAGE } });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
