import { IngestStats } from '../src/modules/ingestion/ingest-stats';
import { BATCH, EVENTS, makeEvent } from './support/events';
import { countLedger, settled } from './support/queue';
import { countStored } from './support/stored';
import { STORAGE_KINDS, StorageKind, TestEnv, createTestEnv } from './support/test-env';

describe.each(STORAGE_KINDS)('exactly once (%s)', (storage: StorageKind) => {
  let t: TestEnv;
  // A dedupe window no test outlives: a resend is inside it unless a test ends it by deleting the
  // fast path's keys, to reach the durable ledger.
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_DEDUPE_WINDOW_MS: '600000' }, { storage });
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores an event repeated inside one batch once, answering duplicate for the repeat', async () => {
    const e = makeEvent();
    const res = await t.post(BATCH, { events: [e, makeEvent(), e] });
    expect(res.json.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted', 'duplicate']);
    await settled(t);
    expect(await countStored(t, { eventIds: [e.event_id] })).toBe(1);
  });

  it('stores an event sent in two batches once; resending a whole batch with its batch_id changes nothing', async () => {
    const events = Array.from({ length: 20 }, () => makeEvent());
    const first = await t.post(BATCH, { batch_id: 'resend-1', events });
    expect(first.json).toMatchObject({ accepted: 20, duplicate: 0 });
    const second = await t.post(BATCH, { batch_id: 'resend-1', events });
    expect(second.json).toMatchObject({ batch_id: 'resend-1', accepted: 0, duplicate: 20 });
    await settled(t);
    expect(await countStored(t, { eventIds: events.map((e) => e.event_id) })).toBe(20);
  });

  it('stores the same event sent concurrently by 20 clients once, with exactly one accepted verdict', async () => {
    const e = makeEvent();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? t.post(EVENTS, e) : t.post(BATCH, { events: [e] }))),
    );
    const statuses = answers.map((a) => (a.json.results ? a.json.results[0].status : a.json.status));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(19);
    await settled(t);
    expect(await countStored(t, { eventIds: [e.event_id] })).toBe(1);
  });

  it('treats a UUID in upper case as the same event', async () => {
    const e = makeEvent();
    await t.post(EVENTS, e);
    const again = await t.post(EVENTS, { ...e, event_id: String(e.event_id).toUpperCase() });
    expect(again.json.status).toBe('duplicate');
    await settled(t);
    expect(await countStored(t, { eventIds: [e.event_id] })).toBe(1);
  });

  it('answers an event resent after the dedupe window duplicate, from the ledger, and counts what was stored', async () => {
    const events = Array.from({ length: 10 }, () => makeEvent());
    await t.post(BATCH, { events });
    await settled(t);
    // The window ends for these events: their fast-path keys go, as when they expire.
    const keys = events.map((e) => `${t.config.redis.prefix}:dedupe:${String(e.tenant_id)}:${String(e.event_id)}`);
    expect(await t.redis.exists(...keys)).toBe(10);
    expect(await t.redis.del(...keys)).toBe(10);
    const counters = t.api!.get(IngestStats);
    await counters.flush();
    const before = (await t.get('/api/v1/analytics/stats', t.tenant.admin)).json.ingestion;
    const mixed = [...events.slice(0, 5), makeEvent()];
    const again = await t.post(BATCH, { events: mixed });
    // Redis no longer holds their claims, but the ledger says they are stored: duplicates, truly.
    expect(again.json).toMatchObject({ accepted: 1, duplicate: 5 });
    for (const e of events.slice(5)) expect((await t.post(EVENTS, e)).json.status).toBe('duplicate');
    await settled(t);
    await counters.flush();
    const after = (await t.get('/api/v1/analytics/stats', t.tenant.admin)).json.ingestion;
    expect(after.accepted - before.accepted).toBe(1);
    expect(after.duplicate - before.duplicate).toBe(10);
    // and each is stored once.
    expect(await countStored(t, { eventIds: [...events, ...mixed].map((e) => e.event_id) })).toBe(11);
    const ledger = await t.db.query(
      'SELECT count(*)::int AS n FROM analytics_dedupe_ledger WHERE event_id = ANY($1::uuid[])',
      [events.map((e) => e.event_id)],
    );
    expect(ledger.rows[0].n).toBe(10);
  });

  it('leaves the ledger and the raw table in step', async () => {
    await settled(t);
    expect(await countLedger(t.db)).toBe(await countStored(t));
  });
});
