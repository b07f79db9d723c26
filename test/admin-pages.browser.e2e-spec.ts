import { join } from 'node:path';
import { Browser, BrowserContext, Page, Response, chromium } from 'playwright-core';
import { ADMIN_PAGES_CSP } from '../src/modules/auth/admin-pages.middleware';
import { CHROMIUM_ARGS } from './support/browser';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * The service's pages in headless Chromium (the system's /usr/bin/chromium): each renders and makes
 * no request outside the service. ADMIN_PAGES_SCREENSHOTS=<dir> saves a screenshot of each page.
 */
const WAIT_MS = 30_000;

interface Visit {
  page: Page;
  response: Response;
  /** Every URL the page requested, in order. */
  requests: string[];
  /** Console errors about the Content-Security-Policy, and uncaught page errors. */
  problems: string[];
}

describe('Bull Board and Swagger UI in a browser', () => {
  let t: TestEnv;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    t = await createTestEnv();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: WAIT_MS });
  }, 120_000);
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
  });

  /** Opens a page as a browser would: Basic credentials (the operator's admin key) given when asked. */
  async function visit(path: string): Promise<Visit> {
    const context = await browser.newContext({
      httpCredentials: { username: 'operator', password: t.operator.admin, origin: t.url },
      serviceWorkers: 'block',
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' && /content security policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const response = await page.goto(`${t.url}${path}`, { timeout: WAIT_MS });
    if (!response) throw new Error(`no answer for ${path}`);
    return { page, response, requests, problems };
  }

  const outside = (requests: string[]) =>
    requests.filter((url) => !/^(data|blob):/.test(url) && new URL(url).origin !== new URL(t.url).origin);

  async function screenshot(page: Page, name: string): Promise<void> {
    const dir = process.env.ADMIN_PAGES_SCREENSHOTS;
    if (dir) await page.screenshot({ path: join(dir, name), fullPage: true });
  }

  it('the pages’ policy names no origin but the service’s own', () => {
    const sources = ADMIN_PAGES_CSP.split(';').flatMap((directive) => directive.trim().split(/\s+/).slice(1));
    expect(ADMIN_PAGES_CSP).toMatch(/^default-src 'self'(;|$)/);
    expect(sources.filter((s) => !["'self'", "'none'", "'unsafe-inline'", 'data:'].includes(s))).toEqual([]);
  });

  it('Bull Board renders the queues, asks nothing of another origin, and is sent with the policy', async () => {
    const { page, response, requests, problems } = await visit('/admin/queues');
    expect(response.status()).toBe(200);
    expect(response.headers()['content-security-policy']).toBe(ADMIN_PAGES_CSP);

    // The queue cards come from the board's API: shown, the page has loaded and rendered its data.
    const cards = page.getByRole('main');
    for (const queue of ['ingest', 'maintenance'])
      await cards.getByRole('link', { name: queue, exact: true }).waitFor({ state: 'visible' });
    expect(requests).toContainEqual(expect.stringContaining('/admin/queues/api/queues'));
    await screenshot(page, 'bullboard.png');

    expect(outside(requests)).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);

  it('Swagger UI renders the API, asks nothing of another origin, and is sent with the policy', async () => {
    const { page, response, requests, problems } = await visit('/api/docs');
    expect(response.status()).toBe(200);
    expect(response.headers()['content-security-policy']).toBe(ADMIN_PAGES_CSP);

    await page.locator('.swagger-ui .info .title', { hasText: 'Analytics service' }).waitFor({ state: 'visible' });
    await page
      .locator('.opblock-summary-path[data-path="/api/v1/analytics/events/batch"]')
      .waitFor({ state: 'visible' });
    await screenshot(page, 'docs.png');

    expect(outside(requests)).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);
});
