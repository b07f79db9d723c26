import { AnalyticsError, backoffMs, createAnalyticsClient, retryAfterMs, retryPolicy, type Timers } from '../src';

const TENANT = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';
const BASE = 'http://analytics.test';

interface Seen {
  url: string;
  method: string;
  keepalive: boolean;
  authorization: string | null;
  body: any;
}

/** A fetch that answers from a script and records every request it got. */
function fakeFetch(answers: ((seen: Seen) => Response | Error)[]) {
  const seen: Seen[] = [];
  let i = 0;
  const fetch = async (req: Request): Promise<Response> => {
    const text = await req.text();
    const s: Seen = {
      url: req.url,
      method: req.method,
      keepalive: req.keepalive,
      authorization: req.headers.get('authorization'),
      body: text ? JSON.parse(text) : null,
    };
    seen.push(s);
    const answer = answers[Math.min(i++, answers.length - 1)](s);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json', ...headers },
  });

/** The service's answer to a batch: every event accepted, unless a status is given per position. */
const verdicts =
  (statuses: string[] = []) =>
  (s: Seen) => {
    const results = (s.body.events as any[]).map((e, index) => ({
      index,
      event_id: e.event_id,
      status: statuses[index] ?? 'accepted',
      ...(statuses[index] === 'rejected'
        ? { errors: [{ pointer: '/attributes', keyword: 'required', message: 'missing' }] }
        : {}),
    }));
    const count = (x: string) => results.filter((r) => r.status === x).length;
    return json(202, {
      received: results.length,
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      dropped: count('dropped'),
      quarantined: count('quarantined'),
      rejected: count('rejected'),
      results,
    });
  };

const problem = (status: number, headers: Record<string, string> = {}) =>
  json(status, { type: `https://analytics.dev/problems/x`, title: 'X', status, detail: `status ${status}` }, headers);

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { fire(): void; pending: number } {
  const fns = new Map<number, () => void>();
  let next = 1;
  return {
    set(fn) {
      fns.set(next, fn);
      return next++;
    },
    clear(h) {
      fns.delete(h as number);
    },
    fire() {
      const all = [...fns.values()];
      fns.clear();
      all.forEach((f) => f());
    },
    get pending() {
      return fns.size;
    },
  };
}

function client(fetch: (r: Request) => Promise<Response>, extra: Record<string, unknown> = {}) {
  const sleeps: number[] = [];
  let n = 0;
  const c = createAnalyticsClient({
    baseUrl: BASE,
    apiKey: 'ak_test',
    tenantId: TENANT,
    fetch,
    flushOnExit: false,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    now: () => new Date('2026-01-01T00:00:00.000Z'),
    randomUUID: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    timers: manualTimers(),
    ...extra,
  });
  return { c, sleeps };
}

const view = (item: string) => ({ event_name: 'commerce.view', attributes: { 'commerce.item_id': item } });

describe('retry policy', () => {
  it('draws every backoff uniformly below min(maxDelayMs, baseDelayMs × 2^(retry−1))', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000 });
    const caps = [100, 200, 400, 800, 1000, 1000];
    caps.forEach((cap, i) => {
      expect(backoffMs(i + 1, policy, () => 0)).toBe(0);
      expect(backoffMs(i + 1, policy, () => 0.5)).toBe(cap / 2);
      expect(backoffMs(i + 1, policy, () => 0.999999)).toBe(cap - 1);
    });
    let seed = 7;
    const lcg = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let retry = 1; retry <= 12; retry++) {
      for (let k = 0; k < 200; k++) {
        const d = backoffMs(retry, policy, lcg);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(1000, 100 * 2 ** (retry - 1)));
      }
    }
  });

  it('reads Retry-After as seconds or an HTTP date, capped at maxDelayMs', () => {
    const policy = retryPolicy({ maxDelayMs: 10_000 });
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now, policy)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now, policy)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now, policy)).toBe(0);
    expect(retryAfterMs('600', now, policy)).toBe(10_000);
    expect(retryAfterMs(null, now, policy)).toBeNull();
    expect(retryAfterMs('soon', now, policy)).toBeNull();
  });

  it('refuses a policy that makes no sense', () => {
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow('retry.maxAttempts must be an integer ≥ 1');
    expect(() => retryPolicy({ baseDelayMs: 500, maxDelayMs: 100 })).toThrow(/retry.maxDelayMs/);
  });
});

describe('createAnalyticsClient', () => {
  it('fills in event_id, occurred_at, tenant_id and source, and sends a bearer key', async () => {
    const f = fakeFetch([verdicts()]);
    const { c } = client(f.fetch, { siteId: '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31' });
    const v = c.track(view('sku-1'));
    await c.flush();
    expect(await v).toEqual({
      event_id: '00000000-0000-4000-8000-000000000001',
      event_name: 'commerce.view',
      status: 'accepted',
    });
    expect(f.seen).toHaveLength(1);
    expect(f.seen[0].url).toBe(`${BASE}/api/v1/analytics/events/batch`);
    expect(f.seen[0].authorization).toBe('Bearer ak_test');
    expect(f.seen[0].body).toEqual({
      events: [
        {
          event_id: '00000000-0000-4000-8000-000000000001',
          occurred_at: '2026-01-01T00:00:00.000Z',
          tenant_id: TENANT,
          site_id: '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31',
          source: 'server',
          event_name: 'commerce.view',
          attributes: { 'commerce.item_id': 'sku-1' },
        },
      ],
    });
  });

  it('batches by size and by linger: a full batch goes at once, the rest when the linger fires', async () => {
    const f = fakeFetch([verdicts()]);
    const timers = manualTimers();
    const { c } = client(f.fetch, { batch: { maxSize: 3, lingerMs: 50 }, timers });
    const all = Array.from({ length: 7 }, (_, i) => c.track(view(`sku-${i}`)));
    await Promise.all(all.slice(0, 6));
    await new Promise((r) => setImmediate(r)); // the sender settles after the verdicts it delivered
    expect(f.seen.map((s) => s.body.events.length)).toEqual([3, 3]);
    expect(c.buffered).toBe(1);
    expect(timers.pending).toBe(1);
    timers.fire();
    await all[6];
    expect(f.seen.map((s) => s.body.events.length)).toEqual([3, 3, 1]);
    expect(c.buffered).toBe(0);
  });

  it('delivers every verdict to its promise and to onVerdict, in order', async () => {
    const f = fakeFetch([verdicts(['accepted', 'duplicate', 'dropped', 'quarantined', 'rejected'])]);
    const seen: string[] = [];
    const { c } = client(f.fetch, { onVerdict: (v: { status: string }) => seen.push(v.status) });
    const all = Array.from({ length: 5 }, (_, i) => c.track(view(`sku-${i}`)));
    await c.flush();
    const results = await Promise.all(all);
    expect(results.map((r) => r.status)).toEqual(['accepted', 'duplicate', 'dropped', 'quarantined', 'rejected']);
    expect(results[4].errors).toEqual([{ pointer: '/attributes', keyword: 'required', message: 'missing' }]);
    expect(seen).toEqual(['accepted', 'duplicate', 'dropped', 'quarantined', 'rejected']);
  });

  it('retries network errors, 429 and 503 with the same event_ids, honouring Retry-After', async () => {
    const f = fakeFetch([
      () => new TypeError('fetch failed'),
      () => problem(429, { 'retry-after': '2' }),
      () => problem(503, { 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }),
      () => problem(502),
      verdicts(['accepted', 'duplicate']),
    ]);
    const retries: unknown[] = [];
    const { c, sleeps } = client(f.fetch, {
      retry: { baseDelayMs: 100, maxDelayMs: 60_000 },
      onRetry: (n: { attempt: number; status?: number }) => retries.push([n.attempt, n.status ?? 'network']),
    });
    const a = c.track(view('a'));
    const b = c.track(view('b'));
    await c.flush();
    expect((await a).status).toBe('accepted');
    expect((await b).status).toBe('duplicate');
    // Backoff with random 0.5: half of 100 × 2^0, then Retry-After 2 s, the date 7 s ahead, half of 100 × 2^3.
    expect(sleeps).toEqual([50, 2000, 7000, 400]);
    expect(retries).toEqual([
      [1, 'network'],
      [2, 429],
      [3, 503],
      [4, 502],
    ]);
    const ids = f.seen.map((s) => s.body.events.map((e: any) => e.event_id));
    expect(ids).toHaveLength(5);
    for (const attempt of ids) expect(attempt).toEqual(ids[0]);
  });

  it('gives up after maxAttempts with a network error naming the events; a 4xx is never retried', async () => {
    const errors: AnalyticsError[] = [];
    const down = fakeFetch([() => new TypeError('fetch failed')]);
    const { c } = client(down.fetch, { retry: { maxAttempts: 3 }, onError: (e: AnalyticsError) => errors.push(e) });
    const p = c.track(view('a'));
    await c.flush();
    await expect(p).rejects.toMatchObject({ code: 'network' });
    expect(down.seen).toHaveLength(3);
    expect(errors).toHaveLength(1);
    expect(errors[0].details.eventIds).toEqual(['00000000-0000-4000-8000-000000000001']);

    const refused = fakeFetch([() => problem(400)]);
    const second = client(refused.fetch, { onError: (e: AnalyticsError) => errors.push(e) });
    const q = second.c.track(view('b'));
    await second.c.flush();
    await expect(q).rejects.toMatchObject({ code: 'http', details: { status: 400 } });
    expect(refused.seen).toHaveLength(1);
    expect(errors[1].problem?.detail).toBe('status 400');
  });

  it.each([
    ['drop-newest', ['a', 'b', 'c'], 'd'],
    ['drop-oldest', ['b', 'c', 'd'], 'a'],
  ] as const)('with a full buffer, %s lets one event go with an overflow error', async (overflow, sent, lost) => {
    const f = fakeFetch([verdicts()]);
    const errors: AnalyticsError[] = [];
    // A batch of 3 goes out at once; its answer is held so the buffer fills behind it.
    const names = ['a', 'b', 'c', 'd'];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = createAnalyticsClient({
      baseUrl: BASE,
      apiKey: 'k',
      tenantId: TENANT,
      flushOnExit: false,
      fetch: async (r) => {
        await gate;
        return f.fetch(r);
      },
      batch: { maxSize: 3, maxBuffered: 3, overflow },
      timers: manualTimers(),
      onError: (e) => errors.push(e),
      randomUUID: (() => {
        let n = 0;
        return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
      })(),
    });
    const first = ['x', 'y', 'z'].map((n) => held.track(view(n)));
    const rest = names.map((n) => held.track(view(n)));
    expect(held.buffered).toBe(3);
    const lostIndex = names.indexOf(lost);
    await expect(rest[lostIndex]).rejects.toMatchObject({ code: 'overflow' });
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/holds 3 events \(batch.maxBuffered\)/);
    release();
    await held.flush();
    await Promise.all(first);
    const items = f.seen.flatMap((s) => s.body.events.map((e: any) => e.attributes['commerce.item_id']));
    expect(items).toEqual(['x', 'y', 'z', ...sent]);
  });

  it('on page hide sends what is buffered with fetch keepalive', async () => {
    const listeners = new Map<string, () => void>();
    const g = globalThis as any;
    g.document = {
      visibilityState: 'visible',
      addEventListener: (t: string, fn: () => void) => listeners.set(`doc:${t}`, fn),
      removeEventListener: (t: string) => listeners.delete(`doc:${t}`),
    };
    g.addEventListener = (t: string, fn: () => void) => listeners.set(t, fn);
    g.removeEventListener = (t: string) => listeners.delete(t);
    try {
      const f = fakeFetch([verdicts()]);
      const { c } = client(f.fetch, { flushOnExit: true });
      const p = c.track(view('a'));
      expect(f.seen).toHaveLength(0);
      g.document.visibilityState = 'hidden';
      listeners.get('doc:visibilitychange')!();
      expect((await p).status).toBe('accepted');
      expect(f.seen).toHaveLength(1);
      expect(f.seen[0].keepalive).toBe(true);
      expect(f.seen[0].body.events[0].source).toBe('web');
      await c.close();
      expect(listeners.size).toBe(0);
    } finally {
      delete g.document;
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });

  it('after close, an event gets a closed error', async () => {
    const f = fakeFetch([verdicts()]);
    const { c } = client(f.fetch);
    await c.close();
    await expect(c.track(view('a'))).rejects.toMatchObject({ code: 'closed' });
    expect(f.seen).toHaveLength(0);
  });

  it('a report answers its typed data, or throws the problem', async () => {
    const f = fakeFetch([
      () =>
        json(200, {
          metric: 'commerce.conversion_rate',
          grain: '1h',
          points: [],
          meta: { level: 'h', buckets: 0, query_ms: 1, empty_value: null },
        }),
      () => problem(400),
    ]);
    const { c } = client(f.fetch);
    const q = {
      metric: 'commerce.conversion_rate',
      grain: '1h' as const,
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
    };
    expect((await c.reports.timeseries(q)).meta.level).toBe('h');
    expect(f.seen[0].body).toEqual({ ...q, tenantId: TENANT });
    await expect(c.reports.timeseries(q)).rejects.toMatchObject({ code: 'http', details: { status: 400 } });
  });
});
