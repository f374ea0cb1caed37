// The generated page fits its graph to the window: every node inside the viewport, no horizontal
// scrollbar, at a normal width and a narrow one; zoom and "fit" work. In Chromium (Debian's `chromium`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ec2Entry from '../../ec2-handlers/src/event-graph.js';
import { generateDocs } from '../src/docs/generate.js';
import { registryFromModule } from '../src/graph/describe-app.js';
import { type Browser, launchChromium } from '../src/testing/chromium.js';
import { chainRegistry } from './docs-fixture-registry.js';

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'eventbus-docs-fit-'));
const shots = process.env.EVENTBUS_SCREENSHOTS ?? dir;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Box {
  key: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}
interface Measure {
  boxes: Box[];
  view: Box;
  window: { width: number; height: number };
  mainScrollsSideways: boolean;
  pageScrollsSideways: boolean;
  graphWidth: number;
}

// Run in the page as source text: this package's TypeScript has no DOM types.
const MEASURE = `(() => {
  const box = (el, key) => { const r = el.getBoundingClientRect(); return { key, left: r.left, top: r.top, right: r.right, bottom: r.bottom }; };
  const main = document.querySelector('main');
  return {
    boxes: [...document.querySelectorAll('svg .node')].map((n) => box(n, n.getAttribute('data-key'))),
    view: box(main, 'main'),
    window: { width: innerWidth, height: innerHeight },
    mainScrollsSideways: main.scrollWidth > main.clientWidth,
    pageScrollsSideways: document.documentElement.scrollWidth > innerWidth,
    graphWidth: Number(document.getElementById('graph').getAttribute('width')),
  };
})()`;

/** Every node's box against the viewport, and whether anything scrolls sideways. */
const measure = async (page: Page): Promise<Measure> => (await page.evaluate(MEASURE)) as Measure;

const pages = [
  ['the reference service', async () => generateDocs(await registryFromModule(ec2Entry as Record<string, unknown>, { title: 'EC2 launch service' }))],
  ['the docs fixture (a cycle, findings)', async () => generateDocs(chainRegistry)],
] as const;

describe('the generated page fits the graph to the window', () => {
  for (const [name, docsOf] of pages) {
    for (const [width, height] of [
      [1400, 900],
      [760, 900],
    ] as const) {
      it(`${name} at ${width} × ${height}: every node inside the graph's view, no horizontal scrollbar`, async () => {
        const docs = await docsOf();
        const file = join(dir, `${name.replace(/\W+/g, '-')}.html`);
        writeFileSync(file, docs.files.get('index.html') as string);
        const page = await browser.context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        try {
          await page.setViewportSize({ width, height });
          await page.goto(pathToFileURL(file).href);
          const m = await measure(page);
          expect(m.boxes.length).toBe(docs.graph.events.length + docs.graph.handlers.length + docs.graph.publishers.length);
          for (const b of m.boxes) {
            expect(b.left, `${b.key} left`).toBeGreaterThanOrEqual(m.view.left);
            expect(b.right, `${b.key} right`).toBeLessThanOrEqual(m.view.right);
            expect(b.top, `${b.key} top`).toBeGreaterThanOrEqual(m.view.top);
            expect(b.bottom, `${b.key} bottom`).toBeLessThanOrEqual(m.view.bottom);
            expect(b.right, `${b.key} in the window`).toBeLessThanOrEqual(m.window.width);
          }
          expect(m.mainScrollsSideways).toBe(false);
          expect(m.pageScrollsSideways).toBe(false);
          await page.screenshot({ path: join(shots, `fit-${name.replace(/\W+/g, '-')}-${width}.png`), fullPage: true });

          // Zoom in: the graph grows past the view (a scrollbar to pan with); "fit" brings it back.
          await page.click('#view-tools button[data-zoom="in"]');
          await page.click('#view-tools button[data-zoom="in"]');
          await page.click('#view-tools button[data-zoom="in"]');
          await expect.poll(async () => (await measure(page)).graphWidth).toBeGreaterThan(m.graphWidth * 1.9);
          // Dragging the background pans (scrolls the view).
          const view = m.view;
          await page.mouse.move(view.left + 6, view.bottom - 20);
          await page.mouse.down();
          await page.mouse.move(view.left + 6 - 120, view.bottom - 20 - 80, { steps: 4 });
          await page.mouse.up();
          const scrolled = (await page.evaluate(`[document.querySelector('main').scrollLeft, document.querySelector('main').scrollTop]`)) as number[];
          expect(scrolled[0]).toBeGreaterThan(0);
          await page.click('#view-tools button[data-zoom="fit"]');
          await expect.poll(async () => (await measure(page)).graphWidth).toBe(m.graphWidth);

          // Ctrl + wheel (a touchpad pinch arrives as one) zooms; a plain wheel does not.
          await page.mouse.move((view.left + view.right) / 2, (view.top + view.bottom) / 2);
          await page.mouse.wheel(0, 100);
          expect((await measure(page)).graphWidth).toBe(m.graphWidth);
          await page.keyboard.down('Control');
          await page.mouse.wheel(0, -300);
          await page.keyboard.up('Control');
          await expect.poll(async () => (await measure(page)).graphWidth).toBeGreaterThan(m.graphWidth * 1.5);
          expect(errors).toEqual([]);
        } finally {
          await page.close();
        }
      }, 60_000);
    }
  }
});
