import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { waitFor } from './support/events';
import { CHROMIUM_ARGS } from './support/browser';
import { createTestEnv, TestEnv } from './support/test-env';

const ROOT = join(__dirname, '..');
const WAIT_MS = 30_000;
const SITE = '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31';

/**
 * The SDK in headless Chromium, as a page loads it: its ES modules as compiled, unbundled (so any
 * Node-only import would fail to load), openapi-fetch from its own package, talking to the service
 * cross-origin under the tenant's CORS allow-list; verdicts come back to the page, and what is still
 * buffered when the page goes away is sent with fetch keepalive and stored.
 */
describe('the SDK in a browser', () => {
  let t: TestEnv;
  let browser: Browser;
  let site: Server;
  let siteUrl = '';
  let built = '';

  beforeAll(async () => {
    t = await createTestEnv();
    built = mkdtempSync(join(tmpdir(), 'sdk-esm-'));
    const tsc = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      [
        '-p',
        join(ROOT, 'sdk', 'tsconfig.build.json'),
        '--module',
        'es2022',
        '--moduleResolution',
        'bundler',
        '--declaration',
        'false',
        '--outDir',
        built,
      ],
      { encoding: 'utf8' },
    );
    expect({ status: tsc.status, out: tsc.stdout }).toEqual({ status: 0, out: '' });
    const page = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>
      <script type="importmap">{"imports": {"openapi-fetch": "/vendor/openapi-fetch.mjs"}}</script>
      <script type="module">
        import { createAnalyticsClient } from '/sdk/index.js';
        window.startAnalytics = (options) => {
          window.verdicts = [];
          window.analytics = createAnalyticsClient({
            ...options,
            batch: { lingerMs: 3600000 },
            onVerdict: (v) => window.verdicts.push(v.status),
          });
        };
        window.ready = true;
      </script></head><body>shop</body></html>`;
    site = createServer((req, res) => {
      const url = req.url ?? '/';
      const file = url.startsWith('/sdk/')
        ? join(built, normalize(url.slice('/sdk/'.length)).replace(/^(\.\.[/\\])+/, ''))
        : url === '/vendor/openapi-fetch.mjs'
          ? join(ROOT, 'node_modules', 'openapi-fetch', 'dist', 'index.mjs')
          : null;
      if (url === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      } else if (file) {
        try {
          res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
        } catch {
          res.writeHead(404).end();
        }
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
    // The page's origin is another port than the service's: a cross-origin client, allowed by the tenant.
    await t.db.query('UPDATE analytics_tenants SET cors_origins = $2 WHERE id = $1', [t.tenant.id, [siteUrl]]);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: WAIT_MS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    site?.close();
    if (built) rmSync(built, { recursive: true, force: true });
    await t?.close();
  });

  it('tracks from a page, delivers verdicts, and sends the buffer with keepalive when the page goes', async () => {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(siteUrl);
    await page.waitForFunction(() => (globalThis as any).ready === true);
    await page.evaluate((o) => (globalThis as any).startAnalytics(o), {
      baseUrl: t.url,
      apiKey: t.tenant.ingest,
      tenantId: t.tenant.id,
    });
    const first = await page.evaluate(
      async ([tenant, siteId]) => {
        const a = (globalThis as any).analytics;
        const views = [1, 2].map((i) => a.trackProductView(tenant, siteId, `sku-${i}`, { price: 10, currency: 'EUR' }));
        await a.flush();
        return Promise.all(views);
      },
      [t.tenant.id, SITE],
    );
    expect(first.map((v: { status: string }) => v.status)).toEqual(['accepted', 'accepted']);
    // Three more wait in the buffer (the linger is an hour); the page goes away.
    await page.evaluate(() => {
      const a = (globalThis as any).analytics;
      for (let i = 3; i <= 5; i++)
        a.track({ event_name: 'commerce.view', attributes: { 'commerce.item_id': `sku-${i}` } });
    });
    await page.goto('about:blank');
    await waitFor(
      '5 stored events',
      async () => (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n === 5,
      30_000,
    );
    const rows = (
      await t.db.query(`SELECT attributes->>'commerce.item_id' AS item, source FROM analytics_events_raw ORDER BY 1`)
    ).rows;
    expect(rows).toEqual([1, 2, 3, 4, 5].map((i) => ({ item: `sku-${i}`, source: 'web' })));
    expect(errors).toEqual([]);
    await context.close();
  });
});
