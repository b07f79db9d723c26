import { expireCredentialCache } from './support/clock';
import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { countLedger, settled, runMaintenance } from './support/queue';
import { countStored, partitionDays, rollupRows, storedRows } from './support/stored';
import { STORAGE_KINDS, StorageKind, TestEnv, createTestEnv, request } from './support/test-env';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY + 3_600_000).toISOString();
const dayOf = (iso: string) => iso.slice(0, 10);

describe.each(STORAGE_KINDS)('retention (%s)', (storage: StorageKind) => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv(
      {
        ANALYTICS_RETENTION_DAYS: '30',
        ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS: '20',
        ANALYTICS_ROLLUP_RETENTION_DAYS: '40',
      },
      { storage },
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it('drops exactly the expired partitions and deletes exactly the expired rows, for two tenants with different retention', async () => {
    await t.db.query('UPDATE analytics_tenants SET retention_days = 60 WHERE id = ANY($1::uuid[])', [
      [t.tenant.id, t.other.id],
    ]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs);
    const ages = [5, 15, 25, 35, 45];
    for (const [tenant, key] of [
      [t.tenant.id, t.tenant.ingest],
      [t.other.id, t.other.ingest],
    ]) {
      const res = await t.post(
        BATCH,
        {
          events: ages.map((a) =>
            makeEvent({
              tenant_id: tenant,
              occurred_at: ago(a),
              attributes: { 'voice.turn_id': `age-${a}`, 'voice.first_response_ms': 1 },
            }),
          ),
        },
        key,
      );
      expect(res.json.accepted).toBe(5);
    }
    await settled(t);
    expect(await countStored(t)).toBe(10);

    // tenant A keeps 10 days, tenant B 30, everyone else the default 30
    await t.db.query('UPDATE analytics_tenants SET retention_days = 10 WHERE id = $1', [t.tenant.id]);
    await t.db.query('UPDATE analytics_tenants SET retention_days = 30 WHERE id = $1', [t.other.id]);
    const olderThan = (days: number) => (x: { bucket: Date }) => x.bucket.getTime() < Date.now() - days * DAY;
    const rollupsBefore = [];
    for (const level of ['d', 'h', 'm'] as const) {
      const rows = await rollupRows(t, level);
      rollupsBefore.push({
        level,
        n: rows.length,
        old_minutes: rows.filter(olderThan(20)).length,
        old: rows.filter(olderThan(40)).length,
      });
    }
    const outcome = await runMaintenance(t, 'apply-retention', {});
    const expectedRollups = rollupsBefore.reduce((a, r) => a + (r.level === 'm' ? r.old_minutes : r.old), 0);
    // Each of the 10 events makes 8 rows per level, in buckets of its own: older than 20 days are
    // the events aged 25, 35 and 45 (of both tenants), older than 40 days those aged 45.
    const PER_EVENT = 8;
    expect(rollupsBefore).toEqual(
      ['d', 'h', 'm'].map((level) => ({ level, n: 10 * PER_EVENT, old_minutes: 6 * PER_EVENT, old: 2 * PER_EVENT })),
    );
    expect(expectedRollups).toBe(6 * PER_EVENT + 2 * PER_EVENT + 2 * PER_EVENT); // minutes past 20 days, hours and days past 40
    expect(outcome).toEqual({
      dropped_partitions: [dayOf(ago(45)), dayOf(ago(35))],
      deleted_rows: 2,
      deleted_ledger_entries: 6,
      deleted_rollup_rows: expectedRollups,
      deleted_rollup_members: 0,
      deleted_quarantined: 0,
    });
    // rollups outlive the raw rows they came from (they hold no personal data): the 35-day-old day rows stay
    const kept = (await rollupRows(t, 'd')).filter((x) => x.bucket.toISOString() === `${dayOf(ago(35))}T00:00:00.000Z`);
    expect(kept).toHaveLength(2 * PER_EVENT); // the day rows of both tenants' 35-day-old events
    expect((await rollupRows(t, 'm')).filter(olderThan(20))).toHaveLength(0);

    const left = [...(await storedRows(t, t.tenant.id)), ...(await storedRows(t, t.other.id))];
    expect(
      left.map((r) => `${r.tenant_id === t.tenant.id ? 'A' : 'B'} ${String(r.attributes['voice.turn_id'])}`).sort(),
    ).toEqual(['A age-5', 'B age-15', 'B age-25', 'B age-5']);
    expect(await countLedger(t.db)).toBe(4);
    const days = await partitionDays(t);
    expect(days).toContain(dayOf(ago(5)));
    expect(days).not.toContain(dayOf(ago(35)));
    expect(days).not.toContain(dayOf(ago(45)));

    // the tenant's own retention also refuses old events at ingestion (settings are cached; the api's clock moves past the cache)
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs);
    const old = await t.post(EVENTS, makeEvent({ occurred_at: ago(12) }));
    expect(old.json.detail).toBe('/occurred_at is older than the retention window of 10 days');
  });
});

describe.each(STORAGE_KINDS)('erasure and export (%s)', (storage: StorageKind) => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { storage });
  });
  afterAll(async () => {
    await t.close();
  });

  const S1 = '51515151-5151-4515-8515-515151515151';
  const ev = (user: string, extra: Record<string, unknown> = {}) => makeEvent({ user_id: user, ...extra });

  it('erases every event of the subject, including events still queued, and nothing of anyone else', async () => {
    const u1 = [ev('u1'), ev('u1'), ev('u1')];
    const u2 = [ev('u2'), ev('u2')];
    const s1 = [ev('u3', { session_id: S1 }), ev('u4', { session_id: S1 })];
    const otherTenantU1 = makeEvent({ tenant_id: t.other.id, user_id: 'u1' });
    expect((await t.post(BATCH, { events: [...u1, ...u2, ...s1] })).json.accepted).toBe(7);
    expect((await t.post(EVENTS, otherTenantU1, t.other.ingest)).json.status).toBe('accepted');
    await settled(t);

    // with the worker stopped, two more events of u1 wait in the queue when the erasure is requested
    await t.stopWorker();
    const queued = [ev('u1'), ev('u1')];
    expect((await t.post(BATCH, { events: queued })).json.accepted).toBe(2);
    const requested = await t.post('/api/v1/analytics/subjects/erasure', { user_id: 'u1' }, t.tenant.admin);
    expect(requested.status).toBe(202);
    expect(requested.json.status).toBe('pending');
    expect((await t.get(requested.json.status_url, t.tenant.admin)).json.status).toBe('pending');
    await t.startWorker();

    await waitFor(
      'the erasure',
      async () => (await t.get(requested.json.status_url, t.tenant.admin)).json.status === 'completed',
    );
    await settled(t);
    const done = (await t.get(requested.json.status_url, t.tenant.admin)).json;
    expect(done).toMatchObject({
      id: requested.json.request_id,
      subject_type: 'user',
      status: 'completed',
      rows_deleted: 3,
    });
    expect(await countStored(t, { userId: 'u1', tenantId: t.tenant.id })).toBe(0);
    expect(await countStored(t, { eventIds: queued.map((e) => e.event_id) })).toBe(0);
    expect(await countStored(t, { userId: 'u2' })).toBe(2);
    expect(await countStored(t, { eventIds: [otherTenantU1.event_id] })).toBe(1);

    // the audit log has when, which tenant and how many rows, and nothing of the subject
    const audit = await t.db.query('SELECT * FROM analytics_erasure_audit');
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({ tenant_id: t.tenant.id, subject_type: 'user', rows_deleted: 3 });
    expect(JSON.stringify(audit.rows[0])).not.toContain('u1');

    // a later event of the subject is a new event
    const back = ev('u1');
    expect((await t.post(EVENTS, back)).json.status).toBe('accepted');
    await settled(t);
    expect(await countStored(t, { eventIds: [back.event_id] })).toBe(1);

    // by session
    const bySession = await t.post('/api/v1/analytics/subjects/erasure', { session_id: S1 }, t.tenant.admin);
    await waitFor(
      'the session erasure',
      async () => (await t.get(bySession.json.status_url, t.tenant.admin)).json.status === 'completed',
    );
    expect((await t.get(bySession.json.status_url, t.tenant.admin)).json.rows_deleted).toBe(2);
    expect(await countStored(t, { sessionId: S1 })).toBe(0);

    // requests are the tenant's own, and must name one subject
    expect((await t.get(requested.json.status_url, t.other.admin)).status).toBe(404);
    expect((await t.post('/api/v1/analytics/subjects/erasure', {}, t.tenant.admin)).status).toBe(400);
    expect((await t.post('/api/v1/analytics/subjects/erasure', { user_id: 'u1' }, t.tenant.report)).status).toBe(403);
  });

  it("exports exactly the subject's events as NDJSON, also when user ids are pseudonymized", async () => {
    const mine = [ev('exp-1', { occurred_at: ago(2) }), ev('exp-1', { occurred_at: ago(1) })];
    await t.post(BATCH, { events: [...mine, ev('exp-2')] });
    await t.db.query('UPDATE analytics_tenants SET pseudonymize_user_id = true WHERE id = $1', [t.other.id]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs);
    const pseudo = makeEvent({ tenant_id: t.other.id, user_id: 'exp-1' });
    await t.post(EVENTS, pseudo, t.other.ingest);
    await settled(t);

    const res = await request(`${t.url}/api/v1/analytics/subjects/export?user_id=exp-1`, {
      headers: { authorization: `Bearer ${t.tenant.admin}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event_id)).toEqual(mine.map((e) => e.event_id));
    expect(lines[0]).toMatchObject({ user_id: 'exp-1', event_name: 'voice.first_response', tenant_id: t.tenant.id });

    const other = await request(`${t.url}/api/v1/analytics/subjects/export?user_id=exp-1`, {
      headers: { authorization: `Bearer ${t.other.admin}` },
    });
    const otherLines = other.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(otherLines.map((l) => l.event_id)).toEqual([pseudo.event_id]);
    expect(otherLines[0].user_id).toMatch(/^[0-9a-f]{64}$/); // stored pseudonymized, found by the original id
    expect(
      (
        await request(`${t.url}/api/v1/analytics/subjects/export?user_id=nobody`, {
          headers: { authorization: `Bearer ${t.tenant.admin}` },
        })
      ).text,
    ).toBe('');
  });
});
