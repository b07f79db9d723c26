import { holdSingleEventFlushes } from './support/batcher';
import { BATCH, EVENTS, OTHER_TENANT, TENANT, makeEvent, waitFor } from './support/events';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

describe('ingestion → queue → worker → Postgres', () => {
  let t: TestEnv;
  // A linger longer than the default 5 ms, so that grouping shows even on a machine busy with other test files.
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_BATCH_LINGER_MS: '25' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores a single event with every field intact and received_at set by the server', async () => {
    // An hour ago, to the microsecond: always inside the retention window.
    const occurred = `${new Date(Date.now() - 3_600_000).toISOString().slice(0, 19)}.123456`;
    const event = makeEvent({ occurred_at: `${occurred}Z`, received_at: '1999-01-01T00:00:00Z' });
    const before = Date.now();
    const res = await t.post(EVENTS, event);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ index: 0, event_id: event.event_id, status: 'accepted' });

    await waitFor('the event row', async () => (await countRows(t.db)) === 1);
    const { rows } = await t.db.query(`SELECT tenant_id, site_id, event_id, event_name, occurred_at, received_at,
      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS occurred_exact,
      session_id, user_id, source, attributes, context, id, created_at FROM analytics_events_raw`);
    const row = rows[0];
    expect(row).toMatchObject({
      tenant_id: event.tenant_id,
      site_id: event.site_id,
      event_id: event.event_id,
      event_name: 'voice.first_response',
      session_id: event.session_id,
      user_id: 'u_4821',
      source: 'voice_ws',
      attributes: event.attributes,
      context: event.context,
    });
    expect(row.occurred_exact).toBe(occurred); // microseconds kept
    const received = (row.received_at as Date).getTime();
    expect(received).toBeGreaterThanOrEqual(before - 5);
    expect(received).toBeLessThanOrEqual(Date.now());
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('stores a batch and answers one verdict per event, in order, accepting the valid ones', async () => {
    const events = Array.from({ length: 50 }, (_, i) =>
      makeEvent(
        i % 2
          ? {
              event_name: 'kb.search',
              attributes: {
                'kb.search_id': `s-${i}`,
                'kb.query': `query ${i}`,
                'kb.results_count': i,
                'kb.latency_ms': 12.5,
              },
            }
          : {
              event_name: 'commerce.view',
              attributes: { 'commerce.item_id': `sku-${i}`, 'commerce.price': i, 'commerce.currency': 'EUR' },
            },
      ),
    );
    const bad = makeEvent({ source: 'fax' });
    const body = { batch_id: 'b-0001', events: [...events.slice(0, 25), bad, ...events.slice(25)] };
    const res = await t.post(BATCH, body);
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ batch_id: 'b-0001', received: 51, accepted: 50, duplicate: 0, rejected: 1 });
    expect(res.json.results.map((r: { index: number }) => r.index)).toEqual([...Array(51).keys()]);
    expect(res.json.results[25]).toEqual({
      index: 25,
      event_id: bad.event_id,
      status: 'rejected',
      errors: [
        {
          pointer: '/source',
          keyword: 'enum',
          message: '/source must be one of web, widget, voice_ws, server',
          schema: 'envelope',
        },
      ],
    });
    expect(res.json.results[26]).toEqual({ index: 26, event_id: events[25].event_id, status: 'accepted' });

    await drained(t.ingestQueue);
    const ids = events.map((e) => e.event_id);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [ids])).toBe(50);
    expect(await countRows(t.db, 'event_id = $1', [bad.event_id])).toBe(0);
    const { rows } = await t.db.query(
      `SELECT event_id, attributes FROM analytics_events_raw WHERE event_id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.event_id, r.attributes]));
    events.forEach((e) => expect(byId.get(e.event_id)).toEqual(e.attributes));
  });

  it('stores text that array literals, JSON and SQL treat specially exactly as sent', async () => {
    const tricky = [
      '"',
      '\\',
      '\\"',
      'NULL',
      'null',
      '',
      ' padded ',
      'a,b',
      '{x}',
      '{"k":"v"}',
      'tab\there',
      'line\nbreak',
      'é ü ß 漢字 😀',
      "it's",
    ];
    const events = tricky.map((text, i) =>
      makeEvent({
        user_id: i === 0 ? 'NULL' : `user ${text}`,
        context: { locale: 'en-US', note: text, list: [text, null, text.length], nested: { [`k${i}${text}`]: text } },
      }),
    );
    const res = await t.post(BATCH, { events });
    expect(res.status).toBe(202);
    expect(res.json.accepted).toBe(tricky.length);
    await drained(t.ingestQueue);
    const { rows } = await t.db.query(
      `SELECT event_id, user_id, context FROM analytics_events_raw WHERE event_id = ANY($1::uuid[])`,
      [events.map((e) => e.event_id)],
    );
    expect(rows).toHaveLength(tricky.length);
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    for (const e of events) {
      expect(byId.get(e.event_id)).toEqual({ event_id: e.event_id, user_id: e.user_id, context: e.context });
    }
  });

  it('groups single events that arrive before the next flush into one job', async () => {
    const before = (await t.ingestQueue.getJobCounts('completed')).completed;
    const events = Array.from({ length: 40 }, () => makeEvent());
    // The flush waits until all 40 requests are in: the grouping, not the machine's speed, is tested.
    const held = holdSingleEventFlushes(t);
    const sent = Promise.all(events.map((e) => t.post(EVENTS, e)));
    await waitFor('the 40 requests to reach the batcher', () => held.added() === 40);
    held.release();
    const answers = await sent;
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(202));
    await drained(t.ingestQueue);
    const jobs = (await t.ingestQueue.getJobCounts('completed')).completed - before;
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(40);
    expect(jobs).toBe(1);
  });

  it('keeps tenants apart: the same event_id under two tenants is two events, and a key writes only its own tenant', async () => {
    const a = makeEvent();
    const b = { ...a, tenant_id: OTHER_TENANT };
    expect((await t.post(EVENTS, a)).json.status).toBe('accepted');
    const foreign = await t.post(EVENTS, b); // the first tenant's key, the other tenant's event
    expect(foreign.status).toBe(400);
    expect(foreign.json.errors).toEqual([
      { pointer: '/tenant_id', keyword: 'tenant', message: '/tenant_id is not the tenant of this API key' },
    ]);
    expect((await t.post(EVENTS, b, t.other.ingest)).json.status).toBe('accepted');
    await drained(t.ingestQueue);
    const { rows } = await t.db.query(
      'SELECT tenant_id FROM analytics_events_raw WHERE event_id = $1 ORDER BY tenant_id',
      [a.event_id],
    );
    expect(rows.map((r) => r.tenant_id)).toEqual([TENANT, OTHER_TENANT].sort());
  });

  it('stores a late event in its own day, creating the partition when missing', async () => {
    const day = new Date(Date.now() - 40 * 86_400_000);
    const event = makeEvent({ occurred_at: day.toISOString() });
    const partition = `analytics_events_raw_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
    const before = await t.db.query('SELECT to_regclass($1) AS p', [partition]);
    expect(before.rows[0].p).toBeNull();

    expect((await t.post(EVENTS, event)).status).toBe(202);
    await waitFor('the late event', async () => (await countRows(t.db, 'event_id = $1', [event.event_id])) === 1);
    const stored = await t.db.query(
      `SELECT tableoid::regclass::text AS part FROM analytics_events_raw WHERE event_id = $1`,
      [event.event_id],
    );
    expect(stored.rows[0].part).toBe(partition);
  });
});

describe('partition maintenance', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_PARTITION_DAYS_AHEAD: '3' }, { api: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('schedules the partition job hourly, and the job creates the partitions that are missing', async () => {
    const { Queue } = await import('bullmq');
    const maintenance = new Queue('maintenance', {
      connection: { host: '127.0.0.1', port: t.config.redis.port },
      prefix: `${t.config.redis.prefix}:bull`,
    });
    try {
      const schedulers = await maintenance.getJobSchedulers();
      expect(schedulers.map((s) => [s.key, s.every ?? s.pattern]).sort()).toEqual([
        ['apply-retention', '17 3 * * *'],
        ['ensure-partitions', 3_600_000],
      ]);

      const names = async () =>
        (
          await t.db.query(`SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'analytics_events_raw'::regclass ORDER BY 1`)
        ).rows.map((r) => r.n);
      const expected = [0, 1, 2, 3].map(
        (d) =>
          `analytics_events_raw_p${new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '')}`,
      );
      expect(await names()).toEqual(expected);

      await t.db.query(`DROP TABLE ${expected[3]}`);
      await t.db.query(`DROP TABLE ${expected[2]}`);
      const job = await maintenance.add('ensure-partitions', {});
      await waitFor('the maintenance job', async () => (await job.getState()) === 'completed');
      expect(await names()).toEqual(expected);
    } finally {
      await maintenance.close();
    }
  });
});
