import { generateApiKey } from '../src/modules/auth/api-key';
import { TenantsRepository } from '../src/modules/auth/tenants.repository';
import { PostgresBreaker } from '../src/database/postgres-breaker';
import { expireCredentialCache } from './support/clock';
import { urlFor } from './support/database';
import { EVENTS, makeEvent, waitFor } from './support/events';
import { TcpProxy } from './support/tcp-proxy';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * Postgres hangs (as it does in crash recovery or behind a dead network path): the api serves what
 * it has cached, within bounds, and answers what it cannot serve at once with 503 and Retry-After,
 * never by waiting out a connection timeout per request.
 */
describe('a hanging Postgres: cached credentials serve, unknown ones fail fast', () => {
  const pg = new TcpProxy('127.0.0.1', 5432);
  let t: TestEnv;
  beforeAll(async () => {
    await pg.start();
    t = await createTestEnv({}, { api: false, worker: false });
    const dbUrl = new URL(urlFor(t.dbName));
    dbUrl.port = String(pg.port);
    t.reconfigure({
      DATABASE_URL: dbUrl.toString(),
      ANALYTICS_DB_READ_TIMEOUT_MS: '300',
      ANALYTICS_STALE_KEY_MAX_MS: '600000',
    });
    await t.startApi();
  });
  afterAll(async () => {
    pg.unhang();
    await t.close();
    await pg.cut();
  });
  afterEach(() => jest.restoreAllMocks());

  it('serves a key read before the hang past its cache time, with one lookup for many requests; an unknown key is 503 at once', async () => {
    expect((await t.post(EVENTS, makeEvent())).status).toBe(202); // the key is cached now
    const lookups = jest.spyOn(t.api!.get(TenantsRepository), 'findKey');
    pg.hang();
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs); // the cached row is due for a read
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.post(EVENTS, makeEvent())));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    expect(answers.map((a) => a.json.status)).toEqual(Array(20).fill('accepted'));
    expect(lookups).toHaveBeenCalledTimes(1); // one read for the 20, which timed out

    const unknown = generateApiKey().key;
    const refused = await t.post(EVENTS, makeEvent(), unknown);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.json).toMatchObject({
      status: 503,
      detail: 'Credentials cannot be checked right now (database unavailable). Retry shortly.',
    });
  });

  it('opens its breaker after failed reads: further reads fail without reaching Postgres, and close again once it answers', async () => {
    const breaker = t.api!.get(PostgresBreaker);
    const lookups = jest.spyOn(t.api!.get(TenantsRepository), 'findKey');
    for (let i = 0; i < 3 && !breaker.isOpen; i++) await t.post(EVENTS, makeEvent(), generateApiKey().key);
    expect(breaker.isOpen).toBe(true);
    const before = lookups.mock.calls.length;
    const fast = await Promise.all(Array.from({ length: 5 }, () => t.post(EVENTS, makeEvent(), generateApiKey().key)));
    expect(fast.map((a) => a.status)).toEqual(Array(5).fill(503));
    expect(lookups.mock.calls.length).toBe(before); // not one of them reached the repository
    // the cached key still serves meanwhile
    expect((await t.post(EVENTS, makeEvent())).status).toBe(202);
    pg.unhang();
    // after its reset time the breaker lets one read through; Postgres answers, and it closes
    await waitFor(
      'the breaker to close',
      async () => (await t.post(EVENTS, makeEvent(), generateApiKey().key)).status === 401,
      15000,
    );
    expect(breaker.isOpen).toBe(false);
  });
});
