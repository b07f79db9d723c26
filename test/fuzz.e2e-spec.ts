import { TENANT } from './support/events';
import { hostileRequest, rng } from './support/hostile';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CONCURRENCY = 16;

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
  }, 240_000); // 25 s alone; several times that beside the other test files on two busy cores
});
