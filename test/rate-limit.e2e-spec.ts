import { BATCH, EVENTS, makeEvent } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('per-tenant rate limits', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_rps = 20 WHERE id = $1`, [t.tenant.id]);
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_eps = 100 WHERE id = $1`, [t.operator.id]);
    await t.db.query(`UPDATE analytics_tenants SET rate_limit_rps = 100 WHERE id = $1`, [t.other.id]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('tenant A flooding past its limit gets 429s while tenant B keeps succeeding', async () => {
    const timedB = async () => {
      const started = performance.now();
      const res = await t.post(EVENTS, makeEvent({ tenant_id: t.other.id }), t.other.ingest);
      return { status: res.status, ms: performance.now() - started };
    };
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
    expect(tooMany.length).toBeGreaterThan(200);
    expect(accepted.length).toBeGreaterThanOrEqual(20);
    expect(accepted.length + tooMany.length).toBe(300);
    expect(during.map((b) => b.status)).toEqual(Array(10).fill(202));
    expect(baseline.map((b) => b.status)).toEqual(Array(10).fill(202));

    const refused = tooMany[0];
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-limit')).toBe('20');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.json).toMatchObject({ status: 429, title: 'Too many requests', limit_requests_per_second: 20 });
    expect(refused.json.detail).toMatch(/^This tenant may make 20 requests per second\. Retry after \d s\.$/);
  });

  it('counts events per second across batches, and says when one batch alone is too big', async () => {
    const ev = () => makeEvent({ tenant_id: t.operator.id });
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10)); // start of a window
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
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
    const ev = () => makeEvent({ tenant_id: t.operator.id });
    expect((await t.post(BATCH, { events: Array.from({ length: 101 }, ev) }, t.operator.ingest)).status).toBe(429);
    expect((await t.post(BATCH, { events: Array.from({ length: 100 }, ev) }, t.operator.ingest)).status).toBe(202);
  });

  it('a limit of 50/s or more is reserved in leases: exactly the limit is admitted in a window, and Redis counts it', async () => {
    const ev = () => makeEvent({ tenant_id: t.other.id });
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10)); // start of a window
    const window = Math.floor(Date.now() / 1000);
    const answers: { status: number; remaining: number }[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 13; i++) {
          const res = await t.post(EVENTS, ev(), t.other.ingest);
          answers.push({ status: res.status, remaining: Number(res.headers.get('ratelimit-remaining')) });
        }
      }),
    );
    expect(Math.floor(Date.now() / 1000)).toBe(window); // all in one window
    expect(answers.filter((a) => a.status === 202)).toHaveLength(100);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30);
    expect(answers.filter((a) => a.status === 429).map((a) => a.remaining)).toEqual(Array(30).fill(0));
    expect(await t.redis.get(`${t.config.redis.prefix}:rl:${t.other.id}:${window}:r`)).toBe('100');
  });
});
