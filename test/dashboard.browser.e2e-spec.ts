import { join } from 'node:path';
import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { DASHBOARD_CSP } from '../src/modules/dashboard/dashboard-page';
import { DASHBOARD_PANELS } from '../src/modules/dashboard/dashboard-panels';
import { CHROMIUM_ARGS } from './support/browser';
import { dashboardSeed } from './support/dashboard-seed';
import { BATCH, TENANT, makeEvent, waitFor } from './support/events';
import { settled } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * The dashboard in headless Chromium (the system's /usr/bin/chromium) against the real api and
 * worker: every panel renders the seeded tenant's data, the page asks nothing of another origin
 * and logs no error, and the live counter follows events as they are stored.
 * DASHBOARD_SCREENSHOTS=<dir> saves screenshots (docs/images holds the README's).
 */
const WAIT_MS = 30_000;

describe('the dashboard page in a browser', () => {
  let t: TestEnv;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_REPORT_TENANT_CONCURRENCY: '2' });
    const events = dashboardSeed(TENANT, 160);
    for (let i = 0; i < events.length; i += 500) {
      const res = await t.post(BATCH, { events: events.slice(i, i + 500) });
      expect(res.status).toBe(202);
      expect(
        res.json.results
          .filter((r: any) => r.errors)
          .map((r: any) => r.errors[0].message)
          .slice(0, 3),
      ).toEqual([]);
    }
    await settled(t, 60_000);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: WAIT_MS });
    context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400)
        void r.text().then((body) => problems.push(`${r.status()} ${r.request().postData() ?? r.url()}: ${body}`));
    });
  }, 180_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  async function screenshot(name: string): Promise<void> {
    const dir = process.env.DASHBOARD_SCREENSHOTS;
    if (dir) await page.screenshot({ path: join(dir, name), fullPage: true });
  }

  it('asks for the report key once, then renders every panel with the seeded data', async () => {
    const response = await page.goto(`${t.url}/dashboard`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-security-policy']).toBe(DASHBOARD_CSP);
    await page.locator('#key').fill(t.tenant.report);
    await page.locator('#login button').click();
    for (const spec of DASHBOARD_PANELS) {
      const panel = page.locator(`[data-panel="${spec.id}"]`);
      await panel.and(page.locator('[data-state="ready"]')).waitFor();
      if (spec.kind === 'series') {
        expect(Number(await panel.getAttribute('data-points'))).toBeGreaterThan(0);
        expect(await panel.getAttribute('data-value')).not.toBe('null');
        await panel.locator('canvas').first().waitFor();
      } else if (spec.kind === 'waterfall') {
        // 160 sessions of 3 turns, each with endpoint, transcript, first token, first byte and end to end
        expect(await panel.getAttribute('data-value')).toBe('480');
        expect(await panel.locator('.waterfall-stage .funnel-label').allTextContents()).toEqual([
          'endpoint',
          'stt_final',
          'llm_ttft',
          'tts_ttfb',
          'e2e',
        ]);
      } else if (spec.kind === 'funnel') {
        expect(Number(await panel.getAttribute('data-points'))).toBe(160);
        expect(await panel.locator('.funnel-step').count()).toBe(spec.steps.length);
      }
      expect(await panel.locator('.note').textContent()).toBe('');
    }
    await expect(page.locator('#tenant').textContent()).resolves.toContain(TENANT);
    await screenshot('dashboard.png');
  });

  it('moves the live counter within 2 s of 100 events ingested', async () => {
    const live = page.locator('[data-panel="live-events"]');
    const before = Number(await live.getAttribute('data-total'));
    const started = Date.now();
    const res = await t.post(BATCH, { events: Array.from({ length: 100 }, () => makeEvent()) });
    expect(res.json.accepted).toBe(100);
    await waitFor(
      'the live counter to count the 100 events',
      async () => Number(await live.getAttribute('data-total')) === before + 100,
      WAIT_MS,
      20,
    );
    const elapsed = Date.now() - started;
    process.stdout.write(`live counter moved ${elapsed} ms after the 100 events were sent\n`);
    expect(elapsed).toBeLessThanOrEqual(2000);
    await screenshot('dashboard-live.png');
  });

  it('re-reads the panels for another source and grain', async () => {
    await page.locator('#source').selectOption('web');
    await page.locator('#grain').selectOption('15m');
    const panel = page.locator('[data-panel="voice-first-response"]');
    // Each panel says which pickers its data was read with (range|grain|site|source).
    await panel.and(page.locator('[data-query="6h|15m||web"][data-state="ready"]')).waitFor();
    await panel.locator('canvas').first().waitFor();
    expect(Number(await panel.getAttribute('data-points'))).toBeGreaterThan(0);
    // The funnel of the web sessions only: every third seeded session (s % 3 === 0) of 160.
    const funnel = page.locator('[data-panel="commerce-funnel"]');
    await funnel.and(page.locator('[data-query="6h|15m||web"][data-state="ready"]')).waitFor();
    expect(Number(await funnel.getAttribute('data-points'))).toBe(54);
  });

  it('keeps the key for this tab only, makes no request to another origin, and logs no error', async () => {
    const storage = await page.evaluate(() => ({
      session: (globalThis as any).sessionStorage.getItem('analytics.reportKey'),
      local: (globalThis as any).localStorage.length,
    }));
    expect(storage).toEqual({ session: t.tenant.report, local: 0 });
    // Another tab of the same browser profile asks again.
    const other = await context.newPage();
    await other.goto(`${t.url}/dashboard`);
    await other.locator('#key').waitFor({ state: 'visible' });
    await other.close();
    const origin = new URL(t.url).origin;
    const outside = requests.filter((url) => !/^(data|blob):/.test(url) && new URL(url).origin !== origin);
    expect(outside).toEqual([]);
    // No request carries the report key in its URL.
    expect(requests.filter((url) => url.includes(t.tenant.report))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
