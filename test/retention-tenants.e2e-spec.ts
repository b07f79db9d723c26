import { Queue } from 'bullmq';
import { BATCH, makeEvent, waitFor } from './support/events';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const DAY = 86_400_000;

/** Runs the retention job with its clock pinned to `now`, and answers its outcome. */
async function applyRetention(t: TestEnv, now: Date): Promise<any> {
  const q = new Queue('maintenance', {
    connection: { host: '127.0.0.1', port: t.config.redis.port },
    prefix: `${t.config.redis.prefix}:bull`,
  });
  try {
    const job = await q.add('apply-retention', { now: now.toISOString() });
    await waitFor('the apply-retention job', async () => (await job.getState()) === 'completed', 20000);
    return (await q.getJob(job.id!))!.returnvalue;
  } finally {
    await q.close();
  }
}

async function partitionDays(t: TestEnv): Promise<string[]> {
  const r = await t.db.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'analytics_events_raw'::regclass ORDER BY 1`,
  );
  return r.rows.map((x) => `${x.relname.slice(-8, -4)}-${x.relname.slice(-4, -2)}-${x.relname.slice(-2)}`);
}

/** Which tagged events are stored, as "tenant-tag". */
async function stored(t: TestEnv): Promise<string[]> {
  const names = new Map([
    [t.tenant.id, 'long'],
    [t.other.id, 'other'],
    [t.operator.id, 'operator'],
  ]);
  const r = await t.db.query(`SELECT tenant_id, attributes->>'voice.turn_id' AS tag FROM analytics_events_raw`);
  return r.rows.map((x) => `${names.get(x.tenant_id)}-${x.tag}`).sort();
}

describe('retention with a tenant that keeps data longer than the default', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_RETENTION_DAYS: '30', ANALYTICS_ENABLE_ROLLUPS: 'false' }, { worker: false });
    // Partition bounds must not depend on the session's time zone: the worker's sessions are not in UTC.
    await t.db.query(`ALTER DATABASE ${t.dbName} SET timezone TO 'Pacific/Auckland'`);
    // Nothing has read the tenant rows yet, so no cache holds the old retention.
    await t.db.query('UPDATE analytics_tenants SET retention_days = 90 WHERE id = $1', [t.tenant.id]);
    await t.startWorker();
  });
  afterAll(async () => {
    await t.close();
  });

  it("keeps the long-retention tenant's partitions while the others' old rows go, then drops what passed the longest retention", async () => {
    const base = Date.now();
    const at = (daysAgo: number) => new Date(base - daysAgo * DAY).toISOString();
    const dayOf = (daysAgo: number) => at(daysAgo).slice(0, 10);
    for (const [tenant, key] of [
      [t.tenant.id, t.tenant.ingest],
      [t.other.id, t.other.ingest],
      [t.operator.id, t.operator.ingest],
    ]) {
      const res = await t.post(
        BATCH,
        {
          events: [5, 25].map((a) =>
            makeEvent({
              tenant_id: tenant,
              occurred_at: at(a),
              attributes: { 'voice.turn_id': `d${a}`, 'voice.first_response_ms': 1 },
            }),
          ),
        },
        key,
      );
      expect(res.status).toBe(202);
      expect(res.json.accepted).toBe(2);
    }
    await drained(t.ingestQueue);
    expect(await stored(t)).toEqual(['long-d25', 'long-d5', 'operator-d25', 'operator-d5', 'other-d25', 'other-d5']);
    const before = await partitionDays(t);
    expect(before).toEqual(expect.arrayContaining([dayOf(25), dayOf(5)]));

    // 20 days on: the 25-day-old rows are 45 days old; the default (30) tenants lose theirs, the
    // 90-day tenant keeps its own, so its partition stays.
    expect(await applyRetention(t, new Date(base + 20 * DAY))).toEqual({
      dropped_partitions: [],
      deleted_rows: 2,
      deleted_ledger_entries: 2,
      deleted_rollup_rows: 0,
      deleted_rollup_members: 0,
      deleted_quarantined: 0,
    });
    expect(await stored(t)).toEqual(['long-d25', 'long-d5', 'operator-d5', 'other-d5']);
    expect(await partitionDays(t)).toEqual(before);
    const ledger = await t.db.query('SELECT tenant_id FROM analytics_dedupe_ledger');
    expect(ledger.rows.map((r) => r.tenant_id).sort()).toEqual(
      [t.tenant.id, t.tenant.id, t.other.id, t.operator.id].sort(),
    );

    // 70 days on: the 25-day-old partition is past even the longest retention (95 > 90 days) and is
    // dropped whole; the 5-day-old rows are 75 days old, kept for the 90-day tenant only.
    expect(await applyRetention(t, new Date(base + 70 * DAY))).toEqual({
      dropped_partitions: [dayOf(25)],
      deleted_rows: 2,
      deleted_ledger_entries: 3,
      deleted_rollup_rows: 0,
      deleted_rollup_members: 0,
      deleted_quarantined: 0,
    });
    expect(await stored(t)).toEqual(['long-d5']);
    expect(await partitionDays(t)).toEqual(before.filter((d) => d !== dayOf(25)));
    const left = await t.db.query('SELECT tenant_id FROM analytics_dedupe_ledger');
    expect(left.rows.map((r) => r.tenant_id)).toEqual([t.tenant.id]);
  });

  it("puts an event at 00:00:00 UTC in that day's partition and the day's last microsecond in the previous one", async () => {
    const midnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - 2 * DAY;
    const day = new Date(midnight).toISOString().slice(0, 10);
    const prev = new Date(midnight - DAY).toISOString().slice(0, 10);
    const times: Record<string, string> = {
      start: `${day}T00:00:00Z`,
      'start-offset': `${day}T02:00:00+02:00`,
      'last-us': `${prev}T23:59:59.999999Z`,
      'last-us-offset': `${day}T01:59:59.999999+02:00`,
    };
    const res = await t.post(BATCH, {
      events: Object.entries(times).map(([tag, occurred_at]) =>
        makeEvent({ occurred_at, attributes: { 'voice.turn_id': `b-${tag}`, 'voice.first_response_ms': 1 } }),
      ),
    });
    expect(res.json.accepted).toBe(4);
    await drained(t.ingestQueue);
    const rows = await t.db.query(
      `SELECT attributes->>'voice.turn_id' AS tag, tableoid::regclass::text AS part,
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at
         FROM analytics_events_raw WHERE attributes->>'voice.turn_id' LIKE 'b-%' ORDER BY 1`,
    );
    const p = (d: string) => `analytics_events_raw_p${d.replaceAll('-', '')}`;
    expect(rows.rows).toEqual([
      { tag: 'b-last-us', part: p(prev), at: `${prev}T23:59:59.999999` },
      { tag: 'b-last-us-offset', part: p(prev), at: `${prev}T23:59:59.999999` },
      { tag: 'b-start', part: p(day), at: `${day}T00:00:00.000000` },
      { tag: 'b-start-offset', part: p(day), at: `${day}T00:00:00.000000` },
    ]);
  });
});
