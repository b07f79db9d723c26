import { createHash, createHmac, randomUUID } from 'node:crypto';
import { expireCredentialCache } from './support/clock';
import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { countRows, drained, settled, runMaintenance } from './support/queue';
import { TestEnv, createTestEnv, request } from './support/test-env';

const DAY = 86_400_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest();
// The keyed forms, written out here apart from the service's code that makes them.
const pseudonym = (secret: Buffer, id: string) => createHmac('sha256', secret).update(id).digest('hex');
const erasureKey = (secret: Buffer, type: string, stored: string) =>
  createHmac('sha256', secret).update(`erasure:${type}:`).update(sha256(stored)).digest();
const memberKey = (secret: Buffer, unit: string) => createHmac('sha256', secret).update(`unit:${unit}`).digest();
const consentName = (secret: Buffer, kind: string, id: string) =>
  createHmac('sha256', secret)
    .update(`consent:${kind}:${sha256(id).toString('hex').slice(0, 32)}`)
    .digest('hex');

describe('subject identifiers are keyed, found in every stored form, and go with their events', () => {
  let t: TestEnv;
  let secretA: Buffer;
  let secretB: Buffer;
  // One minute for every event of a test, an hour back: each distinct unit is one member row per
  // level and dimension (3 × 4 = 12), whenever the test runs.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
  const at = new Date(base + 10_000).toISOString();
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_RETENTION_DAYS: '30', ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS: '100' });
    const secrets = await t.db.query('SELECT id, pseudonym_secret FROM analytics_tenants');
    const of = (id: string) => secrets.rows.find((r) => r.id === id).pseudonym_secret as Buffer;
    secretA = of(t.tenant.id);
    secretB = of(t.other.id);
    // tenant B pseudonymizes user ids by choice; tenant A does not
    await t.db.query('UPDATE analytics_tenants SET pseudonymize_user_id = true WHERE id = $1', [t.other.id]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs);
  });
  afterAll(async () => {
    await t.close();
  });

  const erase = async (body: object, key: string) => {
    const res = await t.post('/api/v1/analytics/subjects/erasure', body, key);
    expect(res.status).toBe(202);
    await waitFor(
      'the erasure',
      async () => (await t.get(res.json.status_url, key)).json.status === 'completed',
      20000,
    );
    return (await t.get(res.json.status_url, key)).json;
  };
  const exported = async (userId: string, key: string) => {
    const res = await request(`${t.url}/api/v1/analytics/subjects/export?user_id=${encodeURIComponent(userId)}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    return res.text
      ? res.text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).event_id as string)
      : [];
  };

  it('exports and erases a user stored as sent, pseudonymized by choice, or pseudonymized because it is an e-mail', async () => {
    const ev = (tenant: string, user: string) => makeEvent({ tenant_id: tenant, user_id: user, occurred_at: at });
    const plain = [ev(t.tenant.id, 'plain-7'), ev(t.tenant.id, 'plain-7')];
    const mail = [ev(t.tenant.id, 'jane@example.com'), ev(t.tenant.id, 'jane@example.com')];
    const chosen = [ev(t.other.id, 'chosen-9'), ev(t.other.id, 'chosen-9')];
    const bystanders = [ev(t.tenant.id, 'someone-else'), ev(t.other.id, 'someone-else')];
    expect((await t.post(BATCH, { events: [...plain, ...mail, bystanders[0]] })).json.accepted).toBe(5);
    expect((await t.post(BATCH, { events: [...chosen, bystanders[1]] }, t.other.ingest)).json.accepted).toBe(3);
    await drained(t.ingestQueue);

    // stored: as sent, the e-mail's pseudonym although tenant A does not pseudonymize, tenant B's pseudonym
    const storedIds = async (ids: string[]) =>
      (
        await t.db.query('SELECT DISTINCT user_id FROM analytics_events_raw WHERE event_id = ANY($1::uuid[])', [ids])
      ).rows.map((r) => r.user_id);
    const ids = (evs: Record<string, unknown>[]) => evs.map((e) => e.event_id as string);
    expect(await storedIds(ids(plain))).toEqual(['plain-7']);
    expect(await storedIds(ids(mail))).toEqual([pseudonym(secretA, 'jane@example.com')]);
    expect(await storedIds(ids(chosen))).toEqual([pseudonym(secretB, 'chosen-9')]);

    // the export finds each by the id the caller knows
    expect((await exported('plain-7', t.tenant.admin)).sort()).toEqual(ids(plain).sort());
    expect((await exported('jane@example.com', t.tenant.admin)).sort()).toEqual(ids(mail).sort());
    expect((await exported('chosen-9', t.other.admin)).sort()).toEqual(ids(chosen).sort());
    expect(await exported('chosen-9', t.tenant.admin)).toEqual([]); // the other tenant's subject

    // a queued event of the e-mail user, waiting while the erasure is requested, is never stored
    await t.stopWorker();
    const queued = ev(t.tenant.id, 'jane@example.com');
    expect((await t.post(EVENTS, queued)).json.status).toBe('accepted');
    const mailErasure = t.post('/api/v1/analytics/subjects/erasure', { user_id: 'jane@example.com' }, t.tenant.admin);
    expect((await mailErasure).status).toBe(202);
    await t.startWorker();
    await waitFor(
      'the erasure',
      async () => (await t.get((await mailErasure).json.status_url, t.tenant.admin)).json.status === 'completed',
      20000,
    );
    await drained(t.ingestQueue);
    expect((await t.get((await mailErasure).json.status_url, t.tenant.admin)).json.rows_deleted).toBe(2);
    expect(await countRows(t.db, 'event_id = $1', [queued.event_id])).toBe(0);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [ids(mail)])).toBe(0);

    expect((await erase({ user_id: 'plain-7' }, t.tenant.admin)).rows_deleted).toBe(2);
    expect((await erase({ user_id: 'chosen-9' }, t.other.admin)).rows_deleted).toBe(2);
    expect(await countRows(t.db)).toBe(2);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [ids(bystanders)])).toBe(2);

    // the requests hold one key per stored form (as sent, pseudonym), keyed with the tenant's secret, nothing else
    const requests = await t.db.query(
      `SELECT tenant_id, subject_type, subject_keys, row_to_json(x)::text AS text FROM analytics_erasures x ORDER BY requested_at`,
    );
    const expected = [
      [secretA, 'jane@example.com'],
      [secretA, 'plain-7'],
      [secretB, 'chosen-9'],
    ] as const;
    expect(requests.rows.map((r) => r.subject_keys.map((k: Buffer) => k.toString('hex')))).toEqual(
      expected.map(([s, id]) => [
        erasureKey(s, 'user', id).toString('hex'),
        erasureKey(s, 'user', pseudonym(s, id)).toString('hex'),
      ]),
    );
    for (const r of requests.rows) {
      for (const [s, id] of expected) {
        for (const needle of [
          id,
          pseudonym(s, id),
          sha256(id).toString('hex'),
          sha256(pseudonym(s, id)).toString('hex'),
        ])
          expect(r.text).not.toContain(needle);
      }
    }
  });

  it("keys distinct-rate members, erases those of a user's units, and expires them with the events, leaving the rollups as they were", async () => {
    const S1 = '71717171-7171-4717-8717-717171717171';
    const S2 = '72727272-7272-4727-8727-727272727272';
    const ev = (name: string, session: string, user: string, attributes: Record<string, unknown>) =>
      makeEvent({ event_name: name, session_id: session, user_id: user, occurred_at: at, attributes });
    const search = (id: string, session: string, user: string) =>
      ev('kb.search', session, user, {
        'kb.search_id': id,
        'kb.query': 'q',
        'kb.results_count': 1,
        'kb.latency_ms': 5,
      });
    const hit = (id: string, session: string, user: string) =>
      ev('kb.hit', session, user, { 'kb.search_id': id, 'kb.document_id': 'doc-1' });
    const view = (session: string, user: string) => ev('commerce.view', session, user, { 'commerce.item_id': 'sku-1' });
    const checkout = (session: string, user: string) =>
      ev('commerce.checkout', session, user, {
        'commerce.order_id': 'o-1',
        'commerce.value': 10,
        'commerce.currency': 'EUR',
      });
    const events = [
      search('q-1', S1, 'searcher'),
      search('q-1', S1, 'searcher'), // the same unit again: one member
      hit('q-1', S1, 'searcher'),
      search('q-2', S1, 'searcher'),
      view(S1, 'searcher'),
      checkout(S1, 'searcher'),
      search('q-3', S2, 'other-user'),
      view(S2, 'other-user'),
    ];
    expect((await t.post(BATCH, { events })).json.accepted).toBe(events.length);
    await settled(t);

    const members = async (tenant: string) =>
      (
        await t.db.query(
          `SELECT metric, side, unit_key, count(*)::int AS n FROM analytics_rollup_members WHERE tenant_id = $1
           GROUP BY metric, side, unit_key ORDER BY metric, side, unit_key`,
          [tenant],
        )
      ).rows.map((r) => ({ metric: r.metric, side: r.side, unit_key: (r.unit_key as Buffer).toString('hex'), n: r.n }));
    const member = (metric: string, side: string, unit: string) => ({
      metric,
      side,
      unit_key: memberKey(secretA, unit).toString('hex'),
      n: 12,
    });
    const sorted = (rows: ReturnType<typeof member>[]) =>
      rows.sort((a, b) => (`${a.metric}|${a.side}|${a.unit_key}` < `${b.metric}|${b.side}|${b.unit_key}` ? -1 : 1));
    expect(await members(t.tenant.id)).toEqual(
      sorted([
        member('commerce.conversion_rate', 'd', S1),
        member('commerce.conversion_rate', 'd', S2),
        member('commerce.conversion_rate', 'n', S1),
        member('kb.hit_rate', 'd', 'q-1'),
        member('kb.hit_rate', 'd', 'q-2'),
        member('kb.hit_rate', 'd', 'q-3'),
        member('kb.hit_rate', 'n', 'q-1'),
      ]),
    );
    const rollups = async () =>
      (
        await t.db.query(
          `SELECT md5(string_agg(r::text, ',' ORDER BY r::text)) AS digest, count(*)::int AS n FROM analytics_rollups r`,
        )
      ).rows[0];
    const before = await rollups();
    const dayRow = async (metric: string) =>
      (
        await t.db.query(
          `SELECT count::int, num::int FROM analytics_rollups WHERE tenant_id = $1 AND metric = $2 AND level = 'd'
             AND site_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND source = '*'`,
          [t.tenant.id, metric],
        )
      ).rows;
    expect(await dayRow('kb.hit_rate')).toEqual([{ count: 3, num: 1 }]);
    expect(await dayRow('commerce.conversion_rate')).toEqual([{ count: 2, num: 1 }]);

    // erasing the user removes the members of its units (its searches and its session), nobody else's
    const erased = await erase({ user_id: 'searcher' }, t.tenant.admin);
    expect(erased.rows_deleted).toBe(6);
    expect(await members(t.tenant.id)).toEqual(
      sorted([member('commerce.conversion_rate', 'd', S2), member('kb.hit_rate', 'd', 'q-3')]),
    );
    expect(await rollups()).toEqual(before); // the rollup rows count what they counted
    expect(await dayRow('kb.hit_rate')).toEqual([{ count: 3, num: 1 }]);

    // members expire with the events of their bucket: tenant B's search of two days ago goes when
    // those events pass the retention (30 days), its search of an hour ago stays; rollups stay
    const old = search('q-old', S1, 'b-user');
    old.tenant_id = t.other.id;
    old.occurred_at = new Date(base - 2 * DAY + 10_000).toISOString();
    const recent = search('q-new', S2, 'b-user');
    recent.tenant_id = t.other.id;
    expect((await t.post(BATCH, { events: [old, recent] }, t.other.ingest)).json.accepted).toBe(2);
    // and quarantined events go by their own time, as stored ones do
    await t.db.query(`UPDATE analytics_tenants SET validation_mode = 'quarantine' WHERE id = $1`, [t.other.id]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs);
    const failing = (e: Record<string, unknown>) => ({
      ...e,
      event_id: randomUUID(),
      attributes: { ...(e.attributes as object), 'kb.results_count': 'many' },
    });
    const [oldKept, recentKept] = [failing(old), failing(recent)];
    expect((await t.post(BATCH, { events: [oldKept, recentKept] }, t.other.ingest)).json.quarantined).toBe(2);
    await settled(t);
    await waitFor(
      'the quarantine',
      async () => (await t.db.query('SELECT count(*)::int AS n FROM analytics_quarantine')).rows[0].n === 2,
    );
    const bMembers = () =>
      t.db.query(
        `SELECT unit_key, count(*)::int AS n FROM analytics_rollup_members WHERE tenant_id = $1 GROUP BY unit_key ORDER BY n`,
        [t.other.id],
      );
    expect((await bMembers()).rows).toHaveLength(2);
    const rollupsBefore = await rollups();
    const outcome = await runMaintenance(t, 'apply-retention', { now: new Date(Date.now() + 29 * DAY).toISOString() });
    expect(outcome.deleted_rollup_members).toBe(12);
    expect(outcome.deleted_rollup_rows).toBe(0);
    expect(outcome.deleted_quarantined).toBe(1);
    expect((await t.db.query('SELECT event_id FROM analytics_quarantine')).rows).toEqual([
      { event_id: recentKept.event_id },
    ]);
    expect((await bMembers()).rows.map((r) => [(r.unit_key as Buffer).toString('hex'), r.n])).toEqual([
      [memberKey(secretB, 'q-new').toString('hex'), 12],
    ]);
    expect(await rollups()).toEqual(rollupsBefore);
    expect((await members(t.tenant.id)).length).toBe(2); // tenant A's events are an hour old

    // no unit is stored as sent anywhere in the members
    const text = (await t.db.query(`SELECT string_agg(m::text, ',') AS s FROM analytics_rollup_members m`)).rows[0].s;
    for (const unit of ['q-1', 'q-2', 'q-3', 'q-new', S1, S2]) expect(text).not.toContain(unit);
  });

  it('renames consent records of the old form at worker start, so that a withdrawal recorded before still drops', async () => {
    const session = '73737373-7373-4737-8737-737373737373';
    const prefix = t.config.redis.prefix;
    const oldName = `${prefix}:consent:${t.tenant.id}:s:${sha256(session).toString('hex').slice(0, 32)}`;
    const index = `${prefix}:consent-subjects:${t.tenant.id}`;
    const expiresAt = Date.now() + 20 * DAY;
    await t.stopWorker();
    await t.redis.set(oldName, '1', 'PX', 20 * DAY);
    await t.redis.zadd(index, expiresAt, oldName);
    await t.startWorker();

    const newName = `${prefix}:consent:${t.tenant.id}:s:${consentName(secretA, 's', session)}`;
    expect(await t.redis.exists(oldName)).toBe(0);
    expect(await t.redis.get(newName)).toBe('1');
    const ttl = await t.redis.pttl(newName);
    expect(ttl).toBeGreaterThan(20 * DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(20 * DAY);
    expect(await t.redis.zrange(index, 0, -1, 'WITHSCORES')).toEqual([newName, String(expiresAt)]);

    const later = makeEvent({ session_id: session, context: { locale: 'en' } });
    expect((await t.post(EVENTS, later)).json.status).toBe('dropped');
    // a withdrawal recorded now has the new name
    const S = '74747474-7474-4747-8747-747474747474';
    const refused = makeEvent({ session_id: S, user_id: 'u-refuses', context: { consent: { analytics: false } } });
    expect((await t.post(EVENTS, refused)).json.status).toBe('dropped');
    expect((await t.redis.keys(`${prefix}:consent:*`)).sort()).toEqual(
      [
        newName,
        `${prefix}:consent:${t.tenant.id}:s:${consentName(secretA, 's', S)}`,
        `${prefix}:consent:${t.tenant.id}:u:${consentName(secretA, 'u', 'u-refuses')}`,
      ].sort(),
    );
  });
});
