import { connect, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { generateApiKey } from '../src/modules/auth/api-key';
import { CredentialService } from '../src/modules/auth/credential.service';
import { TenantsRepository } from '../src/modules/auth/tenants.repository';
import { AnalyticsConfig } from '../src/modules/config/analytics-config';
import { PinnedClock, pinClock } from './support/clock';
import { EVENTS, TENANT, makeEvent } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

const SECRET = 'a-dashboard-sso-secret-of-at-least-32-chars';
const ISS = 'https://sso.example.com';
const AUD = 'analytics-dashboards';
const unauthorized = (detail: string) => ({
  type: 'https://analytics.dev/problems/unauthorized',
  title: 'Unauthorized',
  status: 401,
  detail,
});

describe('start-up with JWTs on', () => {
  const base = { NODE_ENV: 'test', ANALYTICS_JWT_SECRET: SECRET };
  it.each([
    [{}, 'ANALYTICS_JWT_ISSUER, ANALYTICS_JWT_AUDIENCE'],
    [{ ANALYTICS_JWT_ISSUER: ISS }, 'ANALYTICS_JWT_AUDIENCE'],
    [{ ANALYTICS_JWT_AUDIENCE: AUD }, 'ANALYTICS_JWT_ISSUER'],
  ])('fails without the issuer and the audience (%j)', (extra, missing) => {
    expect(() => AnalyticsConfig.fromEnvironment({ ...base, ...extra })).toThrow(
      `Invalid configuration: JWTs are accepted (ANALYTICS_JWT_SECRET or ANALYTICS_JWT_JWKS_URL is set), so ANALYTICS_JWT_ISSUER and ANALYTICS_JWT_AUDIENCE must be set too (missing: ${missing})`,
    );
  });

  it('starts with both, and without JWTs at all', () => {
    expect(
      AnalyticsConfig.fromEnvironment({ ...base, ANALYTICS_JWT_ISSUER: ISS, ANALYTICS_JWT_AUDIENCE: AUD }).auth.jwt,
    ).toMatchObject({ issuer: ISS, audience: AUD, maxLifetimeS: 3600 });
    expect(AnalyticsConfig.fromEnvironment({ NODE_ENV: 'test' }).auth.jwt.secret).toBeUndefined();
  });
});

describe('JWT lifetime, issuance time, audience; cross-tenant surfaces take API keys only', () => {
  let t: TestEnv;
  let clock: PinnedClock;
  beforeAll(async () => {
    t = await createTestEnv(
      {
        ANALYTICS_JWT_SECRET: SECRET,
        ANALYTICS_JWT_ISSUER: ISS,
        ANALYTICS_JWT_AUDIENCE: AUD,
        ANALYTICS_JWT_MAX_LIFETIME_S: '600',
      },
      { worker: false },
    );
    clock = pinClock(t.api!);
  });
  afterAll(async () => {
    clock.release();
    await t.close();
  });

  const nowS = () => Math.floor(clock.ms / 1000);
  /** An HS256 token with exactly these registered claims (undefined: left out). */
  const token = (
    claims: { iat?: number; exp?: number; aud?: string },
    body: Record<string, unknown> = { tenant_id: TENANT, scope: 'ingest' },
  ) => {
    const jwt = new SignJWT({ ...body, ...(claims.aud === undefined ? {} : { aud: claims.aud }) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('dash-user')
      .setIssuer(ISS);
    if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
    if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
    return jwt.sign(new TextEncoder().encode(SECRET));
  };
  const valid = (body?: Record<string, unknown>) => token({ iat: nowS(), exp: nowS() + 300, aud: AUD }, body);

  it.each([
    ['without exp', () => token({ iat: nowS(), aud: AUD }), 'The token is not valid: missing required "exp" claim.'],
    [
      'without iat',
      () => token({ exp: nowS() + 60, aud: AUD }),
      'The token is not valid: missing required "iat" claim.',
    ],
    [
      'living longer than ANALYTICS_JWT_MAX_LIFETIME_S',
      () => token({ iat: nowS(), exp: nowS() + 601, aud: AUD }),
      'The token is not valid: it is valid for 601 s (exp − iat); at most 600 s are accepted (ANALYTICS_JWT_MAX_LIFETIME_S).',
    ],
    [
      'with exp 1e300',
      () => token({ iat: nowS(), exp: 1e300, aud: AUD }),
      'The token is not valid: it is valid for 1e+300 s (exp − iat); at most 600 s are accepted (ANALYTICS_JWT_MAX_LIFETIME_S).',
    ],
    [
      'issued a year ahead',
      () => token({ iat: nowS() + 365 * 86400, exp: nowS() + 365 * 86400 + 60, aud: AUD }),
      'The token is not valid: "iat" claim timestamp check failed (it should be in the past).',
    ],
    [
      'issued longer ago than the maximum lifetime',
      () => token({ iat: nowS() - 700, exp: nowS() + 60, aud: AUD }),
      'The token is not valid: "iat" claim timestamp check failed (too far in the past).',
    ],
    [
      'without aud',
      () => token({ iat: nowS(), exp: nowS() + 60 }),
      'The token is not valid: missing required "aud" claim.',
    ],
  ])('refuses a token %s with 401 naming why', async (_l, make, detail) => {
    const res = await t.post(EVENTS, makeEvent(), await make());
    expect([res.status, res.json]).toEqual([401, unauthorized(detail)]);
  });

  it('accepts a token living exactly the maximum, and one issued 5 s ahead (the clock tolerance)', async () => {
    expect((await t.post(EVENTS, makeEvent(), await token({ iat: nowS(), exp: nowS() + 600, aud: AUD }))).status).toBe(
      202,
    );
    expect(
      (await t.post(EVENTS, makeEvent(), await token({ iat: nowS() + 5, exp: nowS() + 65, aud: AUD }))).status,
    ).toBe(202);
    const ahead = await t.post(EVENTS, makeEvent(), await token({ iat: nowS() + 6, exp: nowS() + 66, aud: AUD }));
    expect(ahead.json.detail).toBe(
      'The token is not valid: "iat" claim timestamp check failed (it should be in the past).',
    );
  });

  it("refuses an operator's admin JWT at Bull Board, and lets its API key in", async () => {
    const jwt = await valid({ tenant_id: t.operator.id, scope: 'admin' });
    const board = await t.get('/admin/queues/api/queues', jwt);
    expect([board.status, board.json]).toEqual([
      403,
      {
        type: 'https://analytics.dev/problems/forbidden',
        title: 'Forbidden',
        status: 403,
        detail:
          "The queue dashboard shows every tenant's jobs: it takes an admin API key of an operator tenant, not a JWT.",
      },
    ]);
    expect((await t.get('/admin/queues/api/queues', t.operator.admin)).status).toBe(200);
  });

  it("refuses an operator's JWT another tenant's stats and the service-wide figures; its API key has both", async () => {
    const jwt = await valid({ tenant_id: t.operator.id, scope: 'admin' });
    const foreign = await t.get(`/api/v1/analytics/stats?tenantId=${TENANT}`, jwt);
    expect([foreign.status, foreign.json]).toEqual([
      403,
      {
        type: 'https://analytics.dev/problems/tenant-forbidden',
        title: 'Forbidden',
        status: 403,
        detail: `Only an operator's API key may name another tenant than its own (${TENANT}); a JWT reaches its own tenant only.`,
      },
    ]);
    const own = await t.get('/api/v1/analytics/stats', jwt);
    expect(own.status).toBe(200);
    expect(own.json.tenant_id).toBe(t.operator.id);
    expect(own.json.service).toBeUndefined();
    const byKey = await t.get(`/api/v1/analytics/stats?tenantId=${TENANT}`, t.operator.admin);
    expect(byKey.status).toBe(200);
    expect(byKey.json.tenant_id).toBe(TENANT);
    expect(byKey.json.service).toBeDefined();
  });
});

describe('the Authorization header carries exactly one token', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers "Bearer <key> junk" with 401 on the ingest route, Nest routes and Bull Board', async () => {
    const detail = 'The Authorization header must be "Bearer <credential>" with exactly one token; it carries 2.';
    const ingest = await t.post(EVENTS, makeEvent(), null, { authorization: `Bearer ${t.tenant.ingest} junk` });
    expect([ingest.status, ingest.json]).toEqual([401, unauthorized(detail)]);
    expect(ingest.headers.get('www-authenticate')).toBe('Bearer realm="analytics"');
    const stats = await t.get('/api/v1/analytics/stats', null, { authorization: `Bearer ${t.tenant.admin} x` });
    expect([stats.status, stats.json]).toEqual([401, unauthorized(detail)]);
    const board = await t.get('/admin/queues/api/queues', null, { authorization: `Bearer ${t.operator.admin} x` });
    expect([board.status, board.json]).toEqual([401, unauthorized(detail)]);
    // The same key alone, and with surrounding whitespace, is accepted.
    expect((await t.post(EVENTS, makeEvent(), null, { authorization: `  Bearer   ${t.tenant.ingest} ` })).status).toBe(
      202,
    );
  });
});

describe('failed authentications: negative cache and a throttle per client address', () => {
  let t: TestEnv;
  let clock: PinnedClock;
  let findKey: jest.SpyInstance;
  beforeAll(async () => {
    // The 10,001 lookups below run on microtasks and hold back every timer: with the default
    // keep-alive, the server would close the test's idle connection just as the next request
    // reuses it. A keep-alive longer than the test keeps that race out.
    t = await createTestEnv(
      { ANALYTICS_AUTH_FAILURES_PER_MIN: '5', ANALYTICS_HTTP_KEEP_ALIVE_TIMEOUT_MS: '600000' },
      { worker: false },
    );
    clock = pinClock(t.api!);
    findKey = jest.spyOn(t.api!.get(TenantsRepository), 'findKey');
  });
  afterAll(async () => {
    findKey.mockRestore();
    clock.release();
    await t.close();
  });
  beforeEach(() => findKey.mockClear());

  const send = (key: string) => t.post(EVENTS, makeEvent(), key);

  it('reads an unknown key id from Postgres once, then answers it from memory', async () => {
    const unknown = generateApiKey().key;
    for (let i = 0; i < 3; i++) {
      const res = await send(unknown);
      expect([res.status, res.json]).toEqual([401, unauthorized('The API key is not valid.')]);
    }
    expect(findKey).toHaveBeenCalledTimes(1);
    clock.advance(60_000); // past the negative cache's 30 s, and the failures have refilled
  });

  it('after ANALYTICS_AUTH_FAILURES_PER_MIN failures, refuses unknown ids with 429 before any lookup; known keys still pass', async () => {
    expect((await send(t.tenant.ingest)).status).toBe(202); // this instance now knows the key
    findKey.mockClear();
    for (let i = 0; i < 5; i++) expect((await send(generateApiKey().key)).status).toBe(401);
    expect(findKey).toHaveBeenCalledTimes(5);
    const throttled = await send(generateApiKey().key);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('12');
    expect(throttled.json).toEqual({
      type: 'https://analytics.dev/problems/auth-throttled',
      title: 'Too many failed authentications',
      status: 429,
      detail:
        'Too many failed authentications from this address (more than 5 a minute, ANALYTICS_AUTH_FAILURES_PER_MIN): credentials this instance does not know are not checked for now. Retry after 12 s.',
    });
    expect(findKey).toHaveBeenCalledTimes(5);
    // A key this instance knows is read again once its cache entry is stale, and still accepted.
    clock.advance(t.config.auth.keyCacheMs + 1);
    expect((await send(t.tenant.ingest)).status).toBe(202);
    expect(findKey).toHaveBeenCalledTimes(6);
    // 12 s later one more failure may be checked.
    clock.advance(12_000);
    expect((await send(generateApiKey().key)).status).toBe(401);
    expect((await send(generateApiKey().key)).status).toBe(429);
    expect(findKey).toHaveBeenCalledTimes(7);
  });

  it('keeps unknown ids apart: 10,001 of them do not push a real key out of the cache', async () => {
    clock.advance(60_000);
    const credentials = t.api!.get(CredentialService);
    expect((await send(t.tenant.admin)).status).toBe(202); // this instance now knows the key
    findKey.mockClear();
    findKey.mockResolvedValue(null); // the ids are random: spare Postgres 10,001 reads that all answer none
    for (let i = 0; i < 10_001; i++) {
      await expect(credentials.resolve(generateApiKey().key)).rejects.toThrow('The API key is not valid.');
    }
    expect(findKey).toHaveBeenCalledTimes(10_001);
    findKey.mockReset();
    findKey.mockClear();
    expect((await send(t.tenant.admin)).status).toBe(202);
    expect(findKey).toHaveBeenCalledTimes(0);
  });
});

describe('slow clients and the key checked before the body', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv(
      { ANALYTICS_HTTP_HEADERS_TIMEOUT_MS: '500', ANALYTICS_HTTP_REQUEST_TIMEOUT_MS: '500' },
      { worker: false },
    );
  });
  afterAll(async () => {
    await t.close();
  });

  /** Opens a raw connection, writes `head`, then whatever `drip` writes; resolves with all it read once the server closed it. */
  const raw = (head: string, drip?: (s: Socket) => void, untilResponse = false) =>
    new Promise<string>((resolve, reject) => {
      const { port } = new URL(t.url);
      const s = connect(Number(port), '127.0.0.1', () => {
        s.write(head);
        drip?.(s);
      });
      let read = '';
      s.on('data', (d) => {
        read += d.toString('utf8');
        // A complete answer with a body of Content-Length bytes: enough for a test that does not wait for the close.
        const m = /\r\n\r\n/.exec(read);
        const length = /content-length: (\d+)/i.exec(read);
        if (untilResponse && m && length && read.length >= m.index + 4 + Number(length[1])) {
          s.destroy();
          resolve(read);
        }
      });
      s.on('error', reject);
      s.on('close', () => resolve(read));
    });
  const head = (key: string, length: number) =>
    `POST ${EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${length}\r\n\r\n`;

  it('answers 408 and closes a connection whose body drips in past ANALYTICS_HTTP_REQUEST_TIMEOUT_MS', async () => {
    let timer: NodeJS.Timeout | undefined;
    const answer = await raw(head(t.tenant.ingest, 1000), (s) => {
      timer = setInterval(() => s.writable && s.write('{'), 100);
    });
    clearInterval(timer);
    expect(answer).toBe('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  });

  it('answers 408 and closes a connection whose headers never end', async () => {
    const answer = await raw(`POST ${EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    expect(answer).toBe('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  });

  it('answers a bad key with 401 before any of the body is sent', async () => {
    const answer = await raw(head(`ak_${'0'.repeat(12)}_${'A'.repeat(43)}`, 1000), undefined, true);
    expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual(unauthorized('The API key is not valid.'));
  });

  it('still reads the body of a request with a good key, and answers it', async () => {
    const body = JSON.stringify(makeEvent({ event_id: randomUUID() }));
    const answer = await raw(head(t.tenant.ingest, Buffer.byteLength(body)) + body, undefined, true);
    expect(answer).toMatch(/^HTTP\/1\.1 202 Accepted\r\n/);
  });
});
