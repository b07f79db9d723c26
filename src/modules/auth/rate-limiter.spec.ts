import { Clock } from '../../common/clock';
import { Grant, LeasedRateLimits, RateLimits, Reserve } from './rate-limiter';

/** The analyticsRateLimit script's rules over counters in memory: one store shared by every instance. */
function fakeStore() {
  const counts = new Map<string, { r: number; e: number }>();
  let calls = 0;
  const decide = (...[tenant, window, limits, need, extra]: Parameters<Reserve>): Grant => {
    calls++;
    const key = `${tenant}:${window}`;
    const c = counts.get(key) ?? { r: 0, e: 0 };
    counts.set(key, c);
    if (need.requests > 0 && c.r + need.requests > limits.rps)
      return { ok: false, requests: c.r, events: c.e, grantedRequests: 0, grantedEvents: 0, exceeded: 'requests' };
    if (need.events > 0 && c.e + need.events > limits.eps)
      return { ok: false, requests: c.r, events: c.e, grantedRequests: 0, grantedEvents: 0, exceeded: 'events' };
    const gr = need.requests + Math.max(0, Math.min(extra.requests, limits.rps - c.r - need.requests));
    const ge = need.events + Math.max(0, Math.min(extra.events, limits.eps - c.e - need.events));
    c.r += gr;
    c.e += ge;
    return { ok: true, requests: c.r, events: c.e, grantedRequests: gr, grantedEvents: ge };
  };
  const reserve: Reserve = (...args) => Promise.resolve(decide(...args));
  return { reserve, counts, calls: () => calls };
}

const T0 = 1_700_000_000_000; // the start of a window

/** A clock that stands still at T0 until a test moves it. */
function manualClock(): Clock & { at(ms: number): void } {
  let ms = T0;
  return {
    now: () => ms,
    at: (to) => {
      ms = to;
    },
  };
}

async function takeMany(limiter: LeasedRateLimits, n: number, events: number, limits: RateLimits) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await limiter.take('t1', events, limits));
  return out;
}

describe('LeasedRateLimits', () => {
  it('under 50 per second it reserves exactly one request at a time, as exact as counting each', async () => {
    const store = fakeStore();
    const limiter = new LeasedRateLimits(store.reserve, manualClock());
    const d = await takeMany(limiter, 25, 1, { rps: 20, eps: 1000 });
    expect(d.filter((x) => x.allowed)).toHaveLength(20);
    expect(d.map((x) => x.remaining).slice(0, 3)).toEqual([19, 18, 17]);
    expect(d[20]).toMatchObject({ allowed: false, remaining: 0, exceeded: 'requests', limit: 20 });
    expect(store.counts.get(`t1:${T0 / 1000}`)!.r).toBe(20);
    // Once Redis refused one, the rest of the window is refused without asking it.
    expect(store.calls()).toBe(21);
  });

  it('a busy tenant asks Redis once per lease, admits exactly its limit and says what remains', async () => {
    const store = fakeStore();
    const limiter = new LeasedRateLimits(store.reserve, manualClock());
    const d = await takeMany(limiter, 1005, 1, { rps: 1000, eps: 100_000 });
    expect(d.filter((x) => x.allowed)).toHaveLength(1000);
    expect(d.slice(1000).every((x) => !x.allowed && x.exceeded === 'requests' && x.remaining === 0)).toBe(true);
    // The first request reserves 1 + 20; each next lease of 20 is reserved in the background once
    // the lease is half used: 49 of them reach 1,000, the last one short, after which the window's
    // refusals need no call.
    expect(store.calls()).toBe(1 + 49);
    expect(d.map((x) => x.remaining).slice(0, 3)).toEqual([999, 998, 997]);
    expect(d[999].remaining).toBe(0);
  });

  it('has at most one reservation with extra budget on its way; others meanwhile reserve only what they need', async () => {
    const store = fakeStore();
    let withExtra = 0;
    let most = 0;
    const slow: Reserve = async (tenant, window, limits, need, extra) => {
      if (extra.requests > 0) most = Math.max(most, ++withExtra);
      await new Promise((r) => setTimeout(r, 2));
      if (extra.requests > 0) withExtra--;
      return store.reserve(tenant, window, limits, need, extra);
    };
    const limiter = new LeasedRateLimits(slow, manualClock());
    const d = await Promise.all(Array.from({ length: 50 }, () => limiter.take('t1', 1, { rps: 1000, eps: 100_000 })));
    expect(d.every((x) => x.allowed)).toBe(true);
    expect(most).toBe(1);
    // One request reserved 1 + 20, the other 49 one each: 20 left in the lease.
    expect(store.counts.get(`t1:${T0 / 1000}`)!.r).toBe(70);
    expect((await limiter.take('t1', 1, { rps: 1000, eps: 100_000 })).remaining).toBe(1000 - 70 + 19);
  });

  it('a request Redis refused takes from the lease if a reservation with extra filled it meanwhile', async () => {
    const store = fakeStore();
    const limits = { rps: 100, eps: 100_000 }; // leases of 2 more requests
    await store.reserve('t1', T0 / 1000, limits, { requests: 97, events: 0 }, { requests: 0, events: 0 });
    // Redis runs each reservation at once; the answers come back after a delay: the first one first.
    const delays = [1, 5];
    const answered: Reserve = async (...args) => {
      const grant = await store.reserve(...args);
      await new Promise((r) => setTimeout(r, delays.shift()));
      return grant;
    };
    const limiter = new LeasedRateLimits(answered, manualClock());
    // The first reserves 1 + 2 (the last three); the second, meanwhile, only 1, which Redis refuses.
    const [a, b] = await Promise.all([limiter.take('t1', 1, limits), limiter.take('t1', 1, limits)]);
    expect([a.allowed, b.allowed]).toEqual([true, true]);
    expect(b.remaining).toBe(1);
    expect(await limiter.take('t1', 1, limits)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.take('t1', 1, limits)).toMatchObject({
      allowed: false,
      remaining: 0,
      exceeded: 'requests',
    });
    expect(store.counts.get(`t1:${T0 / 1000}`)!.r).toBe(100);
  });

  it('instances sharing one store never admit more than the limit together', async () => {
    const store = fakeStore();
    const a = new LeasedRateLimits(store.reserve, manualClock());
    const b = new LeasedRateLimits(store.reserve, manualClock());
    const limits = { rps: 500, eps: 100_000 };
    let allowed = 0;
    for (let i = 0; i < 700; i++) if ((await (i % 3 === 0 ? b : a).take('t1', 1, limits)).allowed) allowed++;
    expect(store.counts.get(`t1:${T0 / 1000}`)!.r).toBe(500);
    // At most one unused lease (10 requests) left with the instance that did not reserve last.
    expect(allowed).toBeLessThanOrEqual(500);
    expect(allowed).toBeGreaterThanOrEqual(490);
  });

  it('counts events, and a refused request counts against neither limit', async () => {
    const store = fakeStore();
    const limiter = new LeasedRateLimits(store.reserve, manualClock());
    const limits = { rps: 20, eps: 100 };
    expect(await limiter.take('t1', 60, limits)).toMatchObject({ allowed: true });
    expect(await limiter.take('t1', 60, limits)).toMatchObject({ allowed: false, exceeded: 'events' });
    expect(store.counts.get(`t1:${T0 / 1000}`)).toEqual({ r: 1, e: 60 });
    expect(await limiter.take('t1', 38, limits)).toMatchObject({ allowed: true });
    expect(await limiter.take('t1', 1, limits)).toMatchObject({ allowed: true });
    expect(await limiter.take('t1', 2, limits)).toMatchObject({ allowed: false, exceeded: 'events' });
    expect(store.counts.get(`t1:${T0 / 1000}`)).toEqual({ r: 3, e: 99 });
  });

  it('with a large limit, a batch reserves its events and a lease of more', async () => {
    const store = fakeStore();
    const limiter = new LeasedRateLimits(store.reserve, manualClock());
    const limits = { rps: 1000, eps: 50_000 };
    expect(await limiter.take('t1', 500, limits)).toMatchObject({ allowed: true, remaining: 999 });
    expect(store.counts.get(`t1:${T0 / 1000}`)).toEqual({ r: 21, e: 1500 });
    expect(await limiter.take('t1', 500, limits)).toMatchObject({ allowed: true });
    expect(store.calls()).toBe(1);
  });

  it('a new window starts with no lease and the full limit', async () => {
    const store = fakeStore();
    const clock = manualClock();
    const limiter = new LeasedRateLimits(store.reserve, clock);
    const limits = { rps: 20, eps: 100 };
    await takeMany(limiter, 20, 1, limits);
    clock.at(T0 + 999);
    expect((await limiter.take('t1', 1, limits)).allowed).toBe(false);
    clock.at(T0 + 1000);
    const next = await limiter.take('t1', 1, limits);
    expect(next).toMatchObject({ allowed: true, remaining: 19, resetMs: 1000 });
  });

  it('without Redis the request is let through', async () => {
    const clock = manualClock();
    const limiter = new LeasedRateLimits(() => Promise.reject(new Error('connection refused')), clock);
    clock.at(T0 + 250);
    expect(await limiter.take('t1', 5, { rps: 10, eps: 10 })).toEqual({
      allowed: true,
      limit: 10,
      remaining: 10,
      resetMs: 750,
    });
  });
});
