import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { gatewayOpenApiDocument } from '../../src/modules/docs/docs.routes';
import { startTestGateway, type TestGateway } from '../support/harness';

const outputDir = path.resolve(__dirname, '../../.test-output');

/** Chromium from Debian's package; .ci/run installs it when missing. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

describe('API docs', () => {
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('serves the generated OpenAPI document at /openapi.json without a key', async () => {
    const response = await gw.request('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual(gatewayOpenApiDocument());
    // A wrong credential does not matter either: the route is outside consumer and admin auth.
    expect((await gw.request('GET', '/openapi.json', { key: 'sk-gw-not-a-key' })).status).toBe(200);
  });

  it('serves /docs as a self-contained page that may load nothing from anywhere', async () => {
    const response = await fetch(`${gw.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|@import|url\(/i);
  });

  it('renders every operation in headless Chromium with no network', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const outside: string[] = [];
    const problems: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${gw.url}/`)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });

    await page.goto(`${gw.url}/docs`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });

    const shown = await page.$$eval('section.op[data-search] h3', (headings) =>
      headings.map((h) => `${h.querySelector('.method')?.textContent} ${h.querySelector('code')?.textContent}`));
    const document = gatewayOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
    expect(shown.sort()).toEqual(documented.sort());
    expect(shown).toContain('POST /v1/videos');

    const video = page.locator('section.op', { hasText: '/v1/videos' }).first();
    await expect(video.textContent()).resolves.toMatch(/Request body[\s\S]*prompt[\s\S]*402[\s\S]*insufficient_credits/);

    await page.fill('#filter', 'music');
    const visible = await page.$$eval('section.op[data-search]:not(.hidden) h3 code', (codes) => codes.map((c) => c.textContent));
    expect(visible).toEqual(['/v1/music/generations']);
    await page.fill('#filter', '');

    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: path.join(outputDir, 'docs.png') });
    await context.close();

    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  });
});
