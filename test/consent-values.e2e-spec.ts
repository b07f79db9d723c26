import { randomUUID } from 'node:crypto';
import { BATCH, makeEvent } from './support/events';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

describe('consent flags that are not booleans, and consent on events that are refused', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  const withConsent = (session: string, analytics: unknown) =>
    makeEvent({ session_id: session, user_id: `u_${session}`, context: { consent: { analytics } } });
  const noConsent = (session: string) => makeEvent({ session_id: session, user_id: `u_${session}`, context: {} });

  it.each([
    ['"false"', 'false'],
    ['0', 0],
    ['null', null],
  ])('rejects analytics: %s (the envelope says boolean) and records no withdrawal', async (_l, value) => {
    const session = randomUUID();
    const res = await t.post(BATCH, { events: [withConsent(session, value), noConsent(session)] });
    expect(res.status).toBe(202);
    expect(res.json.results.map((r: any) => r.status)).toEqual(['rejected', 'accepted']);
    expect(res.json.results[0].errors).toEqual([
      expect.objectContaining({ pointer: '/context/consent/analytics', keyword: 'type' }),
    ]);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'session_id = $1', [session])).toBe(1);
  });

  it('an invalid event that withdraws consent is rejected (not dropped), stores nothing and withdraws nothing', async () => {
    const session = randomUUID();
    const invalid = { ...withConsent(session, false), source: 42 };
    const res = await t.post(BATCH, { events: [invalid, noConsent(session)] });
    expect(res.json.results.map((r: any) => r.status)).toEqual(['rejected', 'accepted']);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'session_id = $1', [session])).toBe(1);
  });
});

describe('consent on an event that quarantine mode would keep apart', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
    await t.db.query(`UPDATE analytics_tenants SET validation_mode = 'quarantine' WHERE id = $1`, [t.tenant.id]);
  });
  afterAll(async () => {
    await t.close();
  });

  const quarantinedOnly = (session: string, analytics: boolean) =>
    makeEvent({
      session_id: session,
      user_id: `u_${session}`,
      attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': 'slow' }, // fails the content schema only
      context: { consent: { analytics } },
    });
  const quarantineRows = async (session: string) =>
    Number(
      (await t.db.query(`SELECT count(*) AS n FROM analytics_quarantine WHERE event->>'session_id' = $1`, [session]))
        .rows[0].n,
    );

  it('a content failure with consent given is quarantined; with consent withdrawn it is dropped and kept nowhere', async () => {
    const kept = randomUUID();
    const withdrawn = randomUUID();
    const res = await t.post(BATCH, {
      events: [
        quarantinedOnly(kept, true),
        quarantinedOnly(withdrawn, false),
        makeEvent({ session_id: withdrawn, user_id: `u_${withdrawn}`, context: {} }), // a later event of the subject, no flag
      ],
    });
    expect(res.status).toBe(202);
    expect(res.json.results.map((r: any) => r.status)).toEqual(['quarantined', 'dropped', 'dropped']);
    expect(res.json).toMatchObject({ accepted: 0, dropped: 2, quarantined: 1, rejected: 0 });
    await drained(t.ingestQueue);
    expect(await quarantineRows(kept)).toBe(1);
    expect(await quarantineRows(withdrawn)).toBe(0);
    expect(await countRows(t.db, 'session_id = ANY($1::uuid[])', [[kept, withdrawn]])).toBe(0);
  });
});
