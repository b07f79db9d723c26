import { EVENTS, makeEvent } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';

describe('CORS: Vary on answers that depend on the Origin, and origins compared as browsers serialize them', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
    // Set before any request, so no cached tenant row holds the old list. Written as an operator
    // might type them: upper case, the default port, a trailing slash.
    await t.db.query(`UPDATE analytics_tenants SET cors_origins = $2 WHERE id = $1`, [
      t.tenant.id,
      ['https://Shop.Example.com:443', 'http://localhost:8080/'],
    ]);
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (origin?: string) => t.post(EVENTS, makeEvent(), t.tenant.ingest, origin ? { origin } : {});

  it.each([
    ['https://shop.example.com', 'https://shop.example.com'],
    ['an upper-case scheme and host', 'HTTPS://SHOP.EXAMPLE.COM'],
    ['the default port', 'https://shop.example.com:443'],
    ['a trailing slash', 'https://shop.example.com/'],
    ['a listed non-default port', 'http://localhost:8080'],
  ])('allows %s, echoing the Origin as sent, with Vary: Origin', async (_l, origin) => {
    const res = await post(origin);
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it.each([
    ['another port', 'https://shop.example.com:8443'],
    ['another scheme', 'http://shop.example.com'],
    ['a look-alike host', 'https://shop.example.com.evil.net'],
    ['the listed host without its port', 'http://localhost'],
    ['an opaque origin', 'null'],
  ])('refuses %s with 403 and Vary: Origin', async (_l, origin) => {
    const res = await post(origin);
    expect(res.status).toBe(403);
    expect(res.json).toEqual({
      type: 'https://analytics.dev/problems/origin-forbidden',
      title: 'Forbidden',
      status: 403,
      detail: `Origin ${origin} is not in this tenant's CORS allow-list.`,
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('sends Vary: Origin without an Origin too (the answer a browser caches must not serve a cross-site call)', async () => {
    const res = await post();
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toBe('Origin');
    const report = await t.get('/api/v1/analytics/reports/metrics', t.tenant.report, {
      origin: 'https://shop.example.com',
    });
    expect(report.status).toBe(200);
    expect(report.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(report.headers.get('vary')).toBe('Origin');
  });

  it('answers preflights with Vary: Origin, with or without an Origin', async () => {
    const pre = (headers: Record<string, string>) =>
      request(`${t.url}${EVENTS}`, {
        method: 'OPTIONS',
        headers: { 'access-control-request-method': 'POST', ...headers },
      });
    const withOrigin = await pre({ origin: 'https://anyone.example.org' });
    expect(withOrigin.status).toBe(204);
    expect(withOrigin.headers.get('access-control-allow-origin')).toBe('https://anyone.example.org');
    expect(withOrigin.headers.get('vary')).toBe('Origin');
    const without = await pre({});
    expect(without.status).toBe(204);
    expect(without.headers.get('access-control-allow-origin')).toBeNull();
    expect(without.headers.get('vary')).toBe('Origin');
  });
});
