import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDocs } from '../src/docs/generate.js';
import { type Browser, launchChromium } from '../src/testing/chromium.js';
import { chainRegistry } from './docs-fixture-registry.js';

const docs = generateDocs(chainRegistry);
const markdown = docs.files.get('README.md') as string;
const mermaidText = /```mermaid\n([\s\S]*?)```/.exec(markdown)?.[1] ?? '';
const mermaidBundle = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'eventbus-docs-'));
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Mermaid flowchart in the Markdown', () => {
  it('parses with Mermaid itself and renders every event', async () => {
    expect(mermaidText).toContain('flowchart LR');
    const page = await browser.context.newPage();
    try {
      await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
      await page.addScriptTag({ path: mermaidBundle });
      const result = await page.evaluate(async (text) => {
        const mermaid = (globalThis as unknown as { mermaid: { initialize(c: object): void; parse(t: string): Promise<unknown>; render(id: string, t: string): Promise<{ svg: string }> } }).mermaid;
        mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
        try {
          const parsed = await mermaid.parse(text);
          const { svg } = await mermaid.render('graph', text);
          return { ok: true, parsed: Boolean(parsed), svg };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      }, mermaidText);
      expect(result.ok, result.error).toBe(true);
      for (const event of docs.graph.events) expect(result.svg).toContain(event.type);
      // A broken diagram must fail this same check.
      const broken = await page.evaluate(async (text) => {
        const mermaid = (globalThis as unknown as { mermaid: { parse(t: string): Promise<unknown> } }).mermaid;
        return mermaid.parse(text).then(() => 'parsed', (e: unknown) => `rejected: ${String(e)}`);
      }, mermaidText.replace('-->', '-->>{{'));
      expect(broken).toMatch(/^rejected/);
    } finally {
      await page.close();
    }
  }, 60_000);
});

describe('the static HTML page', () => {
  it('opens offline, shows every event, and a click on one shows its schema and neighbours', async () => {
    const file = join(dir, 'index.html');
    writeFileSync(file, docs.files.get('index.html') as string);
    const page = await browser.context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()}`));
    try {
      await page.goto(pathToFileURL(file).href);
      for (const event of docs.graph.events) {
        await expect.poll(() => page.locator(`svg .node.event[data-type="${event.type}"]`).isVisible()).toBe(true);
      }
      expect(await page.locator('.detail:visible').count()).toBe(0);

      await page.locator('svg .node.event[data-type="order.placed"]').click();
      const detail = page.locator('.detail[data-type="order.placed"]');
      await expect.poll(() => detail.isVisible()).toBe(true);
      const schemaFields = await detail.locator('table.schema tbody td:first-child').allInnerTexts();
      expect(schemaFields).toEqual(['orderId', 'lines', 'lines[].sku', 'lines[].quantity', 'total', 'coupon']);
      const text = (await detail.textContent()) ?? '';
      expect(text).toContain('A customer placed an order.');
      expect(text).toContain('POST /orders (entry point)');
      expect(text).toContain('capture-payment (group payments)');
      expect(text).toContain('payment.captured');
      expect(await page.locator('.detail:visible').count()).toBe(1);
      expect(await page.locator('svg .node.selected').getAttribute('data-type')).toBe('order.placed');
      expect(await page.locator('svg .node.near').count()).toBeGreaterThanOrEqual(2);

      // A neighbour link moves the selection along the chain.
      await detail.locator('button.ev[data-select="payment.failed"]').click();
      await expect.poll(() => page.locator('.detail[data-type="payment.failed"]').isVisible()).toBe(true);
      expect(await detail.isVisible()).toBe(false);

      // The search box narrows the list; Enter opens the first match.
      await page.fill('#search', 'retry');
      await expect.poll(() => page.locator('#event-list li:visible').allInnerTexts()).toEqual(['payment.retry.requested']);
      await page.press('#search', 'Enter');
      await expect.poll(() => page.locator('.detail[data-type="payment.retry.requested"]').isVisible()).toBe(true);
      expect(await page.locator('svg .node.event.dim').count()).toBe(docs.graph.events.length - 1);

      await page.screenshot({ path: join(dir, 'page.png') });
      expect(failures).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
