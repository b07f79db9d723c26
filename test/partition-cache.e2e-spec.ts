import { EVENTS, makeEvent } from './support/events';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const DAY = 86_400_000;

describe("a partition dropped behind the worker's back (its cache still lists it)", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_ENABLE_ROLLUPS: 'false' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores a later event of that day exactly once, in a recreated partition', async () => {
    const midnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - 3 * DAY;
    const day = new Date(midnight).toISOString().slice(0, 10);
    const part = `analytics_events_raw_p${day.replaceAll('-', '')}`;
    const at = new Date(midnight + 12 * 3_600_000).toISOString();
    const tagged = (tag: string) =>
      makeEvent({ occurred_at: at, attributes: { 'voice.turn_id': tag, 'voice.first_response_ms': 1 } });
    expect((await t.post(EVENTS, tagged('before'))).json.status).toBe('accepted');
    await drained(t.ingestQueue);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM ${part}`)).rows[0].n).toBe(1);

    // An operator drops the day (not the retention job, which would tell the worker).
    await t.db.query(`DROP TABLE ${part}`);
    const after = tagged('after');
    expect((await t.post(EVENTS, after)).json.status).toBe('accepted');
    await drained(t.ingestQueue);
    const rows = await t.db.query(
      `SELECT tableoid::regclass::text AS part, attributes->>'voice.turn_id' AS tag FROM analytics_events_raw WHERE occurred_at = $1`,
      [at],
    );
    expect(rows.rows).toEqual([{ part, tag: 'after' }]);
    const ledger = await t.db.query('SELECT count(*)::int AS n FROM analytics_dedupe_ledger WHERE event_id = $1', [
      after.event_id,
    ]);
    expect(ledger.rows[0].n).toBe(1);
    // the job that met the missing partition was retried, not given up
    expect(await t.ingestQueue.getJobCounts('failed')).toEqual({ failed: 0 });
    const jobs = await t.ingestQueue.getJobs(['completed']);
    const carrying = jobs.filter((j) => JSON.stringify(j.data).includes(after.event_id as string));
    expect(carrying.map((j) => j.attemptsMade)).toEqual([2]);

    // a resend of the same event is a duplicate, and stores nothing more
    expect((await t.post(EVENTS, after)).json.status).toBe('duplicate');
    await drained(t.ingestQueue);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM ${part}`)).rows[0].n).toBe(1);
  });
});
