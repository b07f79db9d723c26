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
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(new TextEncoder().encode(SECRET));
  const rs = (claims: Record<string, unknown>, key = privateKey) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('dash-user-2')
      .setIssuer('https://sso.example.com')
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
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: TENANT, scope: 'ingest' })).toString('base64url')}.`,
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
