import { createServer, Server } from 'node:http';
import { exportJWK, generateKeyPair, KeyLike, SignJWT } from 'jose';
import { EVENTS, TENANT, makeEvent } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

const SECRET = 'a-dashboard-sso-secret-of-at-least-32-chars';

describe('JWT credentials for dashboards behind single sign-on', () => {
  let t: TestEnv;
  let jwks: Server;
  let privateKey: KeyLike;
  let otherKey: KeyLike;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) =>
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const port = (jwks.address() as { port: number }).port;
    t = await createTestEnv(
      {
        ANALYTICS_JWT_SECRET: SECRET,
        ANALYTICS_JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        ANALYTICS_JWT_ISSUER: 'https://sso.example.com',
        ANALYTICS_JWT_AUDIENCE: 'analytics-dashboards',
      },
      { worker: false },
    );
  });
  afterAll(async () => {
    await t.close();
    await new Promise((r) => jwks.close(r));
  });

  const hs = (claims: Record<string, unknown>, opts: { exp?: string; iss?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('dash-user-1')
      .setIssuer(opts.iss ?? 'https://sso.example.com')
      .setAudience('analytics-dashboards')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(new TextEncoder().encode(SECRET));
  const rs = (claims: Record<string, unknown>, key = privateKey) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('dash-user-2')
      .setIssuer('https://sso.example.com')
      .setAudience('analytics-dashboards')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('accepts an HS256 token carrying tenant_id and scope', async () => {
    const token = await hs({ tenant_id: TENANT, scope: 'ingest report' });
    expect((await t.post(EVENTS, makeEvent(), token)).status).toBe(202);
    expect(
      (await t.get('/api/v1/analytics/stats', await hs({ tenant_id: TENANT, scope: 'admin' }))).json.tenant_id,
    ).toBe(TENANT);
  });

  it('accepts an RS256 token verified against the JWKS URL', async () => {
    expect((await t.post(EVENTS, makeEvent(), await rs({ tenant_id: TENANT, scope: ['ingest'] }))).status).toBe(202);
  });

  it.each([
    [
      'expired',
      () => hs({ tenant_id: TENANT, scope: 'ingest' }, { exp: '-10m' }),
      /^The token is not valid: "exp" claim timestamp check failed/,
    ],
    [
      'from another issuer',
      () => hs({ tenant_id: TENANT, scope: 'ingest' }, { iss: 'https://evil' }),
      /unexpected "iss" claim value/,
    ],
    [
      'signed by an unknown RSA key',
      () => rs({ tenant_id: TENANT, scope: 'ingest' }, otherKey),
      /signature verification failed/,
    ],
    ['without tenant_id', () => hs({ scope: 'ingest' }), /^The token has no tenant_id claim/],
    [
      'naming an unknown tenant',
      () => hs({ tenant_id: '99999999-9999-4999-8999-999999999999', scope: 'ingest' }),
      /^The token names a tenant that does not exist/,
    ],
    [
      'with no known scope',
      () => hs({ tenant_id: TENANT, scope: 'write' }),
      /scope claim names none of ingest, report, admin/,
    ],
    [
      'unsigned (alg none)',
      () =>
        Promise.resolve(
          `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: TENANT, scope: 'ingest' })).toString('base64url')}.`,
        ),
      /tokens signed with none are not accepted/,
    ],
  ])('refuses a token %s with 401 and the reason', async (_l, make, reason) => {
    const res = await t.post(EVENTS, makeEvent(), await make());
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(reason);
  });

  it('holds a token to its scope and its tenant', async () => {
    expect((await t.post(EVENTS, makeEvent(), await hs({ tenant_id: TENANT, scope: 'report' }))).status).toBe(403);
    const foreign = await t.post(
      EVENTS,
      makeEvent({ tenant_id: t.other.id }),
      await hs({ tenant_id: TENANT, scope: 'ingest' }),
    );
    expect(foreign.json.errors[0]).toMatchObject({ pointer: '/tenant_id', keyword: 'tenant' });
    expect(
      (await t.get(`/api/v1/analytics/stats?tenantId=${t.other.id}`, await hs({ tenant_id: TENANT, scope: 'admin' })))
        .status,
    ).toBe(403);
  });
});

describe('JWT time claims, audience and a JWKS that goes down or rotates', () => {
  const AUD = 'analytics-dashboards';
  let t: TestEnv;
  let jwks: Server;
  let mode: 'ok' | '500' | 'reset' | 'not-json' = 'ok';
  let served: Record<string, unknown>[] = [];
  let fetches = 0;
  const keys: Record<string, KeyLike> = {};

  beforeAll(async () => {
    for (const kid of ['old', 'new']) {
      const pair = await generateKeyPair('RS256');
      keys[kid] = pair.privateKey;
      keys[`${kid}-public`] = pair.publicKey;
    }
    jwks = createServer((req, res) => {
      fetches++;
      if (mode === 'reset') return req.socket.destroy();
      if (mode === '500') return res.writeHead(500).end('upstream down');
      if (mode === 'not-json') return res.setHeader('content-type', 'text/html').end('<html>maintenance</html>');
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const port = (jwks.address() as { port: number }).port;
    t = await createTestEnv(
      {
        ANALYTICS_JWT_SECRET: SECRET,
        ANALYTICS_JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        ANALYTICS_JWT_ISSUER: 'https://sso.example.com',
        ANALYTICS_JWT_AUDIENCE: AUD,
      },
      { worker: false },
    );
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t.close();
    await new Promise((r) => jwks.close(r));
  });

  const publicJwk = async (kid: string) => ({
    ...(await exportJWK(keys[`${kid}-public`])),
    kid,
    alg: 'RS256',
    use: 'sig',
  });
  const nowS = () => Math.floor(Date.now() / 1000);
  /** An HS256 token with these registered claims (seconds since the epoch) and the tenant's ingest scope. */
  const hsAt = (claims: { exp?: number; nbf?: number; aud?: string }) =>
    new SignJWT({ tenant_id: TENANT, scope: 'ingest', aud: claims.aud ?? AUD })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('dash-user-3')
      .setIssuer('https://sso.example.com')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? nowS() + 300)
      .setNotBefore(claims.nbf ?? nowS() - 60)
      .sign(new TextEncoder().encode(SECRET));
  const rsWith = (kid: string) =>
    new SignJWT({ tenant_id: TENANT, scope: 'ingest' })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject('dash-user-4')
      .setIssuer('https://sso.example.com')
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(keys[kid]);
  const send = async (token: string) => t.post(EVENTS, makeEvent(), token);

  it('refuses a token whose nbf is in the future, and one for another audience', async () => {
    const early = await send(await hsAt({ nbf: nowS() + 60 }));
    expect(early.status).toBe(401);
    expect(early.json.detail).toBe('The token is not valid: "nbf" claim timestamp check failed.');
    const foreign = await send(await hsAt({ aud: 'billing' }));
    expect(foreign.status).toBe(401);
    expect(foreign.json.detail).toBe('The token is not valid: unexpected "aud" claim value.');
    expect(foreign.headers.get('www-authenticate')).toBe('Bearer realm="analytics"');
    expect((await send(await hsAt({}))).status).toBe(202);
  });

  it('tolerates 5 s of clock skew on exp and nbf, and no more', async () => {
    // 2 s inside the tolerance, and 3 s beyond it: margins a slow machine cannot cross.
    expect((await send(await hsAt({ exp: nowS() - 2 }))).status).toBe(202);
    expect((await send(await hsAt({ nbf: nowS() + 2 }))).status).toBe(202);
    const expired = await send(await hsAt({ exp: nowS() - 8 }));
    expect(expired.status).toBe(401);
    expect(expired.json.detail).toBe('The token is not valid: "exp" claim timestamp check failed.');
    const early = await send(await hsAt({ nbf: nowS() + 8 }));
    expect(early.status).toBe(401);
    expect(early.json.detail).toBe('The token is not valid: "nbf" claim timestamp check failed.');
  });

  it.each([
    ['answers 500', '500'],
    ['drops the connection', 'reset'],
    ['answers something else than JSON', 'not-json'],
  ] as const)(
    'answers 503 with Retry-After while the JWKS URL %s (the token cannot be checked, it is not refused)',
    async (_l, how) => {
      mode = how;
      const before = fetches;
      const res = await send(await rsWith('old'));
      expect(fetches).toBe(before + 1);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toEqual({
        type: 'https://analytics.dev/problems/unavailable',
        title: 'Service unavailable',
        status: 503,
        detail: "The single sign-on's key set (ANALYTICS_JWT_JWKS_URL) cannot be read right now. Retry shortly.",
      });
    },
  );

  it('serves cached keys through an outage, and takes a rotated key once the set is read again', async () => {
    mode = 'ok';
    served = [await publicJwk('old')];
    expect((await send(await rsWith('old'))).status).toBe(202);
    const fetched = fetches;

    // An outage does not matter while the set is cached.
    mode = '500';
    expect((await send(await rsWith('old'))).status).toBe(202);
    expect(fetches).toBe(fetched);

    // The single sign-on rotates: only the new key is published.
    mode = 'ok';
    served = [await publicJwk('new')];
    // Right after a read of the set, an unknown kid does not make it read again (jose's 30 s cooldown).
    const tooSoon = await send(await rsWith('new'));
    expect(tooSoon.status).toBe(401);
    expect(tooSoon.json.detail).toBe('The token is not valid: no applicable key found in the JSON Web Key Set.');
    expect(fetches).toBe(fetched);

    // 31 s later (the process clock moved on, not waited for), the unknown kid reads the set again.
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 31_000);
    try {
      expect((await send(await rsWith('new'))).status).toBe(202);
      expect(fetches).toBe(fetched + 1);
      const retired = await send(await rsWith('old'));
      expect(retired.status).toBe(401);
      expect(retired.json.detail).toBe('The token is not valid: no applicable key found in the JSON Web Key Set.');
    } finally {
      jest.restoreAllMocks();
    }
  });
});
