import { randomUUID } from 'node:crypto';
import { SchemaCatalog, NamedSchemaSets } from '../src/modules/schema-registry/schema-catalog.service';
import { SchemaRepository } from '../src/modules/schema-registry/schema.repository';
import { BATCH, EVENTS, OTHER_TENANT, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

const SCHEMAS = '/api/v1/analytics/schemas';
const ERASURE = '/api/v1/analytics/subjects/erasure';

describe('consent withdrawals per tenant (ANALYTICS_CONSENT_MAX_SUBJECTS)', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_CONSENT_MAX_SUBJECTS: '3' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  /** An event of a fresh session and no user: one consent subject. */
  const event = (analytics: boolean | undefined, session = randomUUID(), tenant_id = t.tenant.id) => {
    const e = makeEvent({ session_id: session, tenant_id });
    delete e.user_id;
    (e.context as Record<string, unknown>).consent = analytics === undefined ? {} : { analytics };
    return e;
  };
  const records = (tenant: string) => t.redis.zcard(`${t.config.redis.prefix}:consent-subjects:${tenant}`);
  const claimed = (e: Record<string, unknown>) =>
    t.redis.exists(`${t.config.redis.prefix}:dedupe:${t.tenant.id}:${e.event_id as string}`);
  const quotaProblem = (what: string) => ({
    type: 'https://analytics.dev/problems/consent-quota',
    title: 'Consent quota reached',
    status: 429,
    detail: `This tenant already keeps 3 consent withdrawals (ANALYTICS_CONSENT_MAX_SUBJECTS), and ${what} consent for a subject without one: nothing of this request was stored. Withdrawals expire after the tenant's retention (90 days) and end when consent is given again; ask the operator to raise the quota.`,
    quota: 'consent_subjects',
    limit: 3,
  });
  const sessions = [randomUUID(), randomUUID(), randomUUID()];

  it('records withdrawals up to the quota, each dropping its event', async () => {
    const res = await t.post(BATCH, { events: sessions.map((s) => event(false, s)) });
    expect(res.status).toBe(202);
    expect(res.json.results.map((r: { status: string }) => r.status)).toEqual(['dropped', 'dropped', 'dropped']);
    expect(await records(t.tenant.id)).toBe(3);
  });

  it('refuses a batch with a withdrawal beyond it whole: 429, nothing claimed or recorded', async () => {
    const given = event(true);
    const res = await t.post(BATCH, { events: [given, event(false)] });
    expect([res.status, res.json]).toEqual([429, quotaProblem('this request holds an event withdrawing')]);
    expect(await records(t.tenant.id)).toBe(3);
    expect(await claimed(given)).toBe(0);
    // The same event alone is accepted, not taken for a duplicate: the refused batch claimed nothing.
    const alone = await t.post(EVENTS, given);
    expect([alone.status, alone.json.status]).toEqual([202, 'accepted']);
  });

  it('refuses a single event that would record a new withdrawal: 429', async () => {
    const res = await t.post(EVENTS, event(false));
    expect([res.status, res.json]).toEqual([429, quotaProblem('this event withdraws')]);
    expect(await records(t.tenant.id)).toBe(3);
  });

  it('still honours withdrawals already recorded, and repeating one is no new record', async () => {
    const again = await t.post(EVENTS, event(false, sessions[0]));
    expect([again.status, again.json.status]).toEqual([202, 'dropped']);
    const later = await t.post(EVENTS, event(undefined, sessions[1]));
    expect([later.status, later.json.status]).toEqual([202, 'dropped']);
    expect(await records(t.tenant.id)).toBe(3);
  });

  it('frees a place when a subject gives consent again', async () => {
    const given = await t.post(EVENTS, event(true, sessions[2]));
    expect([given.status, given.json.status]).toEqual([202, 'accepted']);
    expect(await records(t.tenant.id)).toBe(2);
    const fresh = await t.post(EVENTS, event(false));
    expect([fresh.status, fresh.json.status]).toEqual([202, 'dropped']);
    expect(await records(t.tenant.id)).toBe(3);
  });

  it("is per tenant: another tenant's withdrawals are recorded", async () => {
    const res = await t.post(EVENTS, event(false, randomUUID(), OTHER_TENANT), t.other.ingest);
    expect([res.status, res.json.status]).toEqual([202, 'dropped']);
    expect(await records(OTHER_TENANT)).toBe(1);
  });
});

describe('schemas per tenant (ANALYTICS_SCHEMA_MAX_COUNT, ANALYTICS_SCHEMA_MAX_TOTAL_KB)', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_SCHEMA_MAX_COUNT: '3', ANALYTICS_SCHEMA_MAX_TOTAL_KB: '2' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const small = (prop: string) => ({ type: 'object', properties: { [prop]: { type: 'string' } } });
  const publish = (name: string, schema: unknown, key = t.tenant.admin, version = '1-0-0') =>
    t.post(SCHEMAS, { event_name: name, version, schema }, key);
  const stored = async (tenant: string) =>
    (await t.db.query('SELECT count(*)::int AS n FROM analytics_schemas WHERE tenant_id = $1', [tenant])).rows[0].n;

  it('refuses the version beyond ANALYTICS_SCHEMA_MAX_COUNT with 422 naming the quota', async () => {
    for (const name of ['acme.one', 'acme.two', 'acme.three'])
      expect((await publish(name, small('a'))).status).toBe(201);
    const res = await publish('acme.four', small('a'));
    expect([res.status, res.json]).toEqual([
      422,
      {
        type: 'https://analytics.dev/problems/schema-quota',
        title: 'Schema quota reached',
        status: 422,
        detail:
          'This tenant has 3 schema versions published, the most allowed (ANALYTICS_SCHEMA_MAX_COUNT=3); acme.four 1-0-0 was not published.',
        quota: 'schema_count',
        limit: 3,
      },
    ]);
    expect(await stored(t.tenant.id)).toBe(3);
  });

  it('refuses a version that would pass ANALYTICS_SCHEMA_MAX_TOTAL_KB with 422 naming the quota', async () => {
    const big = (n: number) => ({ type: 'object', description: 'x'.repeat(n) });
    expect((await publish('globex.big', big(1200), t.other.admin)).status).toBe(201);
    const measure = async (schema: unknown) =>
      (await t.db.query<{ n: number }>('SELECT octet_length($1::jsonb::text) AS n', [JSON.stringify(schema)])).rows[0]
        .n;
    const first = await measure(big(1200));
    const second = await measure(big(900));
    expect(first + second).toBeGreaterThan(2048);
    const res = await publish('globex.bigger', big(900), t.other.admin);
    expect([res.status, res.json]).toEqual([
      422,
      {
        type: 'https://analytics.dev/problems/schema-quota',
        title: 'Schema quota reached',
        status: 422,
        detail: `Publishing globex.bigger 1-0-0 (${Math.ceil(second / 1024)} KB) would bring this tenant's schemas to ${Math.ceil((first + second) / 1024)} KB, over the 2 KB allowed (ANALYTICS_SCHEMA_MAX_TOTAL_KB); it was not published.`,
        quota: 'schema_total_kb',
        limit: 2,
      },
    ]);
    expect(await stored(OTHER_TENANT)).toBe(1);
    expect((await publish('globex.small', small('a'), t.other.admin)).status).toBe(201);
  });

  it("a publish reads and recompiles only that name's versions; the tenant's other names keep theirs", async () => {
    const catalog = t.api!.get(SchemaCatalog);
    const repo = t.api!.get(SchemaRepository);
    const ev = (name: string, attributes: Record<string, unknown>) =>
      makeEvent({ event_name: name, tenant_id: OTHER_TENANT, attributes });
    expect((await t.post(EVENTS, ev('globex.small', { a: 'x' }), t.other.ingest)).status).toBe(202);
    const before = (await catalog.forTenant(OTHER_TENANT)) as NamedSchemaSets;
    const kept = before.sets.get('globex.big')!;
    const compiled = kept.latestEvent('globex.big');
    const wholeReads = jest.spyOn(repo, 'forTenant');
    const nameReads = jest.spyOn(repo, 'forName');
    try {
      const next = await t.post(
        SCHEMAS,
        { event_name: 'globex.small', version: '2-0-0', schema: { ...small('a'), required: ['a'] } },
        t.other.admin,
      );
      expect(next.status).toBe(201);
      await waitFor(
        'the announcement to reach this instance',
        () => nameReads.mock.calls.length >= 2, // once on publish, once on its own message
      );
      const missing = await t.post(EVENTS, ev('globex.small', {}), t.other.ingest);
      expect(missing.status).toBe(400);
      expect(missing.json.errors[0].schema).toBe('globex.small/2-0-0');
      expect(wholeReads).not.toHaveBeenCalled();
      expect(new Set(nameReads.mock.calls.map((c) => c.join(' ')))).toEqual(new Set([`${OTHER_TENANT} globex.small`]));
      const after = (await catalog.forTenant(OTHER_TENANT)) as NamedSchemaSets;
      expect(after.sets.get('globex.big')).toBe(kept);
      expect(after.sets.get('globex.big')!.latestEvent('globex.big')).toBe(compiled);
    } finally {
      wholeReads.mockRestore();
      nameReads.mockRestore();
    }
  });
});

describe('erasure requests in flight per tenant (ANALYTICS_ERASURE_MAX_PENDING)', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_ERASURE_MAX_PENDING: '2' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const erase = (key = t.tenant.admin) => t.post(ERASURE, { session_id: randomUUID() }, key);
  const pending = async (tenant: string) =>
    (
      await t.db.query(
        `SELECT count(*)::int AS n FROM analytics_erasures WHERE tenant_id = $1 AND status = 'pending'`,
        [tenant],
      )
    ).rows[0].n;

  it('refuses the request beyond the quota with 429 and Retry-After, until one completes', async () => {
    expect((await erase()).status).toBe(202);
    expect((await erase()).status).toBe(202);
    const res = await erase();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.json).toEqual({
      type: 'https://analytics.dev/problems/erasure-quota',
      title: 'Too many erasures in flight',
      status: 429,
      detail:
        'This tenant already has 2 erasure requests pending (ANALYTICS_ERASURE_MAX_PENDING); this one was not recorded. Retry after 5 s, once some have completed.',
      quota: 'erasures_pending',
      limit: 2,
    });
    expect(await pending(t.tenant.id)).toBe(2);
    // Another tenant has its own quota.
    expect((await erase(t.other.admin)).status).toBe(202);

    await t.startWorker();
    await waitFor('the pending erasures to complete', async () => (await pending(t.tenant.id)) === 0);
    expect((await erase()).status).toBe(202);
  });

  it('counts concurrent requests exactly', async () => {
    await waitFor('the pending erasures to complete', async () => (await pending(t.tenant.id)) === 0);
    await t.stopWorker();
    const answers = await Promise.all(Array.from({ length: 6 }, () => erase()));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429, 429, 429]);
    expect(await pending(t.tenant.id)).toBe(2);
  });
});
