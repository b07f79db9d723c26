import { randomUUID } from 'node:crypto';
import { RedisClient } from '../src/common/redis.provider';
import { Clock } from '../src/common/clock';
import { RateLimiter, RateLimits } from '../src/modules/auth/rate-limiter';
import { aheadWindow } from './support/clock';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * Two api instances share a tenant's limits through the real rate-limit script in Redis: each a
 * RateLimiter of its own (its own leases, its own connection), both on one clock stopped at the
 * start of a window no other run uses.
 */
describe('rate limits shared by several instances through Redis', () => {
  let t: TestEnv;
  const clients: RedisClient[] = [];
  let at = 0;
  const clock: Clock = { now: () => at };
  let a: RateLimiter;
  let b: RateLimiter;

  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
    for (let i = 0; i < 2; i++) clients.push(new RedisClient(t.config));
    // Its commands fail fast while not connected (and the limiter then lets requests through).
    await Promise.all(
      clients.map((c) => (c.status === 'ready' ? Promise.resolve() : new Promise((r) => c.once('ready', r)))),
    );
    a = new RateLimiter(clients[0], clock);
    b = new RateLimiter(clients[1], clock);
  });
  afterAll(async () => {
    for (const c of clients) await c.quit();
    await t.close();
  });

  /**
   * `n` requests of `events` events at each instance, from 10 callers at once, each calling the two
   * instances in turn (so that their reservations interleave); answers what each instance admitted.
   */
  async function flood(tenant: string, limits: RateLimits, n: number, events = 1): Promise<[number, number]> {
    const admitted = [0, 0];
    const callers = Math.min(10, n);
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = c; i < n; i += callers) {
          for (const [k, rl] of [a, b].entries()) {
            if ((await rl.take(tenant, events, limits)).allowed) admitted[k]++;
          }
        }
      }),
    );
    return [admitted[0], admitted[1]];
  }
  const counted = async (tenant: string, windowMs: number, kind: 'r' | 'e') =>
    Number(await t.redis.get(`${t.config.redis.prefix}:rl:${tenant}:${windowMs / 1000}:${kind}`));

  it('under 50/s (one reservation per request) admits exactly the limit across both instances', async () => {
    at = aheadWindow();
    const tenant = randomUUID();
    const [x, y] = await flood(tenant, { rps: 10, eps: 1000 }, 30);
    expect(x + y).toBe(10);
    expect(await counted(tenant, at, 'r')).toBe(10);
    // the next window starts afresh, with the same total
    at += 1000;
    const [x2, y2] = await flood(tenant, { rps: 10, eps: 1000 }, 30);
    expect(x2 + y2).toBe(10);
    expect(await counted(tenant, at, 'r')).toBe(10);
  });

  it('with leases (200/s, 4 per lease) never admits more than the limit in total, and loses less than two leases per instance', async () => {
    for (let round = 0; round < 5; round++) {
      at = aheadWindow() + 10_000 + round * 1000;
      const tenant = randomUUID();
      const [x, y] = await flood(tenant, { rps: 200, eps: 100_000 }, 300);
      expect(x + y).toBeLessThanOrEqual(200);
      expect(x + y).toBeGreaterThan(200 - 2 * 2 * 4);
      expect(x).toBeGreaterThan(0);
      expect(y).toBeGreaterThan(0);
      // Redis counted every admitted request, and never past the limit.
      const r = await counted(tenant, at, 'r');
      expect(r).toBeGreaterThanOrEqual(x + y);
      expect(r).toBeLessThanOrEqual(200);
    }
  });

  it('counts events across instances: batches of 30 under 100 events/s, exactly three admitted', async () => {
    at = aheadWindow() + 20_000;
    const tenant = randomUUID();
    const [x, y] = await flood(tenant, { rps: 1000, eps: 100 }, 4, 30);
    expect(x + y).toBe(3);
    expect(await counted(tenant, at, 'e')).toBeLessThanOrEqual(100);
    expect(await counted(tenant, at, 'e')).toBeGreaterThanOrEqual(90);
  });
});
