import { EVENTS, TENANT, makeEvent } from './support/events';
import { hostileRequest, rng } from './support/hostile';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CONCURRENCY = 16;

/**
 * The api runs in this process (createTestEnv starts it with createApiApp and listens here), so
 * this Object.prototype is the one every request handler shares.
 */
function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).x).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).filter((k) => ['polluted', 'x'].includes(k))).toEqual([]);
}

describe(`fuzz: ${REQUESTS} hostile requests`, () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({
      ANALYTICS_RATE_LIMIT_RPS: '1000000',
      ANALYTICS_RATE_LIMIT_EPS: '100000000',
      LOG_LEVEL: 'fatal',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('never answers 5xx, stays up, and stores every event it accepted', async () => {
    const r = rng(SEED);
    const statuses = new Map<number, number>();
    const byLabel = new Map<string, Map<number, number>>();
    const fiveXX: string[] = [];
    const accepted = new Set<string>();
    let sent = 0;
    const started = Date.now();

    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const req = hostileRequest(r, TENANT, t.tenant.ingest);
        let status: number;
        let text = '';
        try {
          const res = await fetch(`${t.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
          status = res.status;
          text = await res.text();
        } catch (err) {
          status = -1; // the client refused to send it (e.g. an illegal header): not the service's answer
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const l = byLabel.get(req.label) ?? new Map<number, number>();
        l.set(status, (l.get(status) ?? 0) + 1);
        byLabel.set(req.label, l);
        if (status >= 500)
          fiveXX.push(
            `${status} ${req.label} ${req.method} ${req.path} ${String(req.body).slice(0, 120)} → ${text.slice(0, 200)}`,
          );
        if (status === 202) {
          const body = JSON.parse(text);
          for (const v of body.results ?? [body]) if (v.status === 'accepted') accepted.add(v.event_id);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;

    const table = [...byLabel]
      .map(
        ([label, m]) =>
          `${label.padEnd(16)} ${[...m]
            .sort()
            .map(([s, n]) => `${s}:${n}`)
            .join(' ')}`,
      )
      .join('\n');
    console.log(
      `fuzz seed ${SEED}: ${REQUESTS} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ${accepted.size} events accepted\n${table}`,
    );

    expect(fiveXX).toEqual([]);
    expect(statuses.get(-1) ?? 0).toBe(0);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    expect((await t.get('/api/v1/analytics/health')).status).toBe(200);

    // Everything accepted is stored exactly once and reads back as JSON.
    expect(accepted.size).toBeGreaterThan(REQUESTS / 10);
    await drained(t.ingestQueue, 60000);
    const ids = [...accepted];
    const { rows } = await t.db.query(
      `SELECT event_id, attributes, context FROM analytics_events_raw WHERE event_id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) expect(typeof row.attributes).toBe('object');
    const total = await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw');
    expect(total.rows[0].n).toBe(ids.length);
    expect((await t.ingestQueue.getJobCounts('failed')).failed).toBe(0);
    // None of the __proto__ and constructor.prototype payloads reached a prototype of the api.
    expectNoPollution();
  }, 240_000);

  it('a __proto__ key is plain data: stored as sent and read back from jsonb, no prototype touched', async () => {
    // Sent as JSON text, not built from an object literal (where __proto__ would set the prototype).
    const event = makeEvent();
    const attributes = `{"__proto__":{"x":1},"constructor":{"prototype":{"polluted":1}},${JSON.stringify(event.attributes).slice(1)}`;
    const body = JSON.stringify({ ...event, attributes: '@' }).replace('"@"', attributes);
    const res = await t.post(EVENTS, body);
    expect([res.status, res.json.status, res.json.detail]).toEqual([202, 'accepted', undefined]);
    for (const hostile of [
      `{"__proto__":{"polluted":1},${body.slice(1)}`,
      JSON.stringify({ ...makeEvent(), constructor: '@' }).replace('"@"', '{"prototype":{"polluted":1}}'),
    ])
      expect((await t.post(EVENTS, hostile)).status).toBeLessThan(500);
    expectNoPollution();

    await drained(t.ingestQueue);
    const { rows } = await t.db.query(
      `SELECT attributes ? '__proto__' AS has_proto, attributes->'__proto__' AS proto,
         attributes->'constructor' AS ctor, attributes::text AS text FROM analytics_events_raw WHERE event_id = $1`,
      [event.event_id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ has_proto: true, ctor: { prototype: { polluted: 1 } } });
    // read back, the key is the object's own data, not its prototype
    expect(Object.getPrototypeOf(rows[0].proto)).toBe(Object.prototype);
    expect(rows[0].proto).toEqual({ x: 1 });
    expect(Object.keys(JSON.parse(rows[0].text))).toContain('__proto__');
    expect(JSON.parse(rows[0].text)['__proto__']).toEqual({ x: 1 });
  });
  // 25 s alone; several times that beside the other test files on two busy cores
});
