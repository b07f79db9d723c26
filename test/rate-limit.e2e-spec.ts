import { PinnedClock, pinClock } from './support/clock';
import { BATCH, EVENTS, makeEvent } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The api's clock stands still inside a window of its own for each test, and moves only when a test
// moves it: what a window admits never depends on how fast the requests are answered.
describe('per-tenant rate limits', () => {
  let t: TestEnv;
  let clock: PinnedClock;
  let w0: number;
  /** The start of the test's own window, `n` windows after the first. */
  const windowStart = (n: number) => w0 + n * 1000;
  const counted = (tenant: string, kind: 'r' | 'e') =>
    t.redis.get(`${t.config.redis.prefix}:rl:${tenant}:${clock.ms / 1000}:${kind}`);
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
    clock = pinClock(t.api!);
    w0 = clock.ms;
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_rps = 20 WHERE id = $1`, [t.tenant.id]);
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_eps = 100 WHERE id = $1`, [t.operator.id]);
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_rps = 100 WHERE id = $1`, [t.other.id]);
  });
  afterAll(async () => {
    clock.release();
    await t.close();
  });

  it('tenant A flooding past its limit gets 429s while tenant B keeps succeeding', async () => {
    const timedB = async () => {
      const started = performance.now();
      const res = await t.post(EVENTS, makeEvent({ tenant_id: t.other.id }), t.other.ingest);
      return { status: res.status, ms: performance.now() - started };
    };
    clock.set(windowStart(0));
    const baseline = [];
    for (let i = 0; i < 10; i++) baseline.push(await timedB());

    const flood = Promise.all(Array.from({ length: 300 }, () => t.post(EVENTS, makeEvent())));
    const during = [];
    for (let i = 0; i < 10; i++) during.push(await timedB());
    const answers = await flood;

    const tooMany = answers.filter((a) => a.status === 429);
    const accepted = answers.filter((a) => a.status === 202);
    console.log(
      `flood: ${accepted.length} accepted, ${tooMany.length} refused; tenant B median ${median(baseline.map((b) => b.ms)).toFixed(1)} ms before, ${median(during.map((b) => b.ms)).toFixed(1)} ms during`,
    );
    // One window: exactly the limit admitted, every other request refused.
    expect(accepted).toHaveLength(20);
    expect(tooMany).toHaveLength(280);
    expect(await counted(t.tenant.id, 'r')).toBe('20');
    expect(during.map((b) => b.status)).toEqual(Array(10).fill(202));
    expect(baseline.map((b) => b.status)).toEqual(Array(10).fill(202));

    const refused = tooMany[0];
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit-limit')).toBe('20');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.json).toMatchObject({ status: 429, title: 'Too many requests', limit_requests_per_second: 20 });
    expect(refused.json.detail).toBe('This tenant may make 20 requests per second. Retry after 1 s.');

    // The window's last millisecond still refuses; the next window admits again, with its full limit.
    clock.set(windowStart(1) - 1);
    expect((await t.post(EVENTS, makeEvent())).status).toBe(429);
    clock.set(windowStart(1));
    const next = await t.post(EVENTS, makeEvent());
    expect(next.status).toBe(202);
    expect(next.headers.get('ratelimit-remaining')).toBe('19');
  });

  it('counts events per second across batches, and says when one batch alone is too big', async () => {
    const ev = () => makeEvent({ tenant_id: t.operator.id });
    clock.set(windowStart(2));
    const first = await t.post(BATCH, { events: Array.from({ length: 60 }, ev) }, t.operator.ingest);
    const second = await t.post(BATCH, { events: Array.from({ length: 60 }, ev) }, t.operator.ingest);
    expect(first.status).toBe(202);
    expect(second.status).toBe(429);
    expect(second.json.detail).toMatch(
      /^This tenant may send 100 events per second; this request's 60 would pass it\. Retry after 1 s\.$/,
    );
    const huge = await t.post(BATCH, { events: Array.from({ length: 101 }, ev) }, t.operator.ingest);
    expect(huge.json.detail).toMatch(/with a smaller batch\.$/);
  });

  it('a refused request counts against neither limit', async () => {
    clock.set(windowStart(3));
    const ev = () => makeEvent({ tenant_id: t.operator.id });
    expect((await t.post(BATCH, { events: Array.from({ length: 101 }, ev) }, t.operator.ingest)).status).toBe(429);
    expect(await counted(t.operator.id, 'r')).toBeNull();
    expect(await counted(t.operator.id, 'e')).toBeNull();
    // In the same window, the whole events limit is still there.
    expect((await t.post(BATCH, { events: Array.from({ length: 100 }, ev) }, t.operator.ingest)).status).toBe(202);
    expect(await counted(t.operator.id, 'e')).toBe('100');
  });

  it('a limit of 50/s or more is reserved in leases: exactly the limit is admitted in a window, and Redis counts it', async () => {
    const ev = () => makeEvent({ tenant_id: t.other.id });
    clock.set(windowStart(4));
    const answers: { status: number; remaining: number }[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 13; i++) {
          const res = await t.post(EVENTS, ev(), t.other.ingest);
          answers.push({ status: res.status, remaining: Number(res.headers.get('ratelimit-remaining')) });
        }
      }),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(100);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30);
    expect(answers.filter((a) => a.status === 429).map((a) => a.remaining)).toEqual(Array(30).fill(0));
    expect(await counted(t.other.id, 'r')).toBe('100');
  });
});
