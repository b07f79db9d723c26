import { randomUUID } from 'node:crypto';
import { Job } from 'bullmq';
import { StoredEvent } from '../src/modules/contracts/stored-event';
import { EVENTS, OTHER_TENANT, TENANT, makeEvent, waitFor } from './support/events';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const UUID_MESSAGE = (pointer: string) =>
  `${pointer} must be a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000), without a urn:uuid: prefix or braces`;

/** An event as the api queues it (validated, normalized), built by hand: what a crafted job holds. */
function stored(e: Record<string, unknown>, over: Partial<Record<keyof StoredEvent, unknown>> = {}): StoredEvent {
  return {
    event_id: e.event_id,
    event_name: e.event_name,
    occurred_at: e.occurred_at,
    received_at: new Date().toISOString(),
    tenant_id: e.tenant_id,
    site_id: e.site_id,
    session_id: e.session_id,
    user_id: e.user_id,
    source: e.source,
    attributes: e.attributes,
    context: e.context,
    payload: null,
    ...over,
  } as StoredEvent;
}

describe("one tenant's event Postgres would refuse never holds back another tenant's", () => {
  let t: TestEnv;
  beforeAll(async () => {
    // Flushes of single events spaced 1 s apart (the most the setting allows): after the first request's own flush, every request
    // sent meanwhile waits for the next one, so the two tenants' events share a job whatever the
    // machine's speed (the default 5 ms spacing leaves that to timing).
    t = await createTestEnv({ ANALYTICS_JOB_ATTEMPTS: '3', ANALYTICS_BATCH_LINGER_MS: '1000' });
  });
  afterAll(async () => {
    await t.close();
  });

  const rowsPerEvent = async (ids: string[]) => {
    const { rows } = await t.db.query<{ event_id: string; n: number }>(
      'SELECT event_id::text, count(*)::int AS n FROM analytics_events_raw WHERE event_id = ANY($1::uuid[]) GROUP BY 1',
      [ids],
    );
    return Object.fromEntries(rows.map((r) => [r.event_id, r.n]));
  };
  const once = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, 1]));
  const failedJobs = async (name: string) => (await t.ingestQueue.getJobs(['failed'])).filter((j) => j.name === name);

  it("refuses tenant A's non-canonical identifiers at ingestion, 400 with the field, while B's single events sent alongside are stored once", async () => {
    const id = () => randomUUID();
    const poisoned: [string, Record<string, unknown>][] = [
      ['/event_id', { event_id: `urn:uuid:${id()}` }],
      ['/event_id', { event_id: `{${id()}}` }],
      ['/event_id', { event_id: id().replace(/-/g, '') }],
      ['/session_id', { session_id: `urn:uuid:${id()}` }],
      ['/site_id', { site_id: `URN:UUID:${id()}` }],
      ['/session_id', { session_id: `{${id()}}` }],
    ];
    const aValid = Array.from({ length: 10 }, () => makeEvent({ tenant_id: TENANT }));
    // upper case: a canonical UUID, stored lower-cased, so one event with its lower-case twin
    const aUpper = makeEvent({ tenant_id: TENANT, event_id: id().toUpperCase() });
    const b = Array.from({ length: 40 }, () => makeEvent({ tenant_id: OTHER_TENANT }));

    // Interleaved and concurrent: single events of both tenants are grouped into the same jobs.
    const sends: Promise<{ kind: string; i: number; status: number; json: any; type: string | null }>[] = [];
    const send = (kind: string, i: number, body: unknown, key: string) =>
      sends.push(
        t
          .post(EVENTS, body, key)
          .then((r) => ({ kind, i, status: r.status, json: r.json, type: r.headers.get('content-type') })),
      );
    b.forEach((e, i) => {
      send('b', i, e, t.other.ingest);
      if (i < poisoned.length)
        send('poisoned', i, makeEvent({ tenant_id: TENANT, ...poisoned[i][1] }), t.tenant.ingest);
      if (i < aValid.length) send('a', i, aValid[i], t.tenant.ingest);
    });
    send('upper', 0, aUpper, t.tenant.ingest);
    const answers = await Promise.all(sends);

    for (const a of answers.filter((x) => x.kind === 'poisoned')) {
      const pointer = poisoned[a.i][0];
      expect(a.status).toBe(400);
      expect(a.type).toMatch(/^application\/problem\+json/);
      expect(a.json).toMatchObject({ status: 400, title: 'Invalid event', detail: UUID_MESSAGE(pointer) });
      expect(a.json.errors).toEqual([
        { pointer, keyword: 'format', message: UUID_MESSAGE(pointer), schema: 'envelope' },
      ]);
      expect(a.json.result.status).toBe('rejected');
    }
    for (const a of answers.filter((x) => x.kind !== 'poisoned')) {
      expect([a.kind, a.status, a.json.status]).toEqual([a.kind, 202, 'accepted']);
    }
    const upperAnswer = answers.find((x) => x.kind === 'upper')!;
    expect(upperAnswer.json.event_id).toBe(String(aUpper.event_id).toLowerCase());
    // its lower-case twin is the same event: a duplicate, in Redis and in the ledger
    const twin = await t.post(EVENTS, { ...aUpper, event_id: String(aUpper.event_id).toLowerCase() });
    expect(twin.json.status).toBe('duplicate');
    await drained(t.ingestQueue);

    const bIds = b.map((e) => String(e.event_id));
    const aIds = [...aValid.map((e) => String(e.event_id)), String(aUpper.event_id).toLowerCase()];
    expect(await rowsPerEvent(bIds)).toEqual(once(bIds));
    expect(await rowsPerEvent(aIds)).toEqual(once(aIds));
    expect(await countRows(t.db, 'tenant_id = $1', [TENANT])).toBe(11);
    expect(await countRows(t.db, 'tenant_id = $1', [OTHER_TENANT])).toBe(40);
    // the single events of the two tenants did travel together, and no job failed
    const jobs = await t.ingestQueue.getJobs(['completed']);
    const tenantsOf = (j: Job) => new Set((j.data.events as StoredEvent[]).map((e) => e.tenant_id));
    expect(jobs.some((j) => tenantsOf(j).size === 2)).toBe(true);
    expect(await t.ingestQueue.getJobCounts('failed')).toEqual({ failed: 0 });
  });

  it("stores every other event of a crafted job holding A's values Postgres refuses, and sets each of A's aside as a failed job with Postgres's reason", async () => {
    const b = Array.from({ length: 13 }, () => stored(makeEvent({ tenant_id: OTHER_TENANT })));
    const aGood = Array.from({ length: 3 }, () => stored(makeEvent({ tenant_id: TENANT })));
    const urn = `urn:uuid:${randomUUID()}`;
    const badId = stored(makeEvent({ tenant_id: TENANT }), { event_id: urn });
    const offset = new Date(Date.now() - 3_600_000).toISOString().replace('Z', '+23:59');
    const badTime = stored(makeEvent({ tenant_id: TENANT }), { occurred_at: offset });
    const badText = stored(makeEvent({ tenant_id: TENANT }), { user_id: 'u\u0000x' });
    const events = [...b.slice(0, 4), badId, ...aGood, ...b.slice(4, 9), badTime, badText, ...b.slice(9)];

    // As an attacker who got past validation would: straight into the ingest queue.
    const crafted = await t.ingestQueue.add('persist-events', { events });
    await drained(t.ingestQueue);
    const done = (await t.ingestQueue.getJob(crafted.id!))!;
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(1);
    expect(done.returnvalue).toEqual({ inserted: 16, duplicates: 0, refused: 3 });

    const goodIds = [...b, ...aGood].map((e) => e.event_id);
    expect(await rowsPerEvent(goodIds)).toEqual(once(goodIds));
    expect(await rowsPerEvent([badTime.event_id, badText.event_id])).toEqual({});
    const ledger = await t.db.query(
      'SELECT count(*)::int AS n FROM analytics_dedupe_ledger WHERE event_id = ANY($1::uuid[])',
      [[...goodIds, badTime.event_id, badText.event_id]],
    );
    expect(ledger.rows[0].n).toBe(16);

    const reasons: Record<string, string> = {
      [urn]: `invalid input syntax for type uuid: "${urn}" (SQLSTATE 22P02)`,
      [badTime.event_id]: `time zone displacement out of range: "${offset}" (SQLSTATE 22009)`,
      [badText.event_id]: 'unsupported Unicode escape sequence (SQLSTATE 22P05)',
    };
    await waitFor('the three refusals to fail', async () => (await failedJobs('refused-event')).length === 3);
    const refused = await failedJobs('refused-event');
    expect(
      Object.fromEntries(
        refused.map((j) => [
          j.data.event.event_id,
          { tenant: j.data.event.tenant_id, error: j.data.error, job: j.data.job, attempts: j.attemptsMade },
        ]),
      ),
    ).toEqual(
      Object.fromEntries(
        Object.entries(reasons).map(([id, message]) => [
          id,
          { tenant: TENANT, error: { pointer: '', keyword: 'storage', message }, job: crafted.id, attempts: 1 },
        ]),
      ),
    );
    for (const j of refused) {
      const e = j.data.event as StoredEvent;
      expect(j.failedReason).toBe(
        `Event ${e.event_id} of tenant ${TENANT} (persist-events job ${crafted.id}) was not stored; Postgres refused it: ${reasons[e.event_id]}`,
      );
      // the refused event travels whole, for the operator to see
      expect(e).toEqual(events.find((x) => x.event_id === e.event_id));
    }
    expect(await failedJobs('persist-events')).toEqual([]);

    // The same job retried (from Bull Board, or after a crash before it completed): nothing is stored
    // twice, and its refusals are the same failed jobs, not new ones.
    await done.retry('completed');
    await waitFor('the retried job to complete again', async () => {
      const j = (await t.ingestQueue.getJob(crafted.id!))!;
      return (await j.getState()) === 'completed' && j.returnvalue?.duplicates === 16;
    });
    await drained(t.ingestQueue);
    expect((await t.ingestQueue.getJob(crafted.id!))!.returnvalue).toEqual({ inserted: 0, duplicates: 16, refused: 3 });
    expect(await rowsPerEvent(goodIds)).toEqual(once(goodIds));
    expect((await failedJobs('refused-event')).map((j) => j.id).sort()).toEqual(refused.map((j) => j.id).sort());

    // A second job with the same events (a duplicate job): nothing more stored either.
    const copy = await t.ingestQueue.add('persist-events', { events });
    await drained(t.ingestQueue);
    expect((await t.ingestQueue.getJob(copy.id!))!.returnvalue).toEqual({ inserted: 0, duplicates: 16, refused: 3 });
    expect(await rowsPerEvent(goodIds)).toEqual(once(goodIds));
    expect(await countRows(t.db, 'tenant_id = $1', [OTHER_TENANT])).toBe(40 + 13);
    await waitFor("the copy's refusals to fail too", async () => (await failedJobs('refused-event')).length === 6);
    expect(await failedJobs('persist-events')).toEqual([]);
  });
});
