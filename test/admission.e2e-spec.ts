import { StoredEvent } from '../src/modules/contracts/stored-event';
import { AdmissionStore } from '../src/modules/ingestion/admission.store';
import { holdSingleEventFlushes } from './support/batcher';
import { EVENTS, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

/** The admission script (consent, then the dedupe claim, in one round trip) against the real Redis. */
describe('admission store: consent and dedupe claims in one script', () => {
  let t: TestEnv;
  let store: AdmissionStore;
  // Claims name the job that carries their event; this one stays in Redis (no worker runs here).
  const HELD = 'jheld';
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_DEDUPE_WINDOW_MS: '60000' }, { worker: false });
    store = t.api!.get(AdmissionStore);
    await t.ingestQueue.add('persist-events', { events: [] }, { jobId: HELD });
  });
  // Consent records are keyed with a tenant's secret; the store is called here as ingestion calls it.
  const SECRET = Buffer.alloc(32, 7);
  const policy = (days: number) => ({ retentionDays: days, pseudonymSecret: SECRET });
  const admit = (events: StoredEvent[], retention: number | number[], job = HELD) =>
    store.admit(
      events,
      typeof retention === 'number' ? policy(retention) : retention.map(policy),
      events.map(() => job),
    );
  afterAll(async () => {
    await t.close();
  });

  const ev = (over: Record<string, unknown> = {}) =>
    makeEvent({ context: { locale: 'en' }, ...over }) as unknown as StoredEvent;
  const consent = (analytics: boolean) => ({ context: { consent: { analytics, ads: false } } });
  const keys = (kind: string) => t.redis.keys(`${t.config.redis.prefix}:${kind}:*`);

  it('claims each event once, the first occurrence winning inside one call, for the dedupe window', async () => {
    const [a, b, c] = [ev(), ev(), ev()];
    expect(await admit([a, b, a], 30)).toEqual(['claimed', 'claimed', 'duplicate']);
    expect(await admit([b, c], 30)).toEqual(['duplicate', 'claimed']);
    const ttl = await t.redis.pttl(`${t.config.redis.prefix}:dedupe:${a.tenant_id}:${a.event_id}`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.release([a]);
    expect(await admit([a, b], 30)).toEqual(['claimed', 'duplicate']);
    expect(await admit([], 30)).toEqual([]);
  });

  it('settles a claim whose job is not in Redis with the ledger: claimed again when not stored, duplicate when stored', async () => {
    const [lost, stored] = [ev(), ev()];
    // claims naming a job that never landed (the request died between the claim and the enqueue)
    expect(await admit([lost, stored], 30, 'jnever')).toEqual(['claimed', 'claimed']);
    await t.db.query('INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at) VALUES ($1, $2, now())', [
      stored.tenant_id,
      stored.event_id,
    ]);
    expect(await admit([lost, stored], 30)).toEqual(['claimed', 'duplicate']);
    // the claim now names this call's job, which is in Redis, and when it was made
    expect(await t.redis.get(`${t.config.redis.prefix}:dedupe:${lost.tenant_id}:${lost.event_id}`)).toMatch(
      new RegExp(`^${HELD}\\|\\d+$`),
    );
    expect(await admit([lost], 30)).toEqual(['duplicate']);
  });

  it('answers a resend after the dedupe window from the ledger: duplicate when stored, claimed when it never was', async () => {
    const [stored, released] = [ev(), ev()];
    expect(await admit([stored, released], 30)).toEqual(['claimed', 'claimed']);
    await t.db.query('INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at) VALUES ($1, $2, now())', [
      stored.tenant_id,
      stored.event_id,
    ]);
    // the window ends: the claims are gone, the seen-filter remembers both ids
    await t.redis.del(...[stored, released].map((e) => `${t.config.redis.prefix}:dedupe:${e.tenant_id}:${e.event_id}`));
    expect(await admit([stored, released], 30)).toEqual(['duplicate', 'claimed']);
    const filters = await keys('seen');
    expect(filters).toEqual([
      `${t.config.redis.prefix}:seen:${stored.tenant_id}:${String(stored.occurred_at).slice(0, 10)}`,
    ]);
    expect(await t.redis.ttl(filters[0])).toBeGreaterThan(31 * 86400);
  });

  it('decides consent in order, records withdrawals as hashes for the retention, and claims nothing it drops', async () => {
    const session = '44444444-4444-4444-8444-444444444444';
    const refused = ev({ session_id: session, user_id: 'u_refuses', ...consent(false) });
    const later = ev({ session_id: session, user_id: 'u_refuses' });
    const sameUser = ev({ user_id: 'u_refuses' });
    const someoneElse = ev({ user_id: 'u_other' });
    expect(await admit([refused, later, sameUser, someoneElse], 30)).toEqual([
      'dropped',
      'dropped',
      'dropped',
      'claimed',
    ]);
    const withdrawals = await keys('consent');
    expect(withdrawals).toHaveLength(2); // the session and the user
    expect(withdrawals.join(' ')).not.toMatch(/u_refuses|44444444/);
    for (const k of withdrawals) {
      const ttl = await t.redis.ttl(k);
      expect(ttl).toBeGreaterThan(30 * 86400 - 60);
      expect(ttl).toBeLessThanOrEqual(30 * 86400);
    }
    // nothing dropped was claimed: the refused event, consented now, is claimed; the withdrawal ends
    expect(await admit([{ ...refused, ...consent(true) }, later], 30)).toEqual(['claimed', 'claimed']);
    expect(await keys('consent')).toEqual([]);
  });

  it('applies a decision to the events after it in the same call, and lets a later allowed repeat take the claim', async () => {
    const user = { user_id: 'u_batch', session_id: '55555555-5555-4555-8555-555555555555' };
    const once = ev({ ...user, ...consent(false) });
    const events = [
      once,
      ev(user),
      ev({ ...user, ...consent(true) }),
      ev(user),
      { ...once, ...consent(true) } as StoredEvent,
    ];
    expect(await admit(events, 30)).toEqual(['dropped', 'dropped', 'claimed', 'claimed', 'claimed']);
    expect(await keys('consent')).toEqual([]);
  });

  it("admits events of several tenants in one call, each withdrawal kept for its own tenant's retention", async () => {
    const [a, b] = [
      ev({ user_id: 'u_tenant_a', ...consent(false) }),
      ev({ tenant_id: t.other.id, user_id: 'u_tenant_b', ...consent(false) }),
    ];
    const [laterA, laterB] = [ev({ user_id: 'u_tenant_a' }), ev({ tenant_id: t.other.id, user_id: 'u_tenant_b' })];
    expect(await admit([a, b, laterA, laterB], [30, 7, 30, 7])).toEqual(['dropped', 'dropped', 'dropped', 'dropped']);
    const ttls = Object.fromEntries(
      await Promise.all((await keys('consent')).map(async (k) => [k.split(':')[2], await t.redis.ttl(k)])),
    );
    expect(Object.keys(ttls).sort()).toEqual([t.tenant.id, t.other.id].sort());
    expect(ttls[t.tenant.id]).toBeGreaterThan(30 * 86400 - 60);
    expect(ttls[t.tenant.id]).toBeLessThanOrEqual(30 * 86400);
    expect(ttls[t.other.id]).toBeGreaterThan(7 * 86400 - 60);
    expect(ttls[t.other.id]).toBeLessThanOrEqual(7 * 86400);
    await admit(
      [
        { ...a, ...consent(true) },
        { ...b, ...consent(true) },
      ],
      [30, 7],
    );
    expect(await keys('consent')).toEqual([]);
  });
});

/** Over HTTP: single events that arrive within one linger are admitted and queued together. */
describe('single events admitted per group', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_BATCH_LINGER_MS: '400' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('decides a group of requests from two tenants in arrival order, as one call per request would, and queues them as one job', async () => {
    const consent = (analytics: boolean) => ({ context: { locale: 'en', consent: { analytics, ads: false } } });
    // A first event flushes at once; what arrives within the linger after it waits for one group.
    expect((await t.post(EVENTS, makeEvent())).json.status).toBe('accepted');
    // The group's flush waits until the test lets it go: the refusal is in the group first (the
    // batcher has it before the others are sent), and the others are in it whatever the machine's speed.
    const held = holdSingleEventFlushes(t);
    let answered = 0;
    const counted = <T>(p: Promise<T>) => p.finally(() => answered++);
    const refuses = counted(t.post(EVENTS, makeEvent({ user_id: 'u_shared', ...consent(false) })));
    await waitFor('the refusing request to reach the batcher', () => held.added() === 1);
    const noFlag = { context: { locale: 'en' } }; // no consent decision of their own
    const [later, otherTenant, fresh, repeat] = [
      makeEvent({ user_id: 'u_shared', ...noFlag }),
      makeEvent({ tenant_id: t.other.id, user_id: 'u_shared', ...noFlag }),
      makeEvent({ user_id: 'u_fresh', ...noFlag }),
      makeEvent({ user_id: 'u_fresh', ...noFlag }),
    ];
    const all = Promise.all([
      refuses,
      counted(t.post(EVENTS, later)),
      counted(t.post(EVENTS, otherTenant, t.other.ingest)),
      counted(t.post(EVENTS, fresh)),
      counted(t.post(EVENTS, repeat)).then(async (first) => [first, await t.post(EVENTS, repeat)]),
    ]);
    await waitFor('the group of five to reach the batcher', () => held.added() === 5);
    // The group waits for its flush: none of its requests was admitted on its own.
    expect(answered).toBe(0);
    held.release();
    const answers = await all;
    const [r1, r2, r3, r4, [r5, r5again]] = answers;
    expect([r1, r2, r3, r4, r5].map((a) => [a.status, a.json.status])).toEqual([
      [202, 'dropped'], // consent refused
      [202, 'dropped'], // the same user of the same tenant, later in the group
      [202, 'accepted'], // the same user id of another tenant is another person
      [202, 'accepted'],
      [202, 'accepted'],
    ]);
    expect(r5again.json.status).toBe('duplicate');
    const jobs = await t.ingestQueue.getJobs(['waiting']);
    const grouped = jobs.filter((j) =>
      (j.data.events as { event_id: string }[]).some((e) => e.event_id === otherTenant.event_id),
    );
    expect(grouped).toHaveLength(1);
    expect((grouped[0].data.events as { event_id: string; tenant_id: string }[]).map((e) => e.event_id).sort()).toEqual(
      [otherTenant.event_id, fresh.event_id, repeat.event_id].map(String).sort(),
    );
  });
});
