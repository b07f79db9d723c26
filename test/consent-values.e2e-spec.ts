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
